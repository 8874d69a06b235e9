package dnscheck

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// Gate is the `dns_check` resource type.
type Gate struct {
	// queryTimeout bounds each exchange with a resolver.
	queryTimeout time.Duration
}

var (
	_ resource.Type          = (*Gate)(nil)
	_ resource.Validator     = (*Gate)(nil)
	_ resource.Checker       = (*Gate)(nil)
	_ resource.Fingerprinter = (*Gate)(nil)
)

// New returns the dns_check type.
func New() *Gate { return &Gate{queryTimeout: dnsclient.DefaultTimeout} }

// Defaults of dns_check.
const (
	DefaultTimeout  = "1h"
	DefaultInterval = "10s"
	DefaultMatch    = "exact"
)

// Types lists the record types dns_check asks for.
var Types = []string{"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TLSA", "TXT"}

var schema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"name": {Type: cty.String, Required: true, Identity: true, ShowUnchanged: true,
		Description: `The name asked for, e.g. "example.com." (made fully qualified: there is no zone to be relative to).`},
	"type": {Type: cty.String, Required: true, Identity: true, ShowUnchanged: true,
		Description: "The record type asked for: " + strings.Join(Types, ", ") + "."},
	"expect": {Type: cty.List(cty.String), Required: true,
		Description: `The expected records' data in zone-file syntax, e.g. "10 mail.new.example.com." for MX; [] for no records (NXDOMAIN or NODATA).`},
	"resolvers": {Type: cty.List(cty.String), Required: true,
		Description: `The resolvers to ask, as IP addresses with an optional port: "9.9.9.9", "1.1.1.1:53", "2620:fe::fe", "[2620:fe::fe]:53"; port 53 by default.`},
	"match": {Type: cty.String, Default: cty.StringVal(DefaultMatch),
		Description: `"exact": a resolver passes when its records are exactly expect; "contains": when they include every record of expect.`},
	"timeout": {Type: cty.String, Default: cty.StringVal(DefaultTimeout),
		Description: `How long apply waits for every resolver to answer as expected before it fails, from the first apply, as a Go duration ("1h", "2h30m").`},
	"interval": {Type: cty.String, Default: cty.StringVal(DefaultInterval),
		Description: `The longest time between two looks while a resolver answers otherwise, as a Go duration; apply looks sooner when a wrong answer's TTL runs out sooner.`},
	"recursion": {Type: cty.Bool, Default: cty.True,
		Description: "Ask with RD set, as a stub resolver asks a recursive resolver; false asks authoritative servers for their own data, and only an authoritative answer (AA) passes."},
	"tcp": {Type: cty.Bool, Default: cty.False,
		Description: "Ask over TCP only; otherwise over UDP, and over TCP when the answer is truncated."},
	"answers": {Type: cty.Map(cty.List(cty.String)), Computed: true,
		Description: `What each resolver (by its entry in resolvers) answers: its records, none for NXDOMAIN or NODATA, or one marker in parentheses for no usable answer: "(SERVFAIL)", "(REFUSED)", "(timeout)", "(unreachable)", "(not authoritative)", "(error)".`},
}}

// Name implements resource.Type.
func (*Gate) Name() string { return "dns_check" }

// Schema implements resource.Type.
func (*Gate) Schema() *resource.Schema { return schema }

// config is the configuration as written; spec is what it means.
type config struct {
	Name      string    `cty:"name"`
	Type      string    `cty:"type"`
	Expect    []string  `cty:"expect"`
	Resolvers []string  `cty:"resolvers"`
	Match     string    `cty:"match"`
	Timeout   string    `cty:"timeout"`
	Interval  string    `cty:"interval"`
	Recursion bool      `cty:"recursion"`
	TCP       bool      `cty:"tcp"`
	Answers   cty.Value `cty:"answers"` // computed, not read
}

// resolver is one entry of resolvers.
type resolver struct {
	// label is the entry as written: the key of answers.
	label string
	// addr is "host:port" to send the query to.
	addr string
}

type spec struct {
	name      string // fully qualified, lower case, A-labels
	rtype     string // upper case
	expect    []string
	resolvers []resolver
	contains  bool
	timeout   time.Duration
	interval  time.Duration
	recursion bool
	tcp       bool
}

// decode reads a configuration, or a Current or Planned value.
func decode(v cty.Value) (spec, error) {
	c := config{Match: DefaultMatch, Timeout: DefaultTimeout, Interval: DefaultInterval, Recursion: true}
	if err := resource.Decode(v, &c); err != nil {
		return spec{}, fmt.Errorf("dns_check: %w", err)
	}
	if errs := check(c); len(errs) > 0 {
		return spec{}, errs
	}
	s := spec{
		name:      normalName(c.Name),
		rtype:     strings.ToUpper(c.Type),
		contains:  c.Match == "contains",
		recursion: c.Recursion,
		tcp:       c.TCP,
	}
	s.timeout, _ = time.ParseDuration(c.Timeout)
	s.interval, _ = time.ParseDuration(c.Interval)
	for _, r := range c.Expect {
		rd, _ := dnsclient.CheckRdata(s.rtype, r)
		s.expect = append(s.expect, rd)
	}
	s.expect = dnsclient.SortRecords(s.expect)
	for _, r := range c.Resolvers {
		addr, _ := resolverAddr(r)
		s.resolvers = append(s.resolvers, resolver{label: r, addr: addr})
	}
	return s, nil
}

// normalName is name as it is asked for: A-labels, lower case, fully
// qualified.
func normalName(name string) string {
	if a, err := dnsclient.ASCIIName(name); err == nil {
		name = a
	}
	return dnsclient.Fqdn(name)
}

// Validate implements resource.Validator. It touches no network.
func (*Gate) Validate(ctx context.Context, v cty.Value) error {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	c := config{Match: DefaultMatch, Timeout: DefaultTimeout, Interval: DefaultInterval}
	known := func(attr string, set func(cty.Value)) bool {
		a, ok := resource.Known(v, attr)
		if ok && a.IsWhollyKnown() {
			set(a)
			return true
		}
		return false
	}
	var unknown []string
	for attr, set := range map[string]func(cty.Value){
		"name":      func(a cty.Value) { c.Name = a.AsString() },
		"type":      func(a cty.Value) { c.Type = a.AsString() },
		"expect":    func(a cty.Value) { c.Expect = strings1(a) },
		"resolvers": func(a cty.Value) { c.Resolvers = strings1(a) },
		"match":     func(a cty.Value) { c.Match = a.AsString() },
		"timeout":   func(a cty.Value) { c.Timeout = a.AsString() },
		"interval":  func(a cty.Value) { c.Interval = a.AsString() },
	} {
		if !known(attr, set) {
			unknown = append(unknown, attr)
		}
	}
	return check(c, unknown...).Err()
}

// strings1 is a known list of strings (null elements as "").
func strings1(v cty.Value) []string {
	out := []string{}
	for _, e := range v.AsValueSlice() {
		if e.IsNull() {
			out = append(out, "")
			continue
		}
		out = append(out, e.AsString())
	}
	return out
}

// check reports every problem of c; the attributes in skip are not known
// yet (or not set) and not checked.
func check(c config, skip ...string) resource.AttrErrors {
	var errs resource.AttrErrors
	checks := func(attr string) bool { return !slices.Contains(skip, attr) }
	if checks("name") {
		name, err := dnsclient.ASCIIName(strings.TrimSpace(c.Name))
		switch {
		case err != nil:
			errs = append(errs, resource.Errorf("name", "Invalid internationalised name", "%s. Write the name in a form IDNA2008 allows, or as its A-label (xn--…).", err))
		case name == "" || name == ".":
			errs = append(errs, resource.Errorf("name", "No name", `Give the name to ask for, fully qualified: "example.com.".`))
		case !dnsclient.ValidName(dnsclient.Fqdn(name)):
			errs = append(errs, resource.Errorf("name", "Invalid name", `The name %q is not a domain name; give it as "example.com.".`, c.Name))
		}
	}
	rtype := ""
	if checks("type") {
		rtype = strings.ToUpper(strings.TrimSpace(c.Type))
		if !slices.Contains(Types, rtype) {
			errs = append(errs, resource.Errorf("type", "Unsupported record type", "The type %q is not one dns_check asks for; use one of %s.", c.Type, strings.Join(Types, ", ")))
			rtype = ""
		}
	}
	if checks("expect") && rtype != "" {
		var recs []string
		for i, r := range c.Expect {
			path := cty.GetAttrPath("expect").IndexInt(i)
			rd, err := dnsclient.CheckRdata(rtype, r)
			if err != nil {
				errs = append(errs, &resource.AttrError{Path: path, Summary: "Invalid record data",
					Detail: fmt.Sprintf("%v. Give the data of one %s record in zone-file syntax, as a server answers it (e.g. %s).", err, rtype, example(rtype))})
				continue
			}
			if s := strings.TrimSpace(r); rtype == "TXT" && !strings.HasPrefix(s, `"`) && strings.ContainsAny(s, " \t") {
				errs = append(errs, &resource.AttrError{Path: path, Summary: "Unquoted TXT record with spaces",
					Detail: fmt.Sprintf(`In zone-file syntax %s is %d separate strings, which read back joined without the spaces. Quote it: "\"%s\"" (in HCL).`, s, len(strings.Fields(s)), s)})
			}
			recs = append(recs, rd)
		}
		if rtype == "CNAME" && len(dnsclient.SortRecords(recs)) > 1 {
			errs = append(errs, resource.Errorf("expect", "More than one CNAME", "A name has at most one CNAME record (RFC 1034 §3.6.2); expect one target."))
		}
	}
	if checks("match") && c.Match != "exact" && c.Match != "contains" {
		errs = append(errs, resource.Errorf("match", "Invalid match", `match is %q; give "exact" (the answer is exactly expect) or "contains" (the answer includes every record of expect).`, c.Match))
	} else if checks("match") && checks("expect") && c.Match == "contains" && len(c.Expect) == 0 {
		errs = append(errs, resource.Errorf("expect", "Nothing to contain", `With match = "contains" an empty expect holds for any answer. To require that the name has no such records, use match = "exact".`))
	}
	if checks("resolvers") {
		if len(c.Resolvers) == 0 {
			errs = append(errs, resource.Errorf("resolvers", "No resolvers", `Give at least one resolver to ask, e.g. ["9.9.9.9", "1.1.1.1"].`))
		}
		seen := map[string]int{}
		for i, r := range c.Resolvers {
			path := cty.GetAttrPath("resolvers").IndexInt(i)
			addr, problem := resolverAddr(r)
			if problem != "" {
				errs = append(errs, &resource.AttrError{Path: path, Summary: "Invalid resolver address", Detail: problem})
				continue
			}
			if j, dup := seen[addr]; dup {
				errs = append(errs, &resource.AttrError{Path: path, Summary: "Resolver listed twice",
					Detail: fmt.Sprintf("%q is the same resolver (%s) as entry %d, %q; list each once.", r, addr, j, c.Resolvers[j])})
				continue
			}
			seen[addr] = i
		}
	}
	for _, d := range []struct{ attr, val string }{{"timeout", c.Timeout}, {"interval", c.Interval}} {
		if !checks(d.attr) {
			continue
		}
		if t, err := time.ParseDuration(d.val); err != nil {
			errs = append(errs, resource.Errorf(d.attr, "Invalid duration", `%s %q is not a duration; write it like "90s", "30m" or "1h30m".`, d.attr, d.val))
		} else if t <= 0 {
			errs = append(errs, resource.Errorf(d.attr, "Duration not positive", "%s %q must be longer than zero.", d.attr, d.val))
		}
	}
	return errs
}

// example is a record of rtype in zone-file syntax, for messages.
func example(rtype string) string {
	switch rtype {
	case "A":
		return `"192.0.2.1"`
	case "AAAA":
		return `"2001:db8::1"`
	case "MX":
		return `"10 mail.example.com."`
	case "TXT":
		return `"\"v=spf1 mx -all\""`
	case "SRV":
		return `"0 1 993 imap.example.com."`
	case "CAA":
		return `"0 issue \"letsencrypt.org\""`
	case "TLSA":
		return `"3 1 1 <sha-256 in hex>"`
	}
	return `"host.example.com."`
}

// resolverAddr makes a resolvers entry the address to send to: an IP
// address with an optional port ("192.0.2.53", "192.0.2.53:5353",
// "2001:db8::53", "[2001:db8::53]:53"), port 53 by default. problem is
// why s is none of these, in sentences for a diagnostic; "" when it is.
func resolverAddr(s string) (addr, problem string) {
	if ip := net.ParseIP(s); ip != nil {
		return net.JoinHostPort(ip.String(), "53"), ""
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil && !strings.Contains(s, ":") && s != "" {
		host, port, err = s, "53", nil // a name, refused below
	}
	if err != nil {
		return "", fmt.Sprintf(`%q is not an IP address with an optional port; write "192.0.2.53", "192.0.2.53:53", "2001:db8::53" or "[2001:db8::53]:53".`, s)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "", fmt.Sprintf("%q is not an IP address. Give the resolver's address, not a name: a name would be looked up through this machine's resolver, in the DNS being checked.", host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Sprintf("The port %q of %q is not a number from 1 to 65535.", port, s)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(p)), ""
}

// value is a Current or Planned value: the configuration, normalised
// (name fully qualified, type in upper case, expect in canonical form),
// with answers.
func (s spec) value(cfg cty.Value, answers map[string][]string) cty.Value {
	cfg, _ = cfg.UnmarkDeep()
	m := cfg.AsValueMap()
	m["name"] = cty.StringVal(s.name)
	m["type"] = cty.StringVal(s.rtype)
	m["expect"] = strList(s.expect)
	am := map[string]cty.Value{}
	for k, v := range answers {
		am[k] = strList(v)
	}
	if len(am) == 0 {
		m["answers"] = cty.MapValEmpty(cty.List(cty.String))
	} else {
		m["answers"] = cty.MapVal(am)
	}
	return cty.ObjectVal(m)
}

func strList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}
