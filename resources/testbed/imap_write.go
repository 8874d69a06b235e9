package testbed

import (
	"fmt"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// IMAPClient is a logged-in IMAP session that changes mailboxes as a
// mail client does: flags, moves, deletions. Each method returns once
// the server answered its command with a tagged OK, which Dovecot sends
// after it has written the change to the Maildir (renamed or unlinked
// the message files, updated dovecot-uidlist). Not safe for concurrent
// use.
type IMAPClient struct {
	conn net.Conn
	s    *imapSession
}

// IMAPLogin connects to the IMAP server at addr ("host:port", no TLS)
// and logs in as user with password. Close logs out.
func IMAPLogin(addr, user, password string) (*IMAPClient, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	c := &IMAPClient{conn: conn, s: &imapSession{c: textproto.NewConn(conn)}}
	greeting, err := c.s.c.ReadLine()
	if err != nil || !strings.HasPrefix(greeting, "* OK") {
		conn.Close()
		return nil, fmt.Errorf("IMAP %s: greeting %q, %v", addr, greeting, err)
	}
	if _, err := c.s.cmd(`LOGIN "%s" "%s"`, imapQuoteEsc.Replace(user), imapQuoteEsc.Replace(password)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("IMAP %s as %s: %w", addr, user, err)
	}
	return c, nil
}

// Close logs out and closes the connection.
func (c *IMAPClient) Close() error {
	_, err := c.s.cmd("LOGOUT")
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// Select opens mailbox (a name as Dovecot shows it, sent in modified
// UTF-7) read-write; the other methods act on it.
func (c *IMAPClient) Select(mailbox string) error {
	_, err := c.s.cmd(`SELECT "%s"`, imapQuoteEsc.Replace(EncodeMUTF7(mailbox)))
	return err
}

// Create creates mailbox; one that exists already is no error.
func (c *IMAPClient) Create(mailbox string) error {
	_, err := c.s.cmd(`CREATE "%s"`, imapQuoteEsc.Replace(EncodeMUTF7(mailbox)))
	if err != nil && strings.Contains(err.Error(), "[ALREADYEXISTS]") {
		return nil
	}
	return err
}

// AddFlags adds flags (`\Seen`, `\Flagged`, a keyword) to the messages
// of the selected mailbox with these UIDs (UID STORE +FLAGS.SILENT).
func (c *IMAPClient) AddFlags(uids []uint32, flags ...string) error {
	if len(uids) == 0 || len(flags) == 0 {
		return nil
	}
	_, err := c.s.cmd(`UID STORE %s +FLAGS.SILENT (%s)`, uidSet(uids), strings.Join(flags, " "))
	return err
}

// Delete deletes the messages of the selected mailbox with these UIDs,
// as a client's "delete now" does: STORE \Deleted, then UID EXPUNGE
// (RFC 4315) of just these. Each UID must be expunged, else an error.
func (c *IMAPClient) Delete(uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	if err := c.AddFlags(uids, `\Deleted`); err != nil {
		return err
	}
	lines, err := c.s.cmd(`UID EXPUNGE %s`, uidSet(uids))
	if err != nil {
		return err
	}
	if n := countExpunged(lines); n != len(uids) {
		return fmt.Errorf("UID EXPUNGE %s: %d messages expunged, want %d", uidSet(uids), n, len(uids))
	}
	return nil
}

// Move moves the messages of the selected mailbox with these UIDs to
// mailbox (RFC 6851 UID MOVE) and returns their UIDs there, from the
// COPYUID response code, in the order of uids.
func (c *IMAPClient) Move(uids []uint32, mailbox string) ([]uint32, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	lines, err := c.s.cmd(`UID MOVE %s "%s"`, uidSet(uids), imapQuoteEsc.Replace(EncodeMUTF7(mailbox)))
	if err != nil {
		return nil, err
	}
	if n := countExpunged(lines); n != len(uids) {
		return nil, fmt.Errorf("UID MOVE %s: %d messages expunged from the source, want %d", uidSet(uids), n, len(uids))
	}
	for _, l := range lines {
		m := imapCopyUIDRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		src, err1 := parseUIDSet(m[1])
		dst, err2 := parseUIDSet(m[2])
		if err1 != nil || err2 != nil || len(src) != len(dst) {
			return nil, fmt.Errorf("UID MOVE: bad COPYUID in %q", l)
		}
		at := map[uint32]uint32{}
		for i := range src {
			at[src[i]] = dst[i]
		}
		out := make([]uint32, len(uids))
		for i, u := range uids {
			if out[i] = at[u]; out[i] == 0 {
				return nil, fmt.Errorf("UID MOVE: COPYUID %q does not name UID %d", l, u)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("UID MOVE %s: no COPYUID in the answer %q", uidSet(uids), lines)
}

var (
	imapExpungeRE = regexp.MustCompile(`^\* \d+ EXPUNGE$`)
	imapCopyUIDRE = regexp.MustCompile(`\[COPYUID \d+ ([\d:,]+) ([\d:,]+)\]`)
)

func countExpunged(lines []string) int {
	n := 0
	for _, l := range lines {
		if imapExpungeRE.MatchString(l) {
			n++
		}
	}
	return n
}

// uidSet is uids as an IMAP sequence set: "3,7,9".
func uidSet(uids []uint32) string {
	s := make([]string, len(uids))
	for i, u := range uids {
		s[i] = strconv.FormatUint(uint64(u), 10)
	}
	return strings.Join(s, ",")
}

// parseUIDSet expands an IMAP UID set without "*" ("3:5,9"), each
// range in ascending order (RFC 3501: 5:3 is 3:5).
func parseUIDSet(set string) ([]uint32, error) {
	var out []uint32
	for _, part := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 32); err != nil {
				return nil, err
			}
		}
		a, b = min(a, b), max(a, b)
		for u := a; u <= b; u++ {
			out = append(out, uint32(u))
		}
	}
	return out, nil
}
