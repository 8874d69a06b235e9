package smtpprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// imapConfig is where the probe is looked for over IMAP. Password never
// appears in an error, a log line, the state or a journal entry.
type imapConfig struct {
	Address  string
	Username string
	Password string
	Mailbox  string
}

// where names the place searched, for messages (no password).
func (c imapConfig) where() string {
	return fmt.Sprintf("mailbox %q of %s at IMAP %s", c.Mailbox, c.Username, c.Address)
}

// imapSession is a minimal IMAP4rev1 client (RFC 3501): tagged commands,
// untagged lines collected, no literals sent. It is all the probe needs:
// LOGIN, SELECT, UID SEARCH, UID STORE, UID EXPUNGE (RFC 4315), LOGOUT.
type imapSession struct {
	conn     net.Conn
	text     *textproto.Conn
	tag      int
	caps     map[string]bool
	deadline time.Time
	stop     func() bool
	addr     string
}

// imapQuote quotes s as an IMAP quoted string. Validation refuses what a
// quoted string cannot carry (CR, LF, NUL, non-ASCII).
func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// imapQuotable reports whether s fits in a quoted string.
func imapQuotable(s string) bool {
	for _, r := range s {
		if r == 0 || r == '\r' || r == '\n' || r > 0x7e {
			return false
		}
	}
	return true
}

// loopback reports whether host is a loopback address or localhost.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// dialIMAP connects, reads the greeting, upgrades with STARTTLS when the
// server offers it, and logs in. LOGIN sends the password in the clear
// unless the session is under TLS, so it is refused on a plain
// connection to anything but a loopback address.
func dialIMAP(ctx context.Context, c imapConfig, deadline time.Time) (*imapSession, error) {
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		return nil, fmt.Errorf("IMAP address %q: %w", c.Address, err)
	}
	d := net.Dialer{Deadline: earliest(deadline, time.Now().Add(stepTimeout))}
	conn, err := d.DialContext(ctx, "tcp", c.Address)
	if err != nil {
		return nil, err
	}
	s := &imapSession{conn: conn, text: textproto.NewConn(conn), deadline: deadline, addr: c.Address}
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*imapSession, error) {
		s.close()
		return nil, err
	}
	if err := s.setDeadline(); err != nil {
		return fail(err)
	}
	greeting, err := s.text.ReadLine()
	if err != nil {
		return fail(fmt.Errorf("IMAP greeting from %s: %w", c.Address, err))
	}
	if !strings.HasPrefix(greeting, "* OK") {
		return fail(fmt.Errorf("IMAP greeting from %s: %q", c.Address, greeting))
	}
	if err := s.capabilities(); err != nil {
		return fail(err)
	}
	secure := false
	if s.caps["STARTTLS"] {
		if _, err := s.cmd("STARTTLS"); err != nil {
			return fail(err)
		}
		tc := tls.Client(s.conn, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("IMAP TLS with %s: %w", c.Address, err))
		}
		s.conn, s.text, secure = tc, textproto.NewConn(tc), true
		// RFC 3501 §6.2.1: capabilities learnt before TLS are void.
		if err := s.capabilities(); err != nil {
			return fail(err)
		}
	}
	if !secure && !loopback(host) {
		return fail(fmt.Errorf("IMAP server %s offers no STARTTLS: mailplan sends a password in the clear only to a loopback address", c.Address))
	}
	if s.caps["LOGINDISABLED"] {
		return fail(fmt.Errorf("IMAP server %s refuses LOGIN (LOGINDISABLED)", c.Address))
	}
	// The command is built here, not logged or put in errors: cmd names
	// only its first word.
	if _, err := s.cmd("LOGIN %s %s", imapQuote(c.Username), imapQuote(c.Password)); err != nil {
		return fail(fmt.Errorf("IMAP login as %s at %s: %w", c.Username, c.Address, err))
	}
	// The server may announce other capabilities once logged in.
	if err := s.capabilities(); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *imapSession) close() {
	s.stop()
	s.conn.Close()
}

func (s *imapSession) setDeadline() error {
	return s.conn.SetDeadline(earliest(s.deadline, time.Now().Add(stepTimeout)))
}

// capabilities asks for CAPABILITY.
func (s *imapSession) capabilities() error {
	lines, err := s.cmd("CAPABILITY")
	if err != nil {
		return err
	}
	s.caps = map[string]bool{}
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "* CAPABILITY "); ok {
			for _, c := range strings.Fields(rest) {
				s.caps[strings.ToUpper(c)] = true
			}
		}
	}
	return nil
}

// imapError is a tagged NO or BAD reply.
type imapError struct {
	Command string // the first word(s) of the command, never its arguments
	Reply   string
}

func (e *imapError) Error() string { return fmt.Sprintf("%s: %s", e.Command, e.Reply) }

// cmd sends a command and returns the untagged lines before its tagged
// OK. A NO or BAD is an *imapError naming the command by its verb only
// (LOGIN's arguments hold the password).
func (s *imapSession) cmd(format string, args ...any) ([]string, error) {
	s.tag++
	tag := "p" + strconv.Itoa(s.tag)
	if err := s.setDeadline(); err != nil {
		return nil, err
	}
	verb := strings.Fields(format)[0]
	if verb == "UID" {
		verb = strings.Join(strings.Fields(format)[:2], " ")
	}
	if err := s.text.PrintfLine(tag+" "+format, args...); err != nil {
		return nil, fmt.Errorf("IMAP %s to %s: %w", verb, s.addr, err)
	}
	var untagged []string
	for {
		line, err := s.text.ReadLine()
		if err != nil {
			return untagged, fmt.Errorf("IMAP %s at %s: %w", verb, s.addr, err)
		}
		rest, ok := strings.CutPrefix(line, tag+" ")
		if !ok {
			untagged = append(untagged, line)
			continue
		}
		if !strings.HasPrefix(rest, "OK") {
			return untagged, &imapError{Command: verb, Reply: rest}
		}
		return untagged, nil
	}
}

// selectBox selects the mailbox (read-write).
func (s *imapSession) selectBox(mailbox string) error {
	_, err := s.cmd("SELECT %s", imapQuote(mailbox))
	return err
}

// search returns the UIDs of the messages carrying token.
func (s *imapSession) search(token string) ([]uint32, error) {
	lines, err := s.cmd("UID SEARCH HEADER %s %s", imapQuote(ProbeHeader), imapQuote(token))
	if err != nil {
		return nil, err
	}
	var uids []uint32
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, "* SEARCH")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("IMAP UID SEARCH at %s: bad UID %q", s.addr, f)
			}
			uids = append(uids, uint32(n))
		}
	}
	return uids, nil
}

// expunge removes exactly the messages uids: flagged \Deleted, then UID
// EXPUNGE (RFC 4315, UIDPLUS), which leaves every other message alone.
// Without UIDPLUS a plain EXPUNGE would also remove whatever the owner
// had flagged \Deleted, so it is not used.
func (s *imapSession) expunge(uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	if !s.caps["UIDPLUS"] {
		return errors.New("the IMAP server lacks UIDPLUS (RFC 4315): mailplan cannot remove only the probe")
	}
	set := make([]string, len(uids))
	for i, u := range uids {
		set[i] = strconv.FormatUint(uint64(u), 10)
	}
	list := strings.Join(set, ",")
	if _, err := s.cmd(`UID STORE %s +FLAGS.SILENT (\Deleted)`, list); err != nil {
		return err
	}
	_, err := s.cmd("UID EXPUNGE %s", list)
	return err
}

// logout ends the session; errors do not matter any more.
func (s *imapSession) logout() {
	_, _ = s.cmd("LOGOUT")
	s.close()
}

// imapLook logs in, selects the mailbox and searches for token: one
// look, a session of its own, so that a new message is seen whatever
// the server caches. With remove, the messages found are expunged.
func imapLook(ctx context.Context, c imapConfig, token string, deadline time.Time, remove bool) ([]uint32, error) {
	s, err := dialIMAP(ctx, c, deadline)
	if err != nil {
		return nil, err
	}
	defer s.logout()
	if err := s.selectBox(c.Mailbox); err != nil {
		return nil, fmt.Errorf("IMAP %s: %w", c.where(), err)
	}
	uids, err := s.search(token)
	if err != nil {
		return nil, fmt.Errorf("IMAP %s: %w", c.where(), err)
	}
	if remove {
		if err := s.expunge(uids); err != nil {
			return uids, fmt.Errorf("IMAP %s: remove the probe (UID %v): %w", c.where(), uids, err)
		}
	}
	return uids, nil
}
