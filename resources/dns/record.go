package dns

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
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

// core is the implementation both types share.
type core struct {
	clients Clients
	mx      bool
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
	return &Record{core{clients: clients, now: time.Now}}
}

// NewMX returns the mx_record type, reaching servers through clients.
func NewMX(clients Clients) *MX {
	return &MX{core{clients: clients, mx: true, now: time.Now}}
}

// Name implements resource.Type.
func (*Record) Name() string { return "dns_record" }

// Name implements resource.Type.
func (*MX) Name() string { return "mx_record" }

// Schema implements resource.Type.
func (*Record) Schema() *resource.Schema { return recordSchema }

// Schema implements resource.Type.
func (*MX) Schema() *resource.Schema { return mxSchema }

func (c *core) typeName() string {
	if c.mx {
		return "mx_record"
	}
	return "dns_record"
}

func (c *core) schema() *resource.Schema {
	if c.mx {
		return mxSchema
	}
	return recordSchema
}

// Types a dns_record may manage.
var recordTypes = []string{"A", "AAAA", "CNAME", "TXT", "MX", "SRV", "PTR", "CAA", "TLSA"}

// DefaultHold is how long the TTL stays at transition_ttl after a switch.
const DefaultHold = "1h"

var exchangeType = cty.Object(map[string]cty.Type{"preference": cty.Number, "host": cty.String})

func commonAttrs() map[string]*resource.Attribute {
	return map[string]*resource.Attribute{
		"server": {Type: resource.DNSServerType, Kind: resource.DNSServerRef, Required: true,
			Description: "The dns_server block of the zone's primary server, which answers with authority and accepts updates. Changing it (another address, a rotated key) changes how the RRset is reached, not which RRset: no replacement."},
		"zone": {Type: cty.String, Required: true, ForceNew: true,
			Description: `The zone, e.g. "example.com." (made fully qualified).`},
		"name": {Type: cty.String, ForceNew: true,
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
func seconds(v cty.Value) (uint32, error) {
	if v.IsNull() {
		return 0, errors.New("no value")
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(2147483647)) > 0 {
		return 0, fmt.Errorf("%s is not a whole number of seconds between 0 and 2147483647", bf.Text('f', -1))
	}
	n, _ := bf.Int64()
	return uint32(n), nil
}

// decode reads a configuration (or a Planned or Current value: they have
// the same shape, with names already fully qualified).
func (c *core) decode(v cty.Value) (spec, error) {
	v, _ = v.UnmarkDeep()
	var s spec
	if v.IsNull() || !v.IsWhollyKnown() {
		return s, fmt.Errorf("%s: configuration is null or not known", c.typeName())
	}
	srv, err := resource.DNSServerFromValue(v.GetAttr("server"))
	if err != nil {
		return s, fmt.Errorf("%s: %w", c.typeName(), err)
	}
	s.server = srv
	s.zone = dnsclient.Fqdn(asciiName(str(v, "zone")))
	s.name = resolveName(s.zone, str(v, "name"))
	if c.mx {
		s.rtype = "MX"
	} else {
		s.rtype = strings.ToUpper(str(v, "type"))
	}
	if s.ttl, err = seconds(v.GetAttr("ttl")); err != nil {
		return s, resource.Errorf("ttl", "Invalid TTL", "The TTL %s.", err)
	}
	if tv := v.GetAttr("transition_ttl"); !tv.IsNull() {
		t, err := seconds(tv)
		if err != nil {
			return s, resource.Errorf("transition_ttl", "Invalid transition TTL", "The transition_ttl %s.", err)
		}
		s.transitionTTL = &t
	}
	hold := str(v, "transition_hold")
	if hold == "" {
		hold = DefaultHold
	}
	if s.hold, err = time.ParseDuration(hold); err != nil || s.hold < 0 {
		return s, resource.Errorf("transition_hold", "Invalid transition hold", `The transition_hold %q is not a duration; write it as "1h", "90m" or "2h30m".`, hold)
	}
	if w := v.GetAttr("wait_after_change"); !w.IsNull() {
		s.waitAfter = w.True()
	}
	recs, errs := c.rdata(v, s.rtype)
	if err := errs.Err(); err != nil {
		return s, err
	}
	s.records = dnsclient.SortRecords(recs)
	return s, nil
}

// rdata returns the canonical rdata of the records or exchanges attribute,
// in the order given, with a problem per element that does not parse.
func (c *core) rdata(v cty.Value, rtype string) ([]string, resource.AttrErrors) {
	var out []string
	var errs resource.AttrErrors
	if c.mx {
		ex := v.GetAttr("exchanges")
		if ex.IsNull() {
			return nil, nil
		}
		for i, e := range ex.AsValueSlice() {
			path := cty.GetAttrPath("exchanges").IndexInt(i)
			if e.IsNull() {
				errs = append(errs, &resource.AttrError{Path: path, Summary: "Missing exchange", Detail: "Give each exchange as {preference = 10, host = \"mail.example.com.\"}."})
				continue
			}
			pv, hv := e.GetAttr("preference"), e.GetAttr("host")
			pref, err := seconds(pv)
			if err != nil || pref > 65535 {
				errs = append(errs, &resource.AttrError{Path: path.GetAttr("preference"), Summary: "Invalid MX preference", Detail: "The preference must be a whole number from 0 to 65535 (RFC 1035 §3.3.9)."})
				continue
			}
			host := ""
			if !hv.IsNull() {
				host = hv.AsString()
			}
			a, err := dnsclient.ASCIIName(host)
			if err != nil {
				errs = append(errs, &resource.AttrError{Path: path.GetAttr("host"), Summary: "Invalid internationalised name",
					Detail: fmt.Sprintf("%s. Give the mail exchanger's name in a form IDNA2008 allows, or as its A-label (xn--…).", err)})
				continue
			}
			host = a
			if !dnsclient.ValidName(host) || host == "." {
				errs = append(errs, &resource.AttrError{Path: path.GetAttr("host"), Summary: "Invalid mail exchanger", Detail: fmt.Sprintf("The host %q is not a domain name; give the mail server's name, e.g. \"mail.example.com.\".", host)})
				continue
			}
			out = append(out, dnsclient.MXRdata(uint16(pref), host))
		}
		return out, errs
	}
	rv := v.GetAttr("records")
	if rv.IsNull() {
		return nil, nil
	}
	for i, r := range rv.AsValueSlice() {
		path := cty.GetAttrPath("records").IndexInt(i)
		if r.IsNull() {
			errs = append(errs, &resource.AttrError{Path: path, Summary: "Missing record", Detail: "A record's rdata is null; give it as a string."})
			continue
		}
		rd, err := dnsclient.ParseRdata(rtype, r.AsString())
		if err != nil {
			errs = append(errs, &resource.AttrError{Path: path, Summary: "Invalid " + rtype + " record", Detail: fmt.Sprintf("%s. Write the rdata in zone-file syntax, as it follows the type in a zone file.", err)})
			continue
		}
		out = append(out, rd)
	}
	return out, errs
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
	records = dnsclient.SortRecords(records)
	if c.mx {
		type ex struct {
			pref uint16
			host string
		}
		var exs []ex
		for _, r := range records {
			p, h, err := dnsclient.ParseMX(r)
			if err == nil {
				exs = append(exs, ex{p, h})
			}
		}
		sort.Slice(exs, func(i, j int) bool {
			if exs[i].pref != exs[j].pref {
				return exs[i].pref < exs[j].pref
			}
			return exs[i].host < exs[j].host
		})
		vals := make([]cty.Value, 0, len(exs))
		for _, e := range exs {
			vals = append(vals, cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberUIntVal(uint64(e.pref)), "host": cty.StringVal(e.host)}))
		}
		if len(vals) == 0 {
			m["exchanges"] = cty.ListValEmpty(exchangeType)
		} else {
			m["exchanges"] = cty.ListVal(vals)
		}
	} else {
		m["type"] = cty.StringVal(s.rtype)
		vals := make([]cty.Value, 0, len(records))
		for _, r := range records {
			vals = append(vals, cty.StringVal(r))
		}
		if len(vals) == 0 {
			m["records"] = cty.ListValEmpty(cty.String)
		} else {
			m["records"] = cty.ListVal(vals)
		}
	}
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

var _ = context.Background
