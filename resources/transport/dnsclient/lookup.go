package dnsclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Lookup resolves the mail route of a domain the way a sending server
// does (RFC 5321 §5.1): its MX records, then the addresses of each
// exchange. It asks one server only: a dns_server (Client.Lookup), whose
// answers must be authoritative and which is asked without recursion, or
// a recursive resolver (NewLookup), asked with RD set. It never uses the
// machine's own resolver. It is safe for concurrent use.
type Lookup struct {
	name      string // for messages: `dns_server "primary" (…)` or `resolver 192.0.2.53:53`
	addr      string
	recursive bool
	timeout   time.Duration
}

// NewLookup returns a Lookup through the recursive resolver at addr
// ("host" or "host:port", port 53 by default). timeout bounds each
// exchange; DefaultTimeout when zero.
func NewLookup(addr string, timeout time.Duration) (*Lookup, error) {
	if addr == "" {
		return nil, errors.New("resolver: no address")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "53")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Lookup{name: "resolver " + addr, addr: addr, recursive: true, timeout: timeout}, nil
}

// Lookup returns a Lookup through the client's server, asked without
// recursion: it must serve the domain and the exchanges' names.
// Queries are not signed.
func (c *Client) Lookup() *Lookup {
	return &Lookup{name: c.name, addr: c.addr, timeout: c.timeout}
}

// String names the server asked.
func (l *Lookup) String() string { return l.name }

// MX is one mail exchange of a domain.
type MX struct {
	Preference uint16
	// Host is fully qualified, in lower case.
	Host string
}

// ErrNullMX is wrapped by MX's error for a domain that publishes the
// null MX ("0 ."): it accepts no mail (RFC 7505).
var ErrNullMX = errors.New("the domain publishes a null MX (RFC 7505): it accepts no mail")

// ErrNoSuchName is wrapped by the errors of a name that does not exist
// (NXDOMAIN).
var ErrNoSuchName = errors.New("no such domain (NXDOMAIN)")

// MX returns the mail exchanges of domain, by preference (lowest first),
// then by name, so that the order is the same on every run; RFC 5321
// §5.1 lets a sender pick among equal preferences at random, mailplan
// picks by name. A domain without MX records has the implicit MX of
// RFC 5321 §5.1: the domain itself, preference 0. A domain that does
// not exist is an error wrapping ErrNoSuchName, a null MX one wrapping
// ErrNullMX.
func (l *Lookup) MX(ctx context.Context, domain string) ([]MX, error) {
	name := Fqdn(domain)
	rrs, err := l.ask(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	var out []MX
	for _, rr := range rrs {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		host := strings.ToLower(dns.Fqdn(mx.Mx))
		if host == "." {
			return nil, fmt.Errorf("%s: MX of %s: %w", l.name, name, ErrNullMX)
		}
		out = append(out, MX{Preference: mx.Preference, Host: host})
	}
	if len(out) == 0 {
		return []MX{{Preference: 0, Host: strings.ToLower(name)}}, nil
	}
	slices.SortFunc(out, func(a, b MX) int {
		return cmp.Or(cmp.Compare(a.Preference, b.Preference), strings.Compare(a.Host, b.Host))
	})
	return slices.CompactFunc(out, func(a, b MX) bool { return a == b }), nil
}

// Addrs returns the IPv4 then the IPv6 addresses of host (A, then AAAA
// records), each sorted. A host with neither is an error.
func (l *Lookup) Addrs(ctx context.Context, host string) ([]string, error) {
	name := Fqdn(host)
	var out []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := l.ask(ctx, name, t)
		if err != nil {
			return nil, err
		}
		var addrs []string
		for _, rr := range rrs {
			switch r := rr.(type) {
			case *dns.A:
				addrs = append(addrs, r.A.String())
			case *dns.AAAA:
				addrs = append(addrs, r.AAAA.String())
			}
		}
		slices.Sort(addrs)
		out = append(out, slices.Compact(addrs)...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %s has no A or AAAA record", l.name, name)
	}
	return out, nil
}

// ask queries name and type t and returns the answer's records of type
// t (a CNAME chain in the answer is followed by taking every record of
// that type it holds). NXDOMAIN is an error wrapping ErrNoSuchName;
// NODATA is no records.
func (l *Lookup) ask(ctx context.Context, name string, t uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, t)
	m.RecursionDesired = l.recursive
	m.SetEdns0(1232, false)
	tname := dns.TypeToString[t]
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: query %s %s: %s", l.name, name, tname, fmt.Sprintf(format, args...))
	}
	r, err := l.exchange(ctx, m, "udp")
	if err == nil && r.Truncated {
		r, err = l.exchange(ctx, m, "tcp")
	}
	if err != nil {
		return nil, fail("%v", err)
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, fmt.Errorf("%s: query %s %s: %w", l.name, name, tname, ErrNoSuchName)
	case dns.RcodeRefused:
		if !l.recursive {
			return nil, fail("REFUSED: the dns_server does not serve this name; give a resolver instead, or a server that serves it")
		}
		return nil, fail("REFUSED: the resolver does not answer this machine")
	default:
		return nil, fail("%s", rcodeName(r.Rcode))
	}
	if !l.recursive && !r.Authoritative {
		return nil, fail("the answer is not authoritative (AA clear): the dns_server does not serve this name; give a resolver instead")
	}
	var out []dns.RR
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out, nil
}

func (l *Lookup) exchange(ctx context.Context, m *dns.Msg, network string) (*dns.Msg, error) {
	cl := &dns.Client{Net: network, Timeout: l.timeout}
	r, _, err := cl.ExchangeContext(ctx, m, l.addr)
	countTrip(ctx)
	if err != nil {
		switch transportKind(err) {
		case Timeout:
			return nil, fmt.Errorf("no answer from %s within %s", l.addr, l.timeout)
		case Unreachable:
			return nil, fmt.Errorf("nothing listens at %s", l.addr)
		}
		return nil, err
	}
	return r, nil
}
