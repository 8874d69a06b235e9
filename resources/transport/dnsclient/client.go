package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/miekg/dns"

	"github.com/mailplan/mailplan/engine/resource"
)

// DefaultTimeout bounds each exchange with a server.
const DefaultTimeout = 5 * time.Second

// fudge is the TSIG time window offered to the server (RFC 8945 §5.2.3
// recommends 300 seconds).
const fudge = 300

// Options tune the clients of a pool. The zero value is the default.
type Options struct {
	// Timeout bounds each exchange; DefaultTimeout when zero.
	Timeout time.Duration
	// Now is the clock TSIG signatures are dated by; time.Now when nil.
	// Tests set it to provoke BADTIME.
	Now func() time.Time
}

// Pool holds one Client per dns_server block of a run. It is safe for
// concurrent use.
type Pool struct {
	log  hclog.Logger
	opts Options

	mu      sync.Mutex
	clients map[resource.DNSServer]*Client
}

// NewPool returns an empty pool. A nil logger discards.
func NewPool(logger hclog.Logger, opts Options) *Pool {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Pool{log: logger, opts: opts, clients: map[resource.DNSServer]*Client{}}
}

// Get returns the client of the server block s. Blocks that differ in any
// field get separate clients.
func (p *Pool) Get(s resource.DNSServer) (*Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[s]; ok {
		return c, nil
	}
	c, err := New(s, p.log, p.opts)
	if err != nil {
		return nil, err
	}
	p.clients[s] = c
	return c, nil
}

// Client reaches one dns_server. It is safe for concurrent use.
type Client struct {
	name    string // `dns_server "primary" (192.0.2.1:53)`
	addr    string
	key     *tsigKey // nil: updates are unsigned
	timeout time.Duration
	now     func() time.Time
	log     hclog.Logger

	trips atomic.Int64

	// keyMu guards keyCheck, the outcome of VerifyKey.
	keyMu    sync.Mutex
	keyCheck keyCheck
}

// New returns a client of the server block s.
func New(s resource.DNSServer, logger hclog.Logger, opts Options) (*Client, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	name := fmt.Sprintf("dns_server %q (%s)", s.Name, s.Address)
	if s.Address == "" {
		return nil, fmt.Errorf("%s: no address", name)
	}
	addr := s.Address
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "53")
	}
	key, err := newTSIGKey(s.TSIGKeyName, s.TSIGAlgorithm, s.TSIGSecret)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &Client{name: name, addr: addr, key: key, timeout: opts.Timeout, now: opts.Now, log: logger.Named("dns").With("server", s.Name)}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// String names the server block; it never shows the secret.
func (c *Client) String() string { return c.name }

// RoundTrips is how many exchanges the client has made so far.
func (c *Client) RoundTrips() int64 { return c.trips.Load() }

// Timeout is how long one exchange (a query, or an UPDATE) may last.
func (c *Client) Timeout() time.Duration { return c.timeout }

// RRset is the records of one name and type. An RRset without records
// does not exist (NXDOMAIN or NODATA).
type RRset struct {
	// Name is fully qualified, in lower case.
	Name string `json:"name"`
	// Type is the mnemonic, e.g. "MX".
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	// Records is the canonical rdata (see ParseRdata), sorted.
	Records []string `json:"records,omitempty"`
	// CNAME is set by Read when the name holds a CNAME (and so, by RFC
	// 1034 §3.6.2, no other data); the same answer tells it.
	CNAME bool `json:"-"`
}

// Exists reports whether the RRset has records.
func (s RRset) Exists() bool { return len(s.Records) > 0 }

// Equal reports whether a and b have the same records and, when they
// exist, the same TTL.
func (s RRset) Equal(o RRset) bool {
	if s.Exists() != o.Exists() {
		return false
	}
	if !s.Exists() {
		return true
	}
	if s.TTL != o.TTL || len(s.Records) != len(o.Records) {
		return false
	}
	for i := range s.Records {
		if s.Records[i] != o.Records[i] {
			return false
		}
	}
	return true
}

func (c *Client) fail(op, zone, name, rtype string, k Kind, rcode string, err error) *Error {
	e := &Error{Op: op, Server: c.name, Zone: zone, Name: name, Type: rtype, Kind: k, Rcode: rcode, Err: err}
	key := "the key"
	if c.key != nil {
		key = "the key " + c.key.name
	}
	switch k {
	case Refused:
		e.Hint = fmt.Sprintf("Check that the server's allow-update or update-policy lets %s change %s in zone %s", key, name, zone)
	case NotAuth:
		e.Hint = fmt.Sprintf("The server does not serve zone %s as a primary; give the address of the zone's primary server", zone)
	case NotZone:
		e.Hint = fmt.Sprintf("Check that the zone is %s and the name is inside it", zone)
	case Changed:
		e.Hint = "Someone changed the record since mailplan read it; run plan again to see the change"
	case BadKey:
		e.Hint = fmt.Sprintf("The server does not know %s with that algorithm; check tsig_key_name and tsig_algorithm", key)
	case BadSig:
		e.Hint = fmt.Sprintf("The signature made with %s did not verify; check tsig_secret and tsig_algorithm", key)
	case BadTime:
		e.Hint = fmt.Sprintf("The server refused the time of the signature made with %s: this machine's clock and the server's differ by more than the 300 s TSIG allows; synchronise them (NTP)", key)
	case Timeout:
		e.Hint = fmt.Sprintf("Nothing answered at %s within %s; check the address and that the server runs", c.addr, c.timeout)
	case Unreachable:
		e.Hint = fmt.Sprintf("Nothing listens at %s; check the address and port", c.addr)
	case NotAuthoritative:
		e.Hint = fmt.Sprintf("Give the address of a server that serves zone %s (its primary): mailplan reads records only from an authoritative answer", zone)
	}
	return e
}

// exchange sends m over network ("udp" or "tcp") and returns the answer.
// A transport failure is classified; a response is returned as it is.
func (c *Client) exchange(ctx context.Context, m *dns.Msg, network, op, zone, name, rtype string) (*dns.Msg, error) {
	cl := &dns.Client{Net: network, Timeout: c.timeout}
	if c.key != nil && m.IsTsig() != nil {
		cl.TsigProvider = c.key
	}
	start := time.Now()
	r, _, err := cl.ExchangeContext(ctx, m, c.addr)
	c.trips.Add(1)
	countTrip(ctx)
	c.log.Trace("dns exchange", "op", op, "net", network, "name", name, "type", rtype, "rtt", time.Since(start), "round_trips", c.trips.Load())
	if r != nil {
		// A TSIG error answer (BADKEY, BADSIG) is not signed, so its
		// verification fails: the TSIG error field says why (RFC 8945
		// §5.3.2). Classify by it before looking at err.
		if t := r.IsTsig(); t != nil && t.Error != dns.RcodeSuccess {
			k := Other
			switch t.Error {
			case dns.RcodeBadKey:
				k = BadKey
			case dns.RcodeBadSig:
				k = BadSig
			case dns.RcodeBadTime:
				k = BadTime
			}
			return nil, c.fail(op, zone, name, rtype, k, rcodeName(r.Rcode), nil)
		}
	}
	if err != nil && r != nil && r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError && isTSIGErr(err) {
		// miekg/dns does not verify a NOTAUTH answer's signature at all
		// (ErrAuth), and an error answer may be unsigned: a failure is
		// reported as the server gave it, never taken as success.
		return r, nil
	}
	if err != nil {
		if r != nil && isTSIGErr(err) {
			// The server took our signature but its answer's does not
			// verify with our key: a different secret on its side of the
			// same key name, or an answer rewritten on the way.
			return nil, c.fail(op, zone, name, rtype, BadSig, rcodeName(r.Rcode), fmt.Errorf("the response's TSIG signature did not verify: %w", err))
		}
		return nil, c.fail(op, zone, name, rtype, transportKind(err), "", err)
	}
	return r, nil
}

func isTSIGErr(err error) bool {
	for _, e := range []error{dns.ErrAuth, dns.ErrSig, dns.ErrTime, dns.ErrKeyAlg, dns.ErrSecret, dns.ErrNoSig} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func transportKind(err error) Kind {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.As(err, &ne) && ne.Timeout():
		return Timeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return Unreachable
	}
	return Other
}

// Read returns the RRset of name and type rtype in zone, from an
// authoritative answer of the server. The query has RD clear (the server
// answers from its own data, never recursing) and goes over UDP, again
// over TCP when the answer is truncated (RFC 7766 §5).
func (c *Client) Read(ctx context.Context, zone, name, rtype string) (RRset, error) {
	zone, name = Fqdn(zone), Fqdn(name)
	out := RRset{Name: name, Type: rtype}
	code, ok := TypeCode(rtype)
	if !ok {
		return out, fmt.Errorf("%s: unknown record type %q", c.name, rtype)
	}
	if !InZone(zone, name) {
		return out, c.fail("query", zone, name, rtype, OutsideZone, "", fmt.Errorf("%s is not in zone %s", name, zone))
	}
	r, err := c.query(ctx, zone, name, rtype, code)
	if err != nil {
		return out, err
	}
	for _, rr := range r.Answer {
		h := rr.Header()
		if !equalNames(h.Name, name) {
			continue
		}
		if h.Rrtype == dns.TypeCNAME {
			out.CNAME = true
		}
		if h.Rrtype != code {
			continue
		}
		rd, err := canonical(rr)
		if err != nil {
			return out, c.fail("query", zone, name, rtype, Other, "", err)
		}
		out.Records = append(out.Records, rd)
		// The records of an RRset share one TTL (RFC 2181 §5.2); a
		// server that mixes them is answered with the lowest.
		if len(out.Records) == 1 || h.Ttl < out.TTL {
			out.TTL = h.Ttl
		}
	}
	out.Records = sortRecords(out.Records)
	if !out.Exists() {
		out.TTL = 0
	}
	return out, nil
}

// Types lists the types of the RRsets at name (for the CNAME-and-other-data
// rule). It asks for ANY over TCP, where servers answer it in full (RFC
// 8482 lets them shorten ANY answers over UDP).
func (c *Client) Types(ctx context.Context, zone, name string) ([]string, error) {
	zone, name = Fqdn(zone), Fqdn(name)
	if !InZone(zone, name) {
		return nil, c.fail("query", zone, name, "ANY", OutsideZone, "", fmt.Errorf("%s is not in zone %s", name, zone))
	}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeANY)
	m.RecursionDesired = false
	r, err := c.exchange(ctx, m, "tcp", "query", zone, name, "ANY")
	if err != nil {
		return nil, err
	}
	if err := c.checkAnswer(r, zone, name, "ANY"); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, rr := range r.Answer {
		h := rr.Header()
		if !equalNames(h.Name, name) || h.Rrtype == dns.TypeRRSIG {
			continue
		}
		t := dns.TypeToString[h.Rrtype]
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return sortRecords(out), nil
}

func (c *Client) query(ctx context.Context, zone, name, rtype string, code uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, code)
	m.RecursionDesired = false
	m.SetEdns0(1232, false)
	r, err := c.exchange(ctx, m, "udp", "query", zone, name, rtype)
	if err != nil {
		return nil, err
	}
	if r.Truncated {
		if r, err = c.exchange(ctx, m, "tcp", "query", zone, name, rtype); err != nil {
			return nil, err
		}
	}
	if err := c.checkAnswer(r, zone, name, rtype); err != nil {
		return nil, err
	}
	return r, nil
}

// checkAnswer accepts an authoritative NOERROR (data or NODATA) or
// NXDOMAIN.
func (c *Client) checkAnswer(r *dns.Msg, zone, name, rtype string) error {
	switch r.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	case dns.RcodeRefused, dns.RcodeNotAuth:
		// A server with recursion off refuses names of zones it does not
		// serve.
		return c.fail("query", zone, name, rtype, NotAuthoritative, rcodeName(r.Rcode), nil)
	default:
		return c.fail("query", zone, name, rtype, Other, rcodeName(r.Rcode), nil)
	}
	if !r.Authoritative {
		return c.fail("query", zone, name, rtype, NotAuthoritative, "", errors.New("the answer is not authoritative (AA clear)"))
	}
	return nil
}

func equalNames(a, b string) bool { return dns.CanonicalName(a) == dns.CanonicalName(b) }

// Update replaces the RRset old with want in one RFC 2136 UPDATE message:
// old and want name the same RRset (name and type); an old without records
// means it must not exist, a want without records deletes it. The message
// carries, in this order:
//
//   - the prerequisite that the RRset is exactly old: "RRset exists (value
//     dependent)" with old's records (RFC 2136 §2.4.2, which compares the
//     rdata as a set and ignores TTLs), or "RRset does not exist" (§2.4.3);
//   - "delete an RRset" (§2.5.2) and "add to an RRset" (§2.5.1) for each
//     record of want, at its TTL.
//
// The server applies the whole message or nothing (§3.4, §3.7), so the
// RRset never disappears in between: no NXDOMAIN window. Deleting before
// adding also sets the TTL of every record: adding to an existing RRset
// would leave the server to reconcile TTLs. The message is signed with the
// server's TSIG key (RFC 8945) and sent over TCP, which bounds neither its
// size nor loses it silently.
func (c *Client) Update(ctx context.Context, zone string, old, want RRset) error {
	m, name, rtype, err := c.updateMsg(zone, old, want)
	if err != nil {
		return err
	}
	if c.key != nil {
		m.SetTsig(c.key.name, algorithms[c.key.alg].wire, fudge, c.now().Unix())
	}
	return c.send(ctx, m, Fqdn(zone), name, rtype)
}

// updateMsg builds the unsigned UPDATE message of Update.
func (c *Client) updateMsg(zone string, old, want RRset) (m *dns.Msg, name, rtype string, err error) {
	zone = Fqdn(zone)
	name, rtype = old.Name, old.Type
	if name == "" {
		name, rtype = want.Name, want.Type
	}
	name = Fqdn(name)
	if want.Name != "" && (Fqdn(want.Name) != name || want.Type != rtype) {
		return nil, name, rtype, fmt.Errorf("%s: update of %s %s given records of %s %s", c.name, name, rtype, want.Name, want.Type)
	}
	code, ok := TypeCode(rtype)
	if !ok {
		return nil, name, rtype, fmt.Errorf("%s: unknown record type %q", c.name, rtype)
	}
	if !InZone(zone, name) {
		return nil, name, rtype, c.fail("update", zone, name, rtype, OutsideZone, "", fmt.Errorf("%s is not in zone %s", name, zone))
	}
	old.Name, old.Type, want.Name, want.Type = name, rtype, name, rtype
	m = new(dns.Msg)
	m.SetUpdate(zone)
	if old.Exists() {
		rrs, err := old.rrs()
		if err != nil {
			return nil, name, rtype, err
		}
		m.Used(rrs) // sets class IN and TTL 0, as §2.4.2 requires
	} else {
		m.RRsetNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: code}}})
	}
	m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: code}}})
	if want.Exists() {
		rrs, err := want.rrs()
		if err != nil {
			return nil, name, rtype, err
		}
		m.Insert(rrs)
	}
	return m, name, rtype, nil
}

// send sends an UPDATE message and classifies the response code (RFC 2136
// §2.2).
func (c *Client) send(ctx context.Context, m *dns.Msg, zone, name, rtype string) error {
	r, err := c.exchange(ctx, m, "tcp", "update", zone, name, rtype)
	if err != nil {
		return err
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeRefused:
		return c.fail("update", zone, name, rtype, Refused, "REFUSED", nil)
	case dns.RcodeNotAuth:
		return c.fail("update", zone, name, rtype, NotAuth, "NOTAUTH", nil)
	case dns.RcodeNotZone:
		return c.fail("update", zone, name, rtype, NotZone, "NOTZONE", nil)
	case dns.RcodeNXRrset, dns.RcodeYXRrset:
		return c.fail("update", zone, name, rtype, Changed, rcodeName(r.Rcode), nil)
	}
	return c.fail("update", zone, name, rtype, Other, rcodeName(r.Rcode), nil)
}

type counterKey struct{}

// WithCounter returns a context under which every exchange adds one to
// *n, so that a caller can count the round trips of one operation even
// while others share the client.
func WithCounter(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, counterKey{}, n)
}

func countTrip(ctx context.Context) {
	if n, ok := ctx.Value(counterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}
