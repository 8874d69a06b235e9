package dnsclient

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// AskOptions say how Ask asks its question.
type AskOptions struct {
	// Recursion sets RD, as a stub resolver does when it asks a
	// recursive resolver; clear, the server answers from its own data
	// (an authoritative server) or its cache.
	Recursion bool
	// TCP asks over TCP only; otherwise over UDP, and again over TCP
	// when the answer is truncated (RFC 7766 §5).
	TCP bool
	// Timeout bounds each exchange; DefaultTimeout when zero.
	Timeout time.Duration
}

// Answer is what one server answered to one question.
type Answer struct {
	// Rcode is the response code's name: "NOERROR", "NXDOMAIN",
	// "SERVFAIL", "REFUSED", ...
	Rcode string `json:"rcode"`
	// Authoritative is the AA flag.
	Authoritative bool `json:"aa,omitempty"`
	// Records is the data of the records of the type asked for, at the
	// name or at the end of the CNAME chain the answer holds for it, in
	// the form CheckRdata gives, sorted and without duplicates.
	Records []string `json:"records,omitempty"`
	// TTL is the time in seconds before the server's answer can change:
	// the lowest TTL of the records and of the CNAMEs leading to them
	// (a cache counts them down), or for an answer without records
	// (NXDOMAIN, NODATA) the negative-caching TTL of the SOA in the
	// authority section (RFC 2308 §5: the lower of the SOA's TTL and its
	// minimum field); 0 when the answer has neither.
	TTL uint32 `json:"ttl"`
}

// Answered reports whether the answer says what the name holds: NOERROR
// (records or none) or NXDOMAIN. SERVFAIL, REFUSED and the others say
// nothing about the name.
func (a Answer) Answered() bool { return a.Rcode == "NOERROR" || a.Rcode == "NXDOMAIN" }

// Ask asks the server at addr (host:port) for the records of name and
// type rtype, once, as opts say, and returns its answer whatever the
// response code. The error is for no answer at all (a timeout, nothing
// listening, a malformed response): an *Error of kind Timeout,
// Unreachable or Other naming the server.
//
// Unlike Client.Read it does not require an authoritative answer: it is
// how a resolver (or an authoritative server) answers the world, TTLs
// counted down by its cache.
func Ask(ctx context.Context, addr, name, rtype string, opts AskOptions) (Answer, error) {
	name = Fqdn(name)
	rtype = strings.ToUpper(rtype)
	code, ok := TypeCode(rtype)
	if !ok {
		return Answer{}, fmt.Errorf("unknown record type %q", rtype)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	m := new(dns.Msg)
	m.SetQuestion(name, code)
	m.RecursionDesired = opts.Recursion
	// 1232 octets: the EDNS buffer size of DNS Flag Day 2020, which no
	// path fragments.
	m.SetEdns0(1232, false)
	network := "udp"
	if opts.TCP {
		network = "tcp"
	}
	r, err := lookupExchange(ctx, m, network, addr, timeout)
	if err == nil && r.Truncated && network == "udp" {
		r, err = lookupExchange(ctx, m, "tcp", addr, timeout)
	}
	if err != nil {
		k := transportKind(err)
		e := &Error{Op: "query", Server: addr, Name: name, Type: rtype, Kind: k, Err: err}
		switch k {
		case Timeout:
			e.Hint = fmt.Sprintf("Nothing answered at %s within %s", addr, timeout)
		case Unreachable:
			e.Hint = fmt.Sprintf("Nothing listens at %s", addr)
		}
		return Answer{}, e
	}
	return answerOf(r, name, code)
}

func lookupExchange(ctx context.Context, m *dns.Msg, network, addr string, timeout time.Duration) (*dns.Msg, error) {
	cl := &dns.Client{Net: network, Timeout: timeout}
	r, _, err := cl.ExchangeContext(ctx, m, addr)
	countTrip(ctx)
	return r, err
}

// answerOf reads the records of type code for name out of r, following
// the CNAME chain the answer section holds (RFC 1034 §3.6.2; a resolver
// puts the chain and the records at its end into one answer).
func answerOf(r *dns.Msg, name string, code uint16) (Answer, error) {
	a := Answer{Rcode: rcodeName(r.Rcode), Authoritative: r.Authoritative}
	target := name
	var ttl uint32
	haveTTL := false
	lower := func(t uint32) {
		if !haveTTL || t < ttl {
			ttl, haveTTL = t, true
		}
	}
	if code != dns.TypeCNAME {
		// At most 16 links: a longer chain (or a loop) is cut there, and
		// its end has no records.
		for range 16 {
			next := ""
			for _, rr := range r.Answer {
				if c, ok := rr.(*dns.CNAME); ok && equalNames(c.Hdr.Name, target) {
					next = Fqdn(c.Target)
					lower(c.Hdr.Ttl)
					break
				}
			}
			if next == "" {
				break
			}
			target = next
		}
	}
	for _, rr := range r.Answer {
		h := rr.Header()
		if h.Rrtype != code || !equalNames(h.Name, target) {
			continue
		}
		rd, err := checkForm(rr)
		if err != nil {
			return a, err
		}
		a.Records = append(a.Records, rd)
		lower(h.Ttl)
	}
	a.Records = sortRecords(a.Records)
	if len(a.Records) == 0 {
		haveTTL, ttl = false, 0
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				lower(min(soa.Hdr.Ttl, soa.Minttl))
			}
		}
	}
	a.TTL = ttl
	return a, nil
}

// CheckRdata parses rdata of type rtype as ParseRdata does and returns it
// in the form Ask gives answers in, for comparing the two: ParseRdata's
// canonical form, except that a TXT record's strings are joined into one
// (SPF and DKIM readers join them, RFC 7208 §3.3, RFC 6376 §3.6.2.2), so
// that `"v=spf1 " "mx -all"` and `"v=spf1 mx -all"` compare equal, and a
// long DKIM key compares equal however a zone split it into strings of at
// most 255 octets.
func CheckRdata(rtype, rdata string) (string, error) {
	c, err := ParseRdata(rtype, rdata)
	if err != nil || strings.ToUpper(rtype) != "TXT" {
		return c, err
	}
	rr, err := dns.NewRR(". 0 IN TXT " + c)
	if err != nil {
		return "", fmt.Errorf("TXT record %q: %w", rdata, parseErr(err))
	}
	return checkForm(rr)
}

// checkForm is canonical, with a TXT record's strings joined.
func checkForm(rr dns.RR) (string, error) {
	if _, ok := rr.(*dns.TXT); !ok {
		return canonical(rr)
	}
	// Through the wire format first, so that escapes read the same
	// whichever way the record came (zone-file text or a response).
	c, err := canonical(rr)
	if err != nil {
		return "", err
	}
	back, err := dns.NewRR(". 0 IN TXT " + c)
	if err != nil {
		return "", fmt.Errorf("TXT record %q: %w", c, err)
	}
	t := back.(*dns.TXT)
	j := &dns.TXT{Hdr: t.Hdr, Txt: []string{strings.Join(t.Txt, "")}}
	return rdataOf(j), nil
}
