package testbed

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// Doveadm runs doveadm -c ConfigPath ARGS against this instance and
// returns its standard output; the test fails when doveadm does (or
// reports an error).
func (d *DovecotServer) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.TryDoveadm(args...)
	if err != nil {
		t.Fatalf("dovecot: %v", err)
	}
	return out
}

// TryDoveadm is Doveadm returning the error.
func (d *DovecotServer) TryDoveadm(args ...string) (string, error) {
	full := append([]string{"-c", d.ConfigPath}, args...)
	out, err := runDoveadm(d.doveadm, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, full...)
	if f, ferr := os.OpenFile(d.cmdLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); ferr == nil {
		fmt.Fprintf(f, "$ doveadm %q\n%s", full, out)
		if err != nil {
			fmt.Fprintf(f, "%v\n", err)
		}
		f.Close()
	}
	return out, err
}

// Status returns what IMAP clients see of user's mailbox (a name as
// Dovecot shows it: "INBOX", "Archive.2024.Q1", "Café"): doveadm
// mailbox status. Dovecot creates the mailbox when it does not exist.
func (d *DovecotServer) Status(t testing.TB, user, mailbox string) (messages int, uidvalidity, uidnext uint32) {
	t.Helper()
	rows := parseTab(d.Doveadm(t, "-f", "tab", "mailbox", "status", "-u", user, "messages uidvalidity uidnext", mailbox))
	if len(rows) != 1 {
		t.Fatalf("dovecot: status of %s %q: %d rows", user, mailbox, len(rows))
	}
	n, err1 := strconv.Atoi(rows[0]["messages"])
	v, err2 := strconv.ParseUint(rows[0]["uidvalidity"], 10, 32)
	x, err3 := strconv.ParseUint(rows[0]["uidnext"], 10, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("dovecot: status of %s %q: %v", user, mailbox, err)
	}
	return n, uint32(v), uint32(x)
}

// IMAPMessage is one message as IMAP clients see it.
type IMAPMessage struct {
	// UID is the message's IMAP UID.
	UID uint32
	// Flags are its flags and keywords, sorted, space-separated, without
	// \Recent (which depends on the session): `$Forwarded \Seen`.
	Flags string
	// GUID is Dovecot's GUID: for Maildir, the file's base name (before
	// ":2,"), unless Dovecot recorded another one.
	GUID string
}

// UIDs returns the messages of user's mailbox, in UID order (doveadm
// fetch 'uid flags guid'); two mailboxes with the same UIDVALIDITY and
// UIDs give equal slices. It does not move new/ messages to cur/.
func (d *DovecotServer) UIDs(t testing.TB, user, mailbox string) []IMAPMessage {
	t.Helper()
	rows := parseTab(d.Doveadm(t, "-f", "tab", "fetch", "-u", user, "uid flags guid", "mailbox", mailbox, "ALL"))
	out := make([]IMAPMessage, 0, len(rows))
	for _, r := range rows {
		uid, err := strconv.ParseUint(r["uid"], 10, 32)
		if err != nil {
			t.Fatalf("dovecot: fetch %s %q: uid %q", user, mailbox, r["uid"])
		}
		out = append(out, IMAPMessage{UID: uint32(uid), Flags: normFlags(strings.Fields(r["flags"])), GUID: r["guid"]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// Mailboxes returns user's mailboxes, sorted, as Dovecot names them
// (doveadm mailbox list): "INBOX", "Archive", "Archive.2024", "Café", …
// A parent without a directory of its own (Archive for
// .Archive.2024) is listed too.
func (d *DovecotServer) Mailboxes(t testing.TB, user string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(d.Doveadm(t, "mailbox", "list", "-u", user), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// normFlags sorts flags and drops \Recent.
func normFlags(flags []string) string {
	var out []string
	for _, f := range flags {
		if !strings.EqualFold(f, `\Recent`) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// parseTab parses doveadm -f tab output: a header line of field names,
// then a line of tab-separated values per row.
func parseTab(out string) []map[string]string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 {
		return nil
	}
	head := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[1:] {
		vals := strings.Split(l, "\t")
		r := map[string]string{}
		for i, h := range head {
			if i < len(vals) {
				r[h] = vals[i]
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// IMAPMailbox is what an IMAP session saw of one mailbox.
type IMAPMailbox struct {
	// Mailboxes are every mailbox LIST "" "*" returned, decoded from
	// modified UTF-7, sorted.
	Mailboxes []string
	// Exists, UIDValidity and UIDNext are what SELECT returned.
	Exists      int
	UIDValidity uint32
	UIDNext     uint32
	// Messages are the mailbox's messages (UID FETCH 1:* (FLAGS
	// X-GUID)), in UID order.
	Messages []IMAPMessage
}

// IMAPSelect logs in as user over IMAP on the loopback port, as a mail
// client would (LOGIN, LIST, SELECT mailbox, UID FETCH, LOGOUT), and
// returns what it saw. mailbox is a name as Dovecot shows it ("Café");
// it is sent in modified UTF-7. SELECT is a real client's: Dovecot then
// moves new/ messages to cur/.
func (d *DovecotServer) IMAPSelect(t testing.TB, user, mailbox string) IMAPMailbox {
	t.Helper()
	mb, err := d.imapSelect(user, mailbox)
	if err != nil {
		t.Fatalf("dovecot: IMAP as %s, %q: %v", user, mailbox, err)
	}
	return mb
}

// IMAPSelectAt is IMAPSelect against any IMAP server at addr
// ("host:port", no TLS), logging in as user with password: what
// mailplan-testbed imap and tests use for a Dovecot they did not start.
func IMAPSelectAt(addr, user, password, mailbox string) (IMAPMailbox, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return IMAPMailbox{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return IMAPMailbox{}, fmt.Errorf("port %q: %w", port, err)
	}
	d := &DovecotServer{Addr: host, Port: p, Password: password}
	return d.imapSelect(user, mailbox)
}

// imapSession is a tagged-command IMAP client, enough for the tests.
type imapSession struct {
	c   *textproto.Conn
	tag int
}

// cmd sends a command and returns the untagged lines before its tagged
// OK; a NO or BAD is an error. Literals are not expected.
func (s *imapSession) cmd(format string, args ...any) ([]string, error) {
	s.tag++
	tag := fmt.Sprintf("a%d", s.tag)
	if err := s.c.PrintfLine(tag+" "+format, args...); err != nil {
		return nil, err
	}
	var untagged []string
	for {
		line, err := s.c.ReadLine()
		if err != nil {
			return untagged, err
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			if !strings.HasPrefix(rest, "OK") {
				return untagged, fmt.Errorf("%s: %s", strings.SplitN(fmt.Sprintf(format, args...), " ", 2)[0], rest)
			}
			return untagged, nil
		}
		untagged = append(untagged, line)
	}
}

var (
	imapListRE   = regexp.MustCompile(`^\* LIST \([^)]*\) (?:"[^"]*"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))$`)
	imapNumRE    = regexp.MustCompile(`^\* (\d+) EXISTS$`)
	imapCodeRE   = regexp.MustCompile(`\[(UIDVALIDITY|UIDNEXT) (\d+)\]`)
	imapFetchRE  = regexp.MustCompile(`^\* \d+ FETCH \((.*)\)$`)
	imapUIDRE    = regexp.MustCompile(`\bUID (\d+)`)
	imapFlagsRE  = regexp.MustCompile(`\bFLAGS \(([^)]*)\)`)
	imapXGUIDRE  = regexp.MustCompile(`\bX-GUID "?([^" )]+)"?`)
	imapQuoteEsc = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
)

func (d *DovecotServer) imapSelect(user, mailbox string) (IMAPMailbox, error) {
	var mb IMAPMailbox
	conn, err := net.DialTimeout("tcp", d.IMAPAddr(), 5*time.Second)
	if err != nil {
		return mb, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	s := &imapSession{c: textproto.NewConn(conn)}
	greeting, err := s.c.ReadLine()
	if err != nil || !strings.HasPrefix(greeting, "* OK") {
		return mb, fmt.Errorf("greeting %q, %v", greeting, err)
	}
	if _, err := s.cmd(`LOGIN "%s" "%s"`, imapQuoteEsc.Replace(user), imapQuoteEsc.Replace(d.Password)); err != nil {
		return mb, err
	}
	lines, err := s.cmd(`LIST "" "*"`)
	if err != nil {
		return mb, err
	}
	for _, l := range lines {
		m := imapListRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name := m[2]
		if name == "" {
			name = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[1])
		}
		mb.Mailboxes = append(mb.Mailboxes, decodeMUTF7(name))
	}
	sort.Strings(mb.Mailboxes)
	lines, err = s.cmd(`SELECT "%s"`, imapQuoteEsc.Replace(EncodeMUTF7(mailbox)))
	if err != nil {
		return mb, err
	}
	for _, l := range lines {
		if m := imapNumRE.FindStringSubmatch(l); m != nil {
			mb.Exists, _ = strconv.Atoi(m[1])
		}
		if m := imapCodeRE.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseUint(m[2], 10, 32)
			if m[1] == "UIDVALIDITY" {
				mb.UIDValidity = uint32(v)
			} else {
				mb.UIDNext = uint32(v)
			}
		}
	}
	if mb.Exists > 0 {
		lines, err = s.cmd(`UID FETCH 1:* (FLAGS X-GUID)`)
		if err != nil {
			return mb, err
		}
		for _, l := range lines {
			m := imapFetchRE.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			var msg IMAPMessage
			if u := imapUIDRE.FindStringSubmatch(m[1]); u != nil {
				v, _ := strconv.ParseUint(u[1], 10, 32)
				msg.UID = uint32(v)
			}
			if f := imapFlagsRE.FindStringSubmatch(m[1]); f != nil {
				msg.Flags = normFlags(strings.Fields(f[1]))
			}
			if g := imapXGUIDRE.FindStringSubmatch(m[1]); g != nil {
				msg.GUID = g[1]
			}
			mb.Messages = append(mb.Messages, msg)
		}
		sort.Slice(mb.Messages, func(i, j int) bool { return mb.Messages[i].UID < mb.Messages[j].UID })
	}
	_, _ = s.cmd("LOGOUT")
	return mb, nil
}

// mutf7Encoding is modified UTF-7's base64: "," for "/".
var mutf7Encoding = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")

// EncodeMUTF7 encodes a mailbox name in IMAP's modified UTF-7 (RFC 3501
// §5.1.3), as Maildir++ folder names are: "Café" is "Caf&AOk-".
func EncodeMUTF7(s string) string {
	var b strings.Builder
	var pending []rune
	flush := func() {
		if len(pending) == 0 {
			return
		}
		u := utf16.Encode(pending)
		raw := make([]byte, 0, 2*len(u))
		for _, c := range u {
			raw = append(raw, byte(c>>8), byte(c))
		}
		b.WriteByte('&')
		b.WriteString(strings.TrimRight(mutf7Encoding.EncodeToString(raw), "="))
		b.WriteByte('-')
		pending = pending[:0]
	}
	for _, r := range s {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			pending = append(pending, r)
		}
	}
	flush()
	return b.String()
}

// decodeMUTF7 decodes a modified UTF-7 name; a malformed one is
// returned as it is.
func decodeMUTF7(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			b.WriteByte(s[i])
			continue
		}
		j := strings.IndexByte(s[i:], '-')
		if j < 0 {
			return s
		}
		enc := s[i+1 : i+j]
		i += j
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7Encoding.DecodeString(enc + strings.Repeat("=", (4-len(enc)%4)%4))
		if err != nil || len(raw)%2 != 0 {
			return s
		}
		u := make([]uint16, len(raw)/2)
		for k := range u {
			u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		b.WriteString(string(utf16.Decode(u)))
	}
	return b.String()
}
