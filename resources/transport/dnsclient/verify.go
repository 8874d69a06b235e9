package dnsclient

import (
	"context"
	"errors"
	"time"

	"github.com/miekg/dns"
)

// keyCheck is the outcome of a client's one key verification.
type keyCheck struct {
	done bool
	err  error
	// took is how long the check lasted, for the log.
	took time.Duration
}

// VerifyKey proves that the server accepts the client's TSIG key before
// anything depends on it: it sends one signed query that needs no update
// permission (the SOA of zone, RD clear) and requires a NOERROR answer
// that carries a TSIG record whose MAC verifies with the key (RFC 8945
// §5.3). A wrong key name, secret or algorithm, or a clock outside the
// server's fudge window, comes back as a BADKEY, BADSIG or BADTIME *Error
// naming the key and what to fix; an answer that is not signed, or whose
// signature does not verify, is a BADSIG too.
//
// Reads are never signed, so without this a wrong secret shows only at
// the first UPDATE, in the middle of an apply.
//
// The check is made once per client: its outcome is kept and returned to
// every later call whatever the zone (a key is the server's, not a
// zone's), so a plan of many records costs one round trip per dns_server
// block. Concurrent callers wait for the one check in flight. An outcome
// caused by the caller's context ending is not kept. A client without a
// key has nothing to verify and sends nothing.
func (c *Client) VerifyKey(ctx context.Context, zone string) error {
	if c.key == nil {
		return nil
	}
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if c.keyCheck.done {
		return c.keyCheck.err
	}
	start := time.Now()
	err := c.verifyKey(ctx, Fqdn(zone))
	if ctx.Err() != nil && err != nil {
		return err
	}
	c.keyCheck = keyCheck{done: true, err: err, took: time.Since(start)}
	c.log.Debug("tsig key check", "key", c.key.name, "ok", err == nil, "took", c.keyCheck.took)
	return err
}

func (c *Client) verifyKey(ctx context.Context, zone string) error {
	const op = "signed query"
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	m.RecursionDesired = false
	m.SetTsig(c.key.name, algorithms[c.key.alg].wire, fudge, c.now().Unix())
	// exchange turns a TSIG error in the answer (BADKEY, BADSIG, BADTIME)
	// and a MAC that does not verify into their *Error.
	r, err := c.exchange(ctx, m, "udp", op, zone, zone, "SOA")
	if err == nil && r.Truncated {
		r, err = c.exchange(ctx, m, "tcp", op, zone, zone, "SOA")
	}
	if err != nil {
		return err
	}
	if r.IsTsig() == nil {
		// miekg/dns verifies a TSIG record when there is one, but takes
		// an answer without any as it is.
		return c.fail(op, zone, zone, "SOA", BadSig, rcodeName(r.Rcode),
			errors.New("the answer to the signed query carries no TSIG record: the server ignored the key, or something between strips signatures"))
	}
	if r.Rcode != dns.RcodeSuccess {
		// Not a key problem (that would be in the TSIG error field): the
		// server does not serve the zone, for example.
		if r.Rcode == dns.RcodeRefused || r.Rcode == dns.RcodeNotAuth {
			return c.fail(op, zone, zone, "SOA", NotAuthoritative, rcodeName(r.Rcode), nil)
		}
		return c.fail(op, zone, zone, "SOA", Other, rcodeName(r.Rcode), nil)
	}
	return nil
}

// KeyChecked reports whether VerifyKey has run to an outcome that is
// kept, and that outcome.
func (c *Client) KeyChecked() (bool, error) {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	return c.keyCheck.done, c.keyCheck.err
}

// HasKey reports whether the client signs with a TSIG key.
func (c *Client) HasKey() bool { return c.key != nil }

// KeyName is the TSIG key's name, "" without a key.
func (c *Client) KeyName() string {
	if c.key == nil {
		return ""
	}
	return c.key.name
}
