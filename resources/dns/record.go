package dns

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// Clients gives the client of a dns_server block; *dnsclient.Pool is one.
type Clients interface {
	Get(s resource.DNSServer) (*dnsclient.Client, error)
}

// core is the implementation both types share; form is what they differ
// in.
type core struct {
	clients Clients
	form    form
	// now is the clock of plans and waits; tests inject one.
	now func() time.Time
}

// Record is the `dns_record` resource type.
type Record struct{ core }

// MX is the `mx_record` resource type.
type MX struct{ core }

var (
	_ resource.Type          = (*Record)(nil)
	_ resource.Validator     = (*Record)(nil)
	_ resource.Claimer       = (*Record)(nil)
	_ resource.Fingerprinter = (*Record)(nil)
	_ resource.Type          = (*MX)(nil)
	_ resource.Validator     = (*MX)(nil)
	_ resource.Claimer       = (*MX)(nil)
	_ resource.Fingerprinter = (*MX)(nil)
)

// NewRecord returns the dns_record type, reaching servers through clients.
func NewRecord(clients Clients) *Record {
	return &Record{core{clients: clients, form: records{}, now: time.Now}}
}

// NewMX returns the mx_record type, reaching servers through clients.
func NewMX(clients Clients) *MX {
	return &MX{core{clients: clients, form: exchanges{}, now: time.Now}}
}

// Name implements resource.Type.
func (c *core) Name() string { return c.form.facts().typeName }

// Schema implements resource.Type.
func (c *core) Schema() *resource.Schema { return c.form.facts().schema }

// forms are the forms by type name.
var forms = map[string]form{"dns_record": records{}, "mx_record": exchanges{}}

// Types a dns_record may manage.
var recordTypes = []string{"A", "AAAA", "CNAME", "TXT", "MX", "SRV", "PTR", "CAA", "TLSA"}

// DefaultHold is how long the TTL stays at transition_ttl after a switch.
const DefaultHold = "1h"

var exchangeType = cty.Object(map[string]cty.Type{"preference": cty.Number, "host": cty.String})

func commonAttrs() map[string]*resource.Attribute {
	return map[string]*resource.Attribute{
		"server": {Type: resource.DNSServerType, Kind: resource.DNSServerRef, Required: true,
			Description: "The dns_server block of the zone's primary server, which answers with authority and accepts updates. Changing it (another address, a rotated key) changes how the RRset is reached, not which RRset: no replacement."},
		"zone": {Type: cty.String, Required: true, ForceNew: true, ShowUnchanged: true,
			Description: `The zone, e.g. "example.com." (made fully qualified).`},
		"name": {Type: cty.String, ForceNew: true, ShowUnchanged: true,
			Description: `The owner name: fully qualified ("imap.example.com."), relative to the zone ("imap"), or "@" for the apex; default the apex.`},
		"ttl": {Type: cty.Number, Required: true,
			Description: "The TTL of the RRset, in seconds."},
		"transition_ttl": {Type: cty.Number,
			Description: "When set below ttl, a change of records first lowers the TTL to this, waits the old TTL out, switches, and holds it for transition_hold."},
		"transition_hold": {Type: cty.String, Default: cty.StringVal(DefaultHold),
			Description: `How long the TTL stays at transition_ttl after a switch, e.g. "1h".`},
		"wait_after_change": {Type: cty.Bool, Default: cty.False,
			Description: "Complete only once the TTL in force before the switch has passed, so that dependents start when no cache holds the old records."},
	}
}

var recordSchema = func() *resource.Schema {
	a := commonAttrs()
	a["type"] = &resource.Attribute{Type: cty.String, Required: true, ForceNew: true,
		Description: "The record type: " + strings.Join(recordTypes, ", ") + "."}
	a["records"] = &resource.Attribute{Type: cty.List(cty.String), Required: true,
		Description: `The rdata of each record in zone-file syntax, e.g. "10 mail.example.com." for MX or "\"v=spf1 mx -all\"" for TXT.`}
	return &resource.Schema{Attributes: a}
}()

var mxSchema = func() *resource.Schema {
	a := commonAttrs()
	a["exchanges"] = &resource.Attribute{Type: cty.List(exchangeType), Required: true,
		Description: "The mail exchangers: {preference, host}."}
	return &resource.Schema{Attributes: a}
}()

// spec is a decoded configuration, planned or current value.
type spec struct {
	server resource.DNSServer
	zone   string // fully qualified, lower case
	name   string // fully qualified, lower case
	rtype  string
	ttl    uint32
	// records is canonical rdata, sorted; nil when absent.
	records []string
	// transitionTTL is nil when not set.
	transitionTTL *uint32
	hold          time.Duration
	waitAfter     bool
}

// transition reports whether a change of records goes through the TTL
// transition: transition_ttl is set and below ttl.
func (s spec) transition() bool {
	return s.transitionTTL != nil && *s.transitionTTL < s.ttl
}

// resolveName makes the name attribute fully qualified: null, "" and "@"
// are the apex, a name ending in a dot is absolute, others are relative to
// the zone (as in a zone file).
//
// A Unicode label becomes its A-label (dnsclient.ASCIIName), so that the
// plan shows, and the server stores, the name resolvers look up; a name
// IDNA refuses is kept as it is here, and Validate reports it.
func resolveName(zone, name string) string {
	zone, name = asciiName(zone), asciiName(name)
	zone = dnsclient.Fqdn(zone)
	switch {
	case name == "" || name == "@":
		return zone
	case strings.HasSuffix(name, "."):
		return dnsclient.Fqdn(name)
	}
	if zone == "." {
		return dnsclient.Fqdn(name)
	}
	return dnsclient.Fqdn(name + "." + zone)
}

// asciiName is dnsclient.ASCIIName, or name as it is when IDNA refuses
// it (Validate reports that).
func asciiName(name string) string {
	if a, err := dnsclient.ASCIIName(name); err == nil {
		return a
	}
	return name
}

func str(v cty.Value, name string) string {
	if a := v.GetAttr(name); !a.IsNull() && a.IsKnown() {
		return a.AsString()
	}
	return ""
}

// seconds converts a TTL value: a whole number of seconds in 0..2^31-1
// (RFC 2181 §8).
func seconds(bf *big.Float) (uint32, error) {
	if bf == nil {
		return 0, errors.New("no value")
	}
	if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(2147483647)) > 0 {
		return 0, fmt.Errorf("%s is not a whole number of seconds between 0 and 2147483647", bf.Text('f', -1))
	}
	n, _ := bf.Int64()
	return uint32(n), nil
}

// decode reads a configuration (or a Planned or Current value: they have
// the same shape, with names already fully qualified).
func (c *core) decode(v cty.Value) (spec, error) {
	var s spec
	cfg, rtype, list, err := c.form.decode(v)
	if err != nil {
		return s, fmt.Errorf("%s: %w", c.Name(), err)
	}
	s.server = cfg.Server
	s.zone = dnsclient.Fqdn(asciiName(cfg.Zone))
	s.name = resolveName(s.zone, cfg.Name)
	s.rtype = rtype
	if s.ttl, err = seconds(cfg.TTL); err != nil {
		return s, resource.Errorf("ttl", "Invalid TTL", "The TTL %s.", err)
	}
	if cfg.TransitionTTL != nil {
		t, err := seconds(cfg.TransitionTTL)
		if err != nil {
			return s, resource.Errorf("transition_ttl", "Invalid transition TTL", "The transition_ttl %s.", err)
		}
		s.transitionTTL = &t
	}
	hold := cfg.TransitionHold
	if hold == "" {
		hold = DefaultHold
	}
	if s.hold, err = time.ParseDuration(hold); err != nil || s.hold < 0 {
		return s, resource.Errorf("transition_hold", "Invalid transition hold", `The transition_hold %q is not a duration; write it as "1h", "90m" or "2h30m".`, hold)
	}
	s.waitAfter = cfg.WaitAfter
	recs, errs := c.form.rdata(list, s.rtype)
	if err := errs.Err(); err != nil {
		return s, err
	}
	s.records = dnsclient.SortRecords(recs)
	return s, nil
}

// value builds a Current or Planned value: the configuration's settings
// from cfg, with name and zone fully qualified, and ttl and records as
// given.
func (c *core) value(cfg cty.Value, s spec, ttl uint32, records []string) cty.Value {
	cfg, _ = cfg.UnmarkDeep()
	m := map[string]cty.Value{
		"server":            cfg.GetAttr("server"),
		"zone":              cty.StringVal(s.zone),
		"name":              cty.StringVal(s.name),
		"ttl":               cty.NumberUIntVal(uint64(ttl)),
		"transition_ttl":    cfg.GetAttr("transition_ttl"),
		"transition_hold":   cfg.GetAttr("transition_hold"),
		"wait_after_change": cfg.GetAttr("wait_after_change"),
	}
	if m["transition_hold"].IsNull() {
		m["transition_hold"] = cty.StringVal(DefaultHold)
	}
	if m["wait_after_change"].IsNull() {
		m["wait_after_change"] = cty.False
	}
	c.form.values(m, s.rtype, dnsclient.SortRecords(records))
	return cty.ObjectVal(m)
}

func (c *core) client(s spec) (*dnsclient.Client, error) {
	return c.clients.Get(s.server)
}

// Claims implements resource.Claimer: one RRset of one server has one
// owner; an mx_record and a dns_record of type MX at one name conflict.
func (c *core) Claims(config cty.Value) []resource.Claim {
	s, err := c.decode(config)
	if err != nil {
		return nil
	}
	return []resource.Claim{{
		Key:  "dns\x00" + s.server.Address + "\x00" + s.zone + "\x00" + s.name + "\x00" + s.rtype,
		Path: cty.GetAttrPath("name"),
		What: fmt.Sprintf("the %s RRset of %s (zone %s) on dns_server %q", s.rtype, s.name, s.zone, s.server.Name),
	}}
}

// Fingerprint implements resource.Fingerprinter: only the records and
// their TTL decide whether a saved plan is stale.
func (c *core) Fingerprint(current cty.Value) []byte {
	current, _ = current.UnmarkDeep()
	if current.IsNull() {
		return []byte("absent")
	}
	s, err := c.decode(current)
	if err != nil {
		return []byte("undecodable")
	}
	return fmt.Appendf(nil, "%d\n%s", s.ttl, strings.Join(s.records, "\n"))
}
