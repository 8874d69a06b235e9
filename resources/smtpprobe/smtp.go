package smtpprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// Reply is an SMTP server's reply: its code and text (the lines of a
// multi-line reply joined by " / ").
type Reply struct {
	Code int
	Text string
}

func (r Reply) String() string { return fmt.Sprintf("%d %s", r.Code, r.Text) }

// temporary reports a 4xx reply: the server has not decided yet.
func (r Reply) temporary() bool { return r.Code >= 400 && r.Code < 500 }

// replyError is a step of the SMTP session that got a reply it did not
// want.
type replyError struct {
	Step   string // "greeting", "EHLO", "MAIL FROM:<…>", "RCPT TO:<…>", "DATA", …
	Server string // host:port
	Reply  Reply
}

func (e *replyError) Error() string {
	return fmt.Sprintf("%s at %s: %s", e.Step, e.Server, e.Reply)
}

// stepTimeout bounds each command of a session, as RFC 5321 §4.5.3.2
// bounds a client's waits (but shorter: a probe is not a queue).
const stepTimeout = 60 * time.Second

// smtpSession is one SMTP connection.
type smtpSession struct {
	addr     string
	conn     net.Conn
	text     *textproto.Conn
	ext      map[string]string // EHLO keywords, upper case
	deadline time.Time
	stop     func() bool // ends the watch on the context
}

// dialSMTP connects to addr and reads the 220 greeting. The session
// ends at deadline at the latest, and when ctx is done.
func dialSMTP(ctx context.Context, addr string, deadline time.Time) (*smtpSession, error) {
	d := net.Dialer{Deadline: earliest(deadline, time.Now().Add(stepTimeout))}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &smtpSession{addr: addr, conn: conn, text: textproto.NewConn(conn), deadline: deadline}
	// Cancelling ctx (Ctrl-C) cuts any wait short.
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	r, err := s.read()
	if err != nil {
		s.close()
		return nil, err
	}
	if r.Code != 220 {
		s.close()
		return nil, &replyError{Step: "greeting", Server: addr, Reply: r}
	}
	return s, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (s *smtpSession) close() {
	s.stop()
	s.conn.Close()
}

// read reads one reply.
func (s *smtpSession) read() (Reply, error) {
	if err := s.conn.SetDeadline(earliest(s.deadline, time.Now().Add(stepTimeout))); err != nil {
		return Reply{}, err
	}
	code, msg, err := s.text.ReadResponse(0)
	var te *textproto.Error
	if errors.As(err, &te) {
		// ReadResponse reports a reply outside the expected class as an
		// error; with 0 there is none but a malformed line.
		return Reply{Code: te.Code, Text: te.Msg}, nil
	}
	if err != nil {
		return Reply{}, fmt.Errorf("read reply from %s: %w", s.addr, err)
	}
	return Reply{Code: code, Text: strings.ReplaceAll(msg, "\n", " / ")}, nil
}

// cmd sends a command line and reads the reply.
func (s *smtpSession) cmd(format string, args ...any) (Reply, error) {
	if err := s.conn.SetDeadline(earliest(s.deadline, time.Now().Add(stepTimeout))); err != nil {
		return Reply{}, err
	}
	if err := s.text.PrintfLine(format, args...); err != nil {
		return Reply{}, fmt.Errorf("send to %s: %w", s.addr, err)
	}
	return s.read()
}

// hello says EHLO (HELO when EHLO is refused) and records the
// extensions.
func (s *smtpSession) hello(name string) error {
	r, err := s.cmd("EHLO %s", name)
	if err != nil {
		return err
	}
	if r.Code == 250 {
		s.ext = map[string]string{}
		lines := strings.Split(r.Text, " / ")
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, " ")
			s.ext[strings.ToUpper(k)] = v
		}
		return nil
	}
	if r.temporary() {
		return &replyError{Step: "EHLO", Server: s.addr, Reply: r}
	}
	if r, err = s.cmd("HELO %s", name); err != nil {
		return err
	}
	if r.Code != 250 {
		return &replyError{Step: "HELO", Server: s.addr, Reply: r}
	}
	s.ext = map[string]string{}
	return nil
}

// startTLS upgrades the session (RFC 3207), verifying the server's
// certificate against serverName, and says EHLO again.
func (s *smtpSession) startTLS(serverName, helo string) error {
	if _, ok := s.ext["STARTTLS"]; !ok {
		return fmt.Errorf("%s does not offer STARTTLS, and tls = true", s.addr)
	}
	r, err := s.cmd("STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return &replyError{Step: "STARTTLS", Server: s.addr, Reply: r}
	}
	tc := tls.Client(s.conn, &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS with %s (as %s): %w", s.addr, serverName, err)
	}
	s.conn, s.text = tc, textproto.NewConn(tc)
	return s.hello(helo)
}

// quit ends the session politely; errors do not matter any more.
func (s *smtpSession) quit() {
	_, _ = s.cmd("QUIT")
	s.close()
}

// data sends msg (lines ending in CRLF) after DATA, dot-stuffed by
// textproto's DotWriter, and returns the final reply.
func (s *smtpSession) data(msg []byte) (Reply, error) {
	r, err := s.cmd("DATA")
	if err != nil {
		return r, err
	}
	if r.Code != 354 {
		return r, &replyError{Step: "DATA", Server: s.addr, Reply: r}
	}
	if err := s.conn.SetDeadline(earliest(s.deadline, time.Now().Add(stepTimeout))); err != nil {
		return Reply{}, err
	}
	w := s.text.DotWriter()
	// DotWriter turns "\n" into CRLF itself.
	if _, err := w.Write(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))); err != nil {
		return Reply{}, fmt.Errorf("send to %s: %w", s.addr, err)
	}
	if err := w.Close(); err != nil {
		return Reply{}, fmt.Errorf("send to %s: %w", s.addr, err)
	}
	return s.read()
}

// probeMessage is the probe: headers naming the token, and a short
// body saying what it is.
func probeMessage(token, sender, recipient, helo string, now time.Time) []byte {
	from := sender
	if from == "" {
		from = "MAILER-DAEMON@" + helo
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: mailplan probe <%s>\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", recipient)
	fmt.Fprintf(&b, "Subject: mailplan delivery probe %s\r\n", token)
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", token, helo)
	fmt.Fprintf(&b, "%s: %s\r\n", ProbeHeader, token)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "mailplan sent this message to check that mail for %s\r\n", recipient)
	b.WriteString("arrives where it should. It is removed once found, unless the\r\n")
	b.WriteString("plan keeps it (smtp_probe keep = true).\r\n")
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "Probe token: %s\r\n", token)
	return b.Bytes()
}
