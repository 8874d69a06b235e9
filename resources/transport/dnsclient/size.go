package dnsclient

import (
	"github.com/miekg/dns"
)

// MaxMessage is the largest DNS message: over TCP its length is a 16-bit
// prefix (RFC 1035 §4.2.2), and UPDATE goes over TCP.
const MaxMessage = dns.MaxMsgSize

// UpdateSize is the size in octets of the signed UPDATE message Update
// would send to replace old with want: the prerequisite carries every
// record of old and the update every record of want, so replacing a large
// RRset needs room for both. Names are counted uncompressed, as mailplan
// sends them.
func (c *Client) UpdateSize(zone string, old, want RRset) (int, error) {
	m, _, _, err := c.updateMsg(zone, old, want)
	if err != nil {
		return 0, err
	}
	return m.Len() + c.tsigLen(), nil
}

// AnswerSize is the size in octets of an answer holding the whole RRset
// s: what a read of it needs, and what any resolver asking for it gets.
func AnswerSize(s RRset) (int, error) {
	m := new(dns.Msg)
	m.SetQuestion(Fqdn(s.Name), dns.TypeNone)
	rrs, err := s.rrs()
	if err != nil {
		return 0, err
	}
	m.Answer = rrs
	return m.Len(), nil
}

// tsigLen is the size of the TSIG record the client adds: owner (the key
// name), type, class, TTL and length, then algorithm name, time (6),
// fudge, MAC size, the MAC itself (at most 64 octets, HMAC-SHA512),
// original ID, error and other length (RFC 8945 §4.2).
func (c *Client) tsigLen() int {
	if c.key == nil {
		return 0
	}
	return len(c.key.name) + 1 + 10 + len(algorithms[c.key.alg].wire) + 1 + 6 + 2 + 2 + 64 + 2 + 2 + 2
}
