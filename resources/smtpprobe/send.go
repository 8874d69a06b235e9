package smtpprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// target is one address the probe may be sent to.
type target struct {
	addr string // host:port
	name string // the server's name, for TLS and messages
	via  string // how it was found, for messages
}

// sent is what a session that decided got.
type sent struct {
	// Reply is the reply that decided: RCPT TO's for expect = "reject"
	// and deliver = false, the end of DATA's otherwise.
	Reply Reply
	// Via names the server that gave it.
	Via string
}

// permanentError is a failure that retrying will not change: a 5xx
// reply where a 2xx was expected (or the reverse), a domain without
// mail.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// targets lists where the probe goes: the configured server, or the
// recipient domain's MX hosts by preference, each of their addresses in
// turn.
func (t *Probe) targets(ctx context.Context, c probeConfig) ([]target, error) {
	if c.Server != nil {
		host, port := splitServer(*c.Server, c.Port)
		return []target{{addr: net.JoinHostPort(host, port), name: host, via: "server " + net.JoinHostPort(host, port)}}, nil
	}
	l, err := t.lookup(c)
	if err != nil {
		return nil, &permanentError{err}
	}
	mxs, err := l.MX(ctx, c.domain)
	if err != nil {
		if errors.Is(err, dnsclient.ErrNullMX) || errors.Is(err, dnsclient.ErrNoSuchName) {
			return nil, &permanentError{err}
		}
		return nil, err
	}
	var out []target
	var errs []error
	for _, mx := range mxs {
		addrs, err := l.Addrs(ctx, mx.Host)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range addrs {
			addr := net.JoinHostPort(a, strconv.Itoa(c.Port))
			out = append(out, target{addr: addr, name: strings.TrimSuffix(mx.Host, "."),
				via: fmt.Sprintf("MX %d %s (%s, from %s)", mx.Preference, mx.Host, addr, l)})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no MX host of %s has an address: %w", c.domain, errors.Join(errs...))
	}
	return out, nil
}

// lookup is the DNS server the MX hosts come from.
func (t *Probe) lookup(c probeConfig) (*dnsclient.Lookup, error) {
	if c.dnsServer != nil {
		cl, err := t.dns.Get(*c.dnsServer)
		if err != nil {
			return nil, err
		}
		return cl.Lookup(), nil
	}
	return dnsclient.NewLookup(*c.Resolver, 0)
}

// splitServer splits "host:port", "[v6]:port" or "host" (port def).
func splitServer(s string, def int) (host, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	return strings.Trim(s, "[]"), strconv.Itoa(def)
}

// send runs one round: the targets in order until one decides. A nil
// error is the outcome the configuration expects; a *permanentError one
// that retrying will not change; any other error is transient (nothing
// listening, a 4xx reply): the caller tries again until the timeout.
func (t *Probe) send(ctx context.Context, c probeConfig, token string, deadline time.Time, log hclog.Logger) (sent, error) {
	targets, err := t.targets(ctx, c)
	if err != nil {
		return sent{}, err
	}
	var errs []error
	for _, tg := range targets {
		s, err := t.session(ctx, c, tg, token, deadline, log)
		if err == nil {
			return s, nil
		}
		var pe *permanentError
		if errors.As(err, &pe) {
			return sent{}, err
		}
		log.Debug("probe not decided", "via", tg.via, "error", err)
		errs = append(errs, fmt.Errorf("%s: %w", tg.via, err))
		if ctx.Err() != nil {
			return sent{}, ctx.Err()
		}
	}
	return sent{}, errors.Join(errs...)
}

// session is one SMTP session with tg.
func (t *Probe) session(ctx context.Context, c probeConfig, tg target, token string, deadline time.Time, log hclog.Logger) (sent, error) {
	// A failed connection or greeting (even 554: the server refuses this
	// client) leaves the next MX host to try, as RFC 5321 §5.1 has it.
	s, err := dialSMTP(ctx, tg.addr, deadline)
	if err != nil {
		return sent{}, err
	}
	defer s.quit()
	if err := s.hello(c.Helo); err != nil {
		return sent{}, err
	}
	if c.TLS {
		if err := s.startTLS(tg.name, c.Helo); err != nil {
			return sent{}, err
		}
	}
	mail := fmt.Sprintf("MAIL FROM:<%s>", c.sender)
	r, err := s.cmd("%s", mail)
	if err != nil {
		return sent{}, err
	}
	if r.Code != 250 {
		return sent{}, classify(&replyError{Step: mail, Server: tg.via, Reply: r})
	}
	rcpt := fmt.Sprintf("RCPT TO:<%s>", c.Recipient)
	r, err = s.cmd("%s", rcpt)
	if err != nil {
		return sent{}, err
	}
	log.Debug("RCPT TO", "via", tg.via, "reply", r.String())
	switch {
	case r.temporary():
		return sent{}, &replyError{Step: rcpt, Server: tg.via, Reply: r}
	case c.Expect == ExpectReject && r.Code >= 500:
		_, _ = s.cmd("RSET")
		return sent{Reply: r, Via: tg.via}, nil
	case c.Expect == ExpectReject:
		_, _ = s.cmd("RSET")
		return sent{}, &permanentError{fmt.Errorf("%s accepted %s (%s), but expect = \"reject\"; nothing was sent (no DATA)", tg.via, rcpt, r)}
	case r.Code >= 500 || r.Code/100 != 2:
		return sent{}, &permanentError{fmt.Errorf("%s refused %s: %s", tg.via, rcpt, r)}
	case !c.Deliver:
		_, _ = s.cmd("RSET")
		return sent{Reply: r, Via: tg.via}, nil
	}
	msg := probeMessage(token, c.sender, c.Recipient, c.Helo, time.Now())
	r, err = s.data(msg)
	if err != nil {
		var re *replyError
		if errors.As(err, &re) {
			re.Server = tg.via
			return sent{}, classify(re)
		}
		return sent{}, err
	}
	if r.Code != 250 {
		return sent{}, classify(&replyError{Step: "end of DATA", Server: tg.via, Reply: r})
	}
	return sent{Reply: r, Via: tg.via}, nil
}

// classify makes a 5xx reply permanent.
func classify(e *replyError) error {
	if e.Reply.Code >= 500 {
		return &permanentError{e}
	}
	return e
}
