package testbed

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pick returns an index drawn with the given weights.
func pick(rng *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// drawFlags draws a cur/ message's flags: standard letters in ASCII
// order, then keyword letters (a–e, see corpusKeywords).
func drawFlags(rng *rand.Rand, folder string) string {
	var f []byte
	if folder == "Drafts" || rng.IntN(200) == 0 {
		f = append(f, 'D')
	}
	if rng.IntN(20) == 0 {
		f = append(f, 'F')
	}
	if rng.IntN(30) == 0 {
		f = append(f, 'P')
	}
	if rng.IntN(5) == 0 {
		f = append(f, 'R')
	}
	if folder == "Sent" || rng.IntN(100) < 85 {
		f = append(f, 'S')
	}
	if folder == "Trash" || rng.IntN(100) == 0 {
		f = append(f, 'T')
	}
	if rng.IntN(20) == 0 {
		for k := range corpusKeywords {
			if rng.IntN(2) == 0 {
				f = append(f, byte('a'+k))
			}
		}
	}
	return string(f)
}

// corpusSizes draws n message sizes, at most maxSize: ~0.5% empty, ~1%
// 1–5 MiB, with big one per 4,000 (at least one from 50 on) 5 MiB to
// maxSize, the rest 2–50 KiB (95%) or 50 KiB–1 MiB, log-uniform.
func corpusSizes(rng *rand.Rand, n int, maxSize int64, big bool) []int64 {
	sizes := make([]int64, n)
	logUniform := func(lo, hi int64) int64 {
		if hi <= lo {
			return lo
		}
		return int64(float64(lo) * math.Exp(rng.Float64()*math.Log(float64(hi)/float64(lo))))
	}
	i := 0
	if big {
		handful := n / 4000
		if handful == 0 && n >= 50 {
			handful = 1
		}
		for ; i < handful && i < n; i++ {
			sizes[i] = logUniform(5<<20, maxSize)
		}
	}
	for k := 0; k < n/100 && i < n; k, i = k+1, i+1 {
		sizes[i] = logUniform(1<<20, 5<<20)
	}
	zeros := n / 200
	if zeros == 0 && n >= 20 {
		zeros = 1
	}
	for k := 0; k < zeros && i < n; k, i = k+1, i+1 {
		sizes[i] = 0
	}
	for ; i < n; i++ {
		if rng.IntN(100) < 95 {
			sizes[i] = logUniform(2<<10, 50<<10)
		} else {
			sizes[i] = logUniform(50<<10, 1<<20)
		}
	}
	for i := range sizes {
		sizes[i] = min(sizes[i], maxSize)
	}
	rng.Shuffle(n, func(a, b int) { sizes[a], sizes[b] = sizes[b], sizes[a] })
	return sizes
}

// writeMessages writes msgs (in parallel), their content drawn from
// their seeds and pools drawn from seed. A path holding "\x00SUFFIX" is
// completed as PATH + VSIZE + SUFFIX; a path without it gets VSIZE
// appended.
func writeMessages(msgs []corpusMessage, seed int64) error {
	p := newCorpusPools(seed)
	work := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0)*2, 16)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for i := range work {
				m := &msgs[i]
				buf.Reset()
				p.message(&buf, m)
				vsize := int64(buf.Len()) + int64(bytes.Count(buf.Bytes(), []byte{'\n'}))
				path, suffix, _ := strings.Cut(m.path, "\x00")
				path += strconv.FormatInt(vsize, 10) + suffix
				m.path = path
				if err := writeFileSync(path, buf.Bytes(), m.mtime); err != nil {
					select {
					case errc <- fmt.Errorf("corpus: %w", err):
					default:
					}
				}
			}
		}()
	}
	for i := range msgs {
		select {
		case err := <-errc:
			close(work)
			wg.Wait()
			return err
		case work <- i:
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// writeFileSync writes a message file (not synced: a corpus is rebuilt,
// not recovered) and sets its modification time.
func writeFileSync(path string, b []byte, mtime time.Time) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	return os.Chtimes(path, mtime, mtime)
}

// corpusPools hold text lines and base64 lines that messages are cut
// from, so that writing a gigabyte costs copies, not random numbers.
type corpusPools struct {
	text [][]byte // lines of words, each ending in "\n"
	b64  []byte   // 76-character base64 lines, each ending in "\n"
	nb64 int      // lines in b64
}

const b64Line = 77 // 76 characters and "\n"

var corpusWords = strings.Fields(`the meeting invoice project report quarter budget please find attached
regards thanks schedule review draft final version update customer order shipment delivery contract
proposal agenda minutes notes call tomorrow today week month team office server migration mailbox
password account access support ticket issue resolved pending approval signature document spreadsheet
presentation café résumé naïve über straße zürich garçon déjà vu piñata smörgåsbord`)

var corpusNames = []string{"Alice Martin", "Bob Dupont", "Carol Schmidt", "Dave Nguyen", "Erin O'Brien",
	"Frank Müller", "Grace Hopper", "Heidi Jäger", "Ivan Petrov", "Judy Chen", "Mallory Smith", "Zoë Durand"}

var corpusDomains = []string{"example.com", "example.org", "example.net", "mail.example.com", "lists.example.org"}

func newCorpusPools(seed int64) *corpusPools {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x706f6f6c73))
	p := &corpusPools{}
	for i := 0; i < 2048; i++ {
		var line []byte
		for len(line) < 60+rng.IntN(12) {
			if len(line) > 0 {
				line = append(line, ' ')
			}
			line = append(line, corpusWords[rng.IntN(len(corpusWords))]...)
		}
		if rng.IntN(8) == 0 {
			line = append(line, '.')
		}
		p.text = append(p.text, append(line, '\n'))
	}
	raw := make([]byte, 57*16384) // 57 bytes make a 76-character line
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	p.nb64 = len(raw) / 57
	p.b64 = make([]byte, 0, p.nb64*b64Line)
	for i := 0; i < p.nb64; i++ {
		p.b64 = base64.StdEncoding.AppendEncode(p.b64, raw[i*57:(i+1)*57])
		p.b64 = append(p.b64, '\n')
	}
	return p
}

// message writes m's content, exactly m.size bytes, to buf.
func (p *corpusPools) message(buf *bytes.Buffer, m *corpusMessage) {
	if m.size == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(m.seed, 0x6d7367))
	buf.Grow(int(m.size))
	from := corpusNames[rng.IntN(len(corpusNames))]
	fromAddr := strings.ToLower(strings.Fields(from)[0]) + "@" + corpusDomains[rng.IntN(len(corpusDomains))]
	date := m.mtime.Format(time.RFC1123Z)
	subject := corpusWords[rng.IntN(len(corpusWords))] + " " + corpusWords[rng.IntN(len(corpusWords))] + " " + corpusWords[rng.IntN(len(corpusWords))]
	fmt.Fprintf(buf, "Return-Path: <%s>\n", fromAddr)
	fmt.Fprintf(buf, "Delivered-To: %s@example.com\n", m.user)
	relay := corpusDomains[rng.IntN(len(corpusDomains))]
	fmt.Fprintf(buf, "Received: from mail.%s (mail.%s [192.0.2.%d])\n\tby %s (Postfix) with ESMTPS id %X\n\tfor <%s@example.com>; %s\n",
		relay, relay, 1+rng.IntN(254), corpusHost, rng.Uint64()>>24, m.user, date)
	fmt.Fprintf(buf, "Date: %s\nFrom: %s <%s>\nTo: %s@example.com\nSubject: %s\n", date, mimeWord(from), fromAddr, m.user, mimeWord(subject))
	fmt.Fprintf(buf, "Message-ID: <%016x.%d@%s>\nMIME-Version: 1.0\n", rng.Uint64(), m.mtime.Unix(), corpusDomains[rng.IntN(len(corpusDomains))])
	if !m.multi {
		buf.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
		p.fill(buf, rng, m.size)
		return
	}
	boundary := fmt.Sprintf("=_mailplan_%016x", rng.Uint64())
	fmt.Fprintf(buf, "Content-Type: multipart/mixed; boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n\n--%s\n", boundary, boundary)
	buf.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
	textEnd := int64(buf.Len()) + 200 + rng.Int64N(3000)
	p.fill(buf, rng, min(textEnd, m.size))
	file := fmt.Sprintf("%s-%d.pdf", corpusWords[rng.IntN(len(corpusWords))], rng.IntN(1000))
	fmt.Fprintf(buf, "\n--%s\nContent-Type: application/pdf; name=\"%s\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"%s\"\n\n",
		boundary, mimeWord(file), mimeWord(file))
	closing := "\n--" + boundary + "--\n"
	remaining := m.size - int64(buf.Len()) - int64(len(closing))
	if remaining < 0 {
		// Too small for the attachment: cut the message to its size.
		buf.Truncate(int(m.size))
		return
	}
	line := rng.IntN(p.nb64)
	for remaining >= b64Line+4 {
		n := min(int(remaining-4)/b64Line, p.nb64-line)
		buf.Write(p.b64[line*b64Line : (line+n)*b64Line])
		remaining -= int64(n * b64Line)
		line = (line + n) % p.nb64
	}
	last := remaining - remaining%4
	buf.Write(p.b64[line*b64Line : line*b64Line+int(last)])
	buf.WriteString(closing)
	// The epilogue (ignored by MIME readers) takes the bytes left over.
	for i := last; i < remaining; i++ {
		buf.WriteByte('\n')
	}
}

// text2 writes text lines to buf until it holds exactly size bytes
// (cutting the header if it is longer).
func (p *corpusPools) fill(buf *bytes.Buffer, rng *rand.Rand, size int64) {
	if int64(buf.Len()) >= size {
		buf.Truncate(int(size))
		return
	}
	for {
		l := p.text[rng.IntN(len(p.text))]
		if int64(buf.Len()+len(l)) > size-1 {
			break
		}
		buf.Write(l)
	}
	// The last line: ASCII filler, so that no UTF-8 sequence is cut.
	for int64(buf.Len()) < size-1 {
		buf.WriteByte('x')
	}
	buf.WriteByte('\n')
}

// mimeWord encodes s as an RFC 2047 word when it is not ASCII.
func mimeWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
		}
	}
	return s
}
