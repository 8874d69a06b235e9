package dns

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// Validate implements resource.Validator: the rules the schema cannot
// express, checked without any network (rdata is parsed, not queried).
func (c *core) Validate(ctx context.Context, config cty.Value) error {
	config, _ = config.UnmarkDeep()
	if config.IsNull() || !config.IsKnown() {
		return nil
	}
	var errs resource.AttrErrors
	// idn converts a Unicode name to its A-label, or reports why IDNA2008
	// refuses it; "" then.
	idn := func(attr, name string) (string, bool) {
		a, err := dnsclient.ASCIIName(name)
		if err != nil {
			errs = append(errs, resource.Errorf(attr, "Invalid internationalised name", "%s. Write the name in a form IDNA2008 allows, or as its A-label (xn--…).", err))
			return "", false
		}
		return a, true
	}
	zone := ""
	if v, ok := resource.Known(config, "zone"); ok {
		zone, ok = idn("zone", v.AsString())
		if ok && !dnsclient.ValidName(zone) {
			errs = append(errs, resource.Errorf("zone", "Invalid zone", "The zone %q is not a domain name; give it as \"example.com.\".", zone))
			zone = ""
		}
	}
	if v, ok := resource.Known(config, "name"); ok && zone != "" {
		name, ok := idn("name", v.AsString())
		if !ok {
			name = "@" // reported; the checks below have nothing to add
		}
		fz := dnsclient.Fqdn(zone)
		bare := strings.TrimSuffix(fz, ".")
		switch {
		case name != "@" && name != "" && !dnsclient.ValidName(name):
			errs = append(errs, resource.Errorf("name", "Invalid record name", "The name %q is not a domain name.", name))
		case !strings.HasSuffix(name, ".") && fz != "." && (strings.EqualFold(name, bare) || strings.HasSuffix(strings.ToLower(name), "."+strings.ToLower(bare))):
			// The zone-file trap: without the final dot the name is relative.
			errs = append(errs, resource.Errorf("name", "Record name relative to the zone",
				"The name %q has no final dot, so it is relative to the zone and means %s. Write %q for that name, or %q if you mean %s.",
				name, resolveName(zone, name), name+".", strings.TrimSuffix(strings.TrimSuffix(name, bare), "."), dnsclient.Fqdn(name)))
		case !dnsclient.InZone(zone, resolveName(zone, name)):
			errs = append(errs, resource.Errorf("name", "Record name outside the zone",
				"The name %s is not in zone %s; an update to the zone's server can only change names inside it. Fix the name or the zone.", resolveName(zone, name), fz))
		}
	}
	rtype, es := c.form.checkType(config)
	errs = append(errs, es...)
	if v, ok := resource.Known(config, "ttl"); ok {
		if _, err := seconds(v.AsBigFloat()); err != nil {
			errs = append(errs, resource.Errorf("ttl", "Invalid TTL", "The TTL %s (RFC 2181 §8).", err))
		}
	}
	if v, ok := resource.Known(config, "transition_ttl"); ok {
		if _, err := seconds(v.AsBigFloat()); err != nil {
			errs = append(errs, resource.Errorf("transition_ttl", "Invalid transition TTL", "The transition_ttl %s.", err))
		}
	}
	if v, ok := resource.Known(config, "transition_hold"); ok {
		if d, err := time.ParseDuration(v.AsString()); err != nil || d < 0 {
			errs = append(errs, resource.Errorf("transition_hold", "Invalid transition hold", `The transition_hold %q is not a duration; write it as "1h", "90m" or "2h30m".`, v.AsString()))
		}
	}
	list := c.form.facts().list
	if v, ok := resource.Known(config, list); ok {
		if v.LengthInt() == 0 {
			errs = append(errs, resource.Errorf(list, "No records", "The %s list is empty. An RRset has at least one record; to remove one, remove the resource (destroy puts back what was there before).", list))
		} else if rtype != "" {
			recs, es := c.form.rdata(v, rtype)
			errs = append(errs, es...)
			errs = append(errs, txtQuotes(rtype, v)...) // only dns_record has TXT
			if len(es) == 0 && zone != "" {
				errs = append(errs, rrsetSize(resolveName(zone, str(config, "name")), rtype, recs)...)
			}
			if rtype == "CNAME" && len(dnsclient.SortRecords(recs)) > 1 {
				errs = append(errs, resource.Errorf("records", "More than one CNAME", "A name can have only one CNAME record (RFC 1034 §3.6.2); give one target."))
			}
		}
	}
	return errs.Err()
}

// txtQuotes catches TXT rdata written without quotes around text with
// spaces: in zone-file syntax that is several strings, which SPF and DKIM
// readers join without the spaces ("v=spf1 mx -all" unquoted becomes
// "v=spf1mx-all").
func txtQuotes(rtype string, v cty.Value) resource.AttrErrors {
	if rtype != "TXT" {
		return nil
	}
	var errs resource.AttrErrors
	for i, r := range v.AsValueSlice() {
		s := strings.TrimSpace(r.AsString())
		if !strings.HasPrefix(s, `"`) && strings.ContainsAny(s, " \t") {
			errs = append(errs, &resource.AttrError{Path: cty.GetAttrPath("records").IndexInt(i), Summary: "Unquoted TXT record with spaces",
				Detail: fmt.Sprintf(`In zone-file syntax %s is %d separate strings, which are read back joined without spaces. Quote it: "\"%s\"" (in HCL).`, s, len(strings.Fields(s)), s)})
		}
	}
	return errs
}

// rrsetSize refuses an RRset that no DNS message can hold: an answer with
// it, and so an UPDATE adding it, would exceed 65535 octets (RFC 1035
// §4.2.2); the server could neither take nor serve it.
func rrsetSize(name, rtype string, recs []string) resource.AttrErrors {
	n, err := dnsclient.AnswerSize(dnsclient.RRset{Name: name, Type: rtype, Records: dnsclient.SortRecords(recs)})
	if err != nil || n <= dnsclient.MaxMessage {
		return nil
	}
	return resource.AttrErrors{resource.Errorf("records", "RRset too large for DNS",
		"The %d %s records of %s take %d octets in a DNS message, which holds at most %d (RFC 1035 §4.2.2): no server can store or answer them, and the UPDATE adding them cannot be sent. Split the data over several names (DKIM keys, for example, each have their own selector) or shorten it.",
		len(recs), rtype, name, n, dnsclient.MaxMessage)}
}
