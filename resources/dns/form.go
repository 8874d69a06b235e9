package dns

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// form is all dns_record and mx_record differ in: how a configuration
// gives the RRset's type and records. dns_record has a type attribute and
// records in zone-file syntax (records); mx_record is always MX, its
// records {preference, host} objects (exchanges). Everything else is
// core's.
type form interface {
	facts() facts
	// decode reads a wholly known value: the attributes both types have,
	// the RRset's type (upper case) and the records list as it is.
	decode(v cty.Value) (common, string, cty.Value, error)
	// checkType returns the RRset's type (upper case) of a configuration
	// that may hold unknowns, "" when it is unknown or a problem.
	checkType(config cty.Value) (string, resource.AttrErrors)
	// rdata returns the canonical rdata of a wholly known records list, in
	// the order given, with a problem per element that does not parse.
	rdata(list cty.Value, rtype string) ([]string, resource.AttrErrors)
	// values sets the type's own attributes of a Current or Planned value
	// holding records (canonical rdata, sorted).
	values(m map[string]cty.Value, rtype string, records []string)
	// index is the position in the configuration of the record whose
	// canonical rdata is rd, for a diagnostic; -1 when not found.
	index(cfg cty.Value, rtype, rd string) int
	// path is the attribute of the record at index i.
	path(i int) cty.Path
}

// facts are what a form is named and holds.
type facts struct {
	typeName string // the resource type's name
	schema   *resource.Schema
	list     string // the attribute holding the records
}

// common is the configuration both types have.
type common struct {
	Server         resource.DNSServer `cty:"server"`
	Zone           string             `cty:"zone"`
	Name           string             `cty:"name"`
	TTL            *big.Float         `cty:"ttl"`
	TransitionTTL  *big.Float         `cty:"transition_ttl"`
	TransitionHold string             `cty:"transition_hold"`
	WaitAfter      bool               `cty:"wait_after_change"`
}

// records is dns_record's form.
type records struct{}

// recordAttrs is a dns_record configuration.
type recordAttrs struct {
	common
	Type    string    `cty:"type"`
	Records cty.Value `cty:"records"` // decoded by rdata
}

func (records) facts() facts { return facts{"dns_record", recordSchema, "records"} }

func (records) decode(v cty.Value) (common, string, cty.Value, error) {
	var c recordAttrs
	err := resource.Decode(v, &c)
	return c.common, strings.ToUpper(c.Type), c.Records, err
}

func (records) checkType(config cty.Value) (string, resource.AttrErrors) {
	v, ok := resource.Known(config, "type")
	if !ok {
		return "", nil
	}
	rtype := strings.ToUpper(v.AsString())
	if !slices.Contains(recordTypes, rtype) {
		return "", resource.AttrErrors{resource.Errorf("type", "Unsupported record type", "The type %q is not one dns_record manages; use one of %s.", v.AsString(), strings.Join(recordTypes, ", "))}
	}
	return rtype, nil
}

func (records) rdata(list cty.Value, rtype string) ([]string, resource.AttrErrors) {
	return rdataOf(list, "records", "Missing record", "A record's rdata is null; give it as a string.",
		func(path cty.Path, r string) (string, *resource.AttrError) {
			rd, err := dnsclient.ParseRdata(rtype, r)
			if err != nil {
				return "", &resource.AttrError{Path: path, Summary: "Invalid " + rtype + " record", Detail: fmt.Sprintf("%s. Write the rdata in zone-file syntax, as it follows the type in a zone file.", err)}
			}
			return rd, nil
		})
}

func (records) values(m map[string]cty.Value, rtype string, recs []string) {
	m["type"] = cty.StringVal(rtype)
	vals := make([]cty.Value, 0, len(recs))
	for _, r := range recs {
		vals = append(vals, cty.StringVal(r))
	}
	if len(vals) == 0 {
		m["records"] = cty.ListValEmpty(cty.String)
	} else {
		m["records"] = cty.ListVal(vals)
	}
}

func (records) index(cfg cty.Value, rtype, rd string) int {
	var rs []*string
	if !decodeList(cfg, "records", &rs) {
		return -1
	}
	for i, r := range rs {
		if r == nil {
			continue
		}
		if got, err := dnsclient.ParseRdata(rtype, *r); err == nil && got == rd {
			return i
		}
	}
	return -1
}

func (records) path(i int) cty.Path { return cty.GetAttrPath("records").IndexInt(i) }

// exchanges is mx_record's form.
type exchanges struct{}

// mxAttrs is an mx_record configuration.
type mxAttrs struct {
	common
	Exchanges cty.Value `cty:"exchanges"` // decoded by rdata
}

// exchange is an element of exchanges.
type exchange struct {
	Preference *big.Float `cty:"preference"`
	Host       string     `cty:"host"`
}

func (exchanges) facts() facts { return facts{"mx_record", mxSchema, "exchanges"} }

func (exchanges) decode(v cty.Value) (common, string, cty.Value, error) {
	var c mxAttrs
	err := resource.Decode(v, &c)
	return c.common, "MX", c.Exchanges, err
}

// preference is the exchange's preference, when it is one (RFC 1035
// §3.3.9).
func (e exchange) preference() (uint16, bool) {
	p, err := seconds(e.Preference)
	return uint16(p), err == nil && p <= 65535
}

func (exchanges) checkType(cty.Value) (string, resource.AttrErrors) { return "MX", nil }

func (exchanges) rdata(list cty.Value, _ string) ([]string, resource.AttrErrors) {
	return rdataOf(list, "exchanges", "Missing exchange", "Give each exchange as {preference = 10, host = \"mail.example.com.\"}.",
		func(path cty.Path, e exchange) (string, *resource.AttrError) {
			pref, ok := e.preference()
			if !ok {
				return "", &resource.AttrError{Path: path.GetAttr("preference"), Summary: "Invalid MX preference", Detail: "The preference must be a whole number from 0 to 65535 (RFC 1035 §3.3.9)."}
			}
			host, err := dnsclient.ASCIIName(e.Host)
			if err != nil {
				return "", &resource.AttrError{Path: path.GetAttr("host"), Summary: "Invalid internationalised name",
					Detail: fmt.Sprintf("%s. Give the mail exchanger's name in a form IDNA2008 allows, or as its A-label (xn--…).", err)}
			}
			if !dnsclient.ValidName(host) || host == "." {
				return "", &resource.AttrError{Path: path.GetAttr("host"), Summary: "Invalid mail exchanger", Detail: fmt.Sprintf("The host %q is not a domain name; give the mail server's name, e.g. \"mail.example.com.\".", host)}
			}
			return dnsclient.MXRdata(pref, host), nil
		})
}

func (exchanges) values(m map[string]cty.Value, _ string, recs []string) {
	type ex struct {
		pref uint16
		host string
	}
	var exs []ex
	for _, r := range recs {
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
}

// index is 0, not -1, when no exchange has the rdata rd.
func (exchanges) index(cfg cty.Value, _, rd string) int {
	var exs []*exchange
	if !decodeList(cfg, "exchanges", &exs) {
		return 0
	}
	for i, e := range exs {
		if e == nil {
			continue
		}
		if p, ok := e.preference(); ok && e.Host != "" && dnsclient.MXRdata(p, e.Host) == rd {
			return i
		}
	}
	return 0
}

func (exchanges) path(i int) cty.Path {
	return cty.GetAttrPath("exchanges").IndexInt(i).GetAttr("host")
}

// rdataOf returns the canonical rdata of a wholly known list attribute
// attr, in the order given: each element converted by conv, which is given
// the element's path. A null element is the problem missing (summary),
// detail.
func rdataOf[T any](list cty.Value, attr, missing, detail string, conv func(cty.Path, T) (string, *resource.AttrError)) ([]string, resource.AttrErrors) {
	var els []*T
	if list.IsNull() || resource.DecodeAttr(list, &els) != nil {
		return nil, nil
	}
	var out []string
	var errs resource.AttrErrors
	for i, e := range els {
		path := cty.GetAttrPath(attr).IndexInt(i)
		if e == nil {
			errs = append(errs, &resource.AttrError{Path: path, Summary: missing, Detail: detail})
			continue
		}
		rd, err := conv(path, *e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rd)
	}
	return out, errs
}

// decodeList decodes cfg's list attribute attr into into, when it is set
// and wholly known.
func decodeList(cfg cty.Value, attr string, into any) bool {
	cfg, _ = cfg.UnmarkDeep()
	l := cfg.GetAttr(attr)
	return !l.IsNull() && l.IsWhollyKnown() && resource.DecodeAttr(l, into) == nil
}
