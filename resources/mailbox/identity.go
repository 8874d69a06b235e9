package mailbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/mailplan/mailplan/resources/transport"
)

// Message identity (dedupe). A message is known by its base name; but mail
// the new server got by itself — a shadow copy (the old server's Postfix
// sending each message to the new one too), a client that uploaded it —
// has other file names there. With dedupe, a source message whose base
// name is not at the destination is matched, in the same mailbox only,
// with a destination message that is neither the source's (by base name)
// nor mailplan's own copy (the manifest): the same Message-ID header
// (RFC 5322 section 3.6.4), or, for a message without one, the same size
// and the same SHA-256 of the header block. A matched message is already
// there: it is not copied. Each destination message matches at most one
// source message, so that two source messages with one Message-ID (the
// same message filed twice) are both copied when the destination has it
// once.
//
// Message-IDs are compared as they are written, only the surrounding
// white space and folding taken away: the local part of an id is
// case-sensitive (RFC 5322 section 3.6.4 compares ids as strings), and
// rewriting one is what a mail server never does.
//
// Only header blocks are read (up to the first empty line, at most
// maxHeader bytes), and only in mailboxes where both sides have such
// messages: the first copy into an empty destination, and the re-runs of
// a copy nobody else writes to, read none. Identities live in memory only:
// nothing of them reaches the state, a snapshot or the journal (the
// plan's summary says how many matched).

// maxHeader is how much of a message is read to find its header block.
const maxHeader = 64 << 10

// headerChunk is the first read: the header block of most mail fits.
const headerChunk = 16 << 10

// readHeader returns the header block of the message at p (without the
// empty line that ends it); the first maxHeader bytes when it has no end
// there; nil, nil when the file is gone.
func readHeader(ctx context.Context, h transport.Host, p string) ([]byte, error) {
	r, err := h.Open(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s on %s: %w", p, h.Name(), err)
	}
	defer r.Close()
	var buf []byte
	chunk := make([]byte, headerChunk)
	for len(buf) < maxHeader {
		n, err := r.Read(chunk[:min(len(chunk), maxHeader-len(buf))])
		buf = append(buf, chunk[:n]...)
		if end := headerEnd(buf); end >= 0 {
			return buf[:end], nil
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s on %s: %w", p, h.Name(), err)
		}
	}
	return buf, nil
}

// headerEnd is where the header block in b ends (the empty line), or -1.
func headerEnd(b []byte) int {
	if bytes.HasPrefix(b, []byte("\n")) || bytes.HasPrefix(b, []byte("\r\n")) {
		return 0
	}
	i := bytes.Index(b, []byte("\n\n"))
	j := bytes.Index(b, []byte("\n\r\n"))
	switch {
	case i < 0 && j < 0:
		return -1
	case i < 0 || (j >= 0 && j < i):
		return j + 1
	}
	return i + 1
}

// messageID is the Message-ID field of the header block, unfolded and
// trimmed; "" when there is none (or it is empty).
func messageID(header []byte) string {
	if ids := headerValues(header, "Message-ID"); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// identity is what dedupe compares: "id:" and the Message-ID, or, without
// one, "hdr:", the size and the SHA-256 of the header block. It never
// leaves the process.
func identity(header []byte, size int64) string {
	if id := messageID(header); id != "" {
		return "id:" + id
	}
	sum := sha256.Sum256(header)
	return fmt.Sprintf("hdr:%d:%x", size, sum)
}

// dedupeWork is one mailbox's candidates: source messages with no copy at
// the destination, and destination messages that are no source message's
// and not mailplan's.
type dedupeWork struct {
	mb      *mbox
	src     []msgFile
	foreign []msgFile
}

// found is the destination message a source message matched; shadow
// when its header marks it as a shadow copy (shadow.go).
type found struct {
	f      msgFile
	shadow bool
}

// dedupe reads the header blocks of the messages in work and returns, per
// mailbox, the source base names already there under another name, with
// the destination file each matched.
func dedupe(ctx context.Context, src, dst transport.Host, c config, work []dedupeWork) (map[*mbox]map[string]found, error) {
	type job struct {
		h      transport.Host
		p      string
		size   int64
		id     string
		shadow bool
		err    error
	}
	var jobs []*job
	for _, w := range work {
		for _, f := range w.foreign {
			jobs = append(jobs, &job{h: dst, p: join(c.Destination, w.mb.rel, f.sub, f.name), size: f.size, shadow: c.shadow != nil})
		}
		for _, f := range w.src {
			jobs = append(jobs, &job{h: src, p: join(c.Source, w.mb.rel, f.sub, f.name), size: f.size})
		}
	}
	bounded(len(jobs), c.parallelism*2, nil, func(i int) {
		j := jobs[i]
		defer recovered("reading the header of "+j.p, &j.err)
		hook("header " + j.p)
		hdr, err := readHeader(ctx, j.h, j.p)
		if err != nil || hdr == nil {
			j.err = err
			return
		}
		j.id = identity(hdr, j.size)
		j.shadow = j.shadow && c.shadow(hdr)
	})
	out := map[*mbox]map[string]found{}
	k := 0
	for _, w := range work {
		there := map[string][]found{}
		for _, f := range w.foreign {
			j := jobs[k]
			k++
			if j.err != nil {
				return nil, j.err
			}
			if j.id != "" {
				there[j.id] = append(there[j.id], found{f: f, shadow: j.shadow})
			}
		}
		// In base name order, so that the same trees match the same way.
		srcs := make([]*job, len(w.src))
		order := make([]int, len(w.src))
		for i := range w.src {
			srcs[i], order[i] = jobs[k], i
			k++
		}
		sort.Slice(order, func(a, b int) bool { return baseName(w.src[order[a]].name) < baseName(w.src[order[b]].name) })
		for _, i := range order {
			j := srcs[i]
			if j.err != nil {
				return nil, j.err
			}
			if fs := there[j.id]; j.id != "" && len(fs) > 0 {
				if out[w.mb] == nil {
					out[w.mb] = map[string]found{}
				}
				out[w.mb][baseName(w.src[i].name)] = fs[0]
				there[j.id] = fs[1:]
			}
		}
	}
	return out, nil
}
