package dns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

var (
	_ resource.PlanChecker = (*Record)(nil)
	_ resource.PlanChecker = (*MX)(nil)
)

// planned is a dns_record or mx_record instance of a plan, decoded.
type planned struct {
	addr string
	typ  string
	cfg  cty.Value
	s    spec
	// dest is what the plan reaches; nil when it deletes the RRset.
	dest *spec
}

// CheckPlan implements resource.PlanChecker. It makes, once per plan, the
// checks no single record can:
//
//   - Each dns_server's TSIG key is verified with one signed query
//     (dnsclient.Client.VerifyKey). Reads are unsigned, so a wrong secret
//     would otherwise show only at the first UPDATE, after the apply had
//     changed other hosts. The problem is reported once per dns_server
//     block, at the first record (by address) that uses it.
//   - An MX or SRV target must not be a CNAME (RFC 2181 §10.3, RFC 2782)
//     that another instance of the same plan creates: Plan's check asks
//     the server, which does not have it yet.
//
// Both types run it; each reports only for its own instances, so a
// problem is reported once.
func (c *core) CheckPlan(ctx context.Context, req resource.CheckPlanRequest) []resource.PlanProblem {
	var insts []planned
	for _, in := range req.Instances {
		if in.Type != "dns_record" && in.Type != "mx_record" {
			continue
		}
		dc := &core{clients: c.clients, form: forms[in.Type], now: c.now}
		s, err := dc.decode(in.Config)
		if err != nil {
			continue // Plan reported it
		}
		p := planned{addr: in.Addr, typ: in.Type, cfg: in.Config, s: s}
		if pv, _ := in.Planned.UnmarkDeep(); !pv.IsNull() {
			if d, err := dc.decode(withServer(pv, in.Config)); err == nil {
				p.dest = &d
			}
		}
		insts = append(insts, p)
	}
	probs := c.checkKeys(ctx, insts)
	return append(probs, c.checkTargets(insts)...)
}

// withServer puts the configuration's server (with its secret, which the
// engine keeps out of planned values) into a planned value.
func withServer(v, cfg cty.Value) cty.Value {
	cfg, _ = cfg.UnmarkDeep()
	m := v.AsValueMap()
	m["server"] = cfg.GetAttr("server")
	return cty.ObjectVal(m)
}

// checkKeys verifies the key of each dns_server block the plan uses.
func (c *core) checkKeys(ctx context.Context, insts []planned) []resource.PlanProblem {
	var probs []resource.PlanProblem
	seen := map[resource.DNSServer]bool{}
	for _, p := range insts {
		if seen[p.s.server] {
			continue
		}
		seen[p.s.server] = true
		if p.typ != c.Name() {
			continue // the other type reports it
		}
		cl, err := c.clients.Get(p.s.server)
		if err != nil {
			probs = append(probs, resource.PlanProblem{Addr: p.addr, Err: err})
			continue
		}
		if err := cl.VerifyKey(ctx, p.s.zone); err != nil {
			probs = append(probs, resource.PlanProblem{Addr: p.addr, Err: keyProblem(p.s.server, cl, err)})
		}
	}
	return probs
}

// keyProblem is the diagnostic of a failed key check, on the server
// attribute.
func keyProblem(srv resource.DNSServer, cl *dnsclient.Client, err error) error {
	summary := "TSIG key check failed"
	switch {
	case dnsclient.IsBadKey(err):
		summary = "TSIG key unknown to the DNS server (BADKEY)"
	case dnsclient.IsBadSig(err):
		summary = "TSIG signature rejected (BADSIG)"
	case dnsclient.IsBadTime(err):
		summary = "Clock outside the TSIG time window (BADTIME)"
	}
	return resource.Errorf("server", summary,
		"%s. mailplan checks the key %s of dns_server %q at plan time with one signed SOA query, so that no apply changes other hosts before a DNS update is refused; nothing has been changed.",
		strings.TrimSuffix(err.Error(), "."), cl.KeyName(), srv.Name)
}

// checkTargets refuses MX and SRV records of this type whose target is a
// CNAME planned by another instance.
func (c *core) checkTargets(insts []planned) []resource.PlanProblem {
	cnames := map[string]planned{} // owner name → the instance
	for _, p := range insts {
		if p.dest != nil && p.dest.rtype == "CNAME" {
			cnames[p.dest.name] = p
		}
	}
	if len(cnames) == 0 {
		return nil
	}
	var probs []resource.PlanProblem
	for _, p := range insts {
		if p.typ != c.Name() || p.dest == nil || (p.dest.rtype != "MX" && p.dest.rtype != "SRV") {
			continue
		}
		var errs resource.AttrErrors
		for _, rd := range p.dest.records {
			host := target(p.dest.rtype, rd)
			cn, ok := cnames[host]
			if !ok {
				continue
			}
			errs = append(errs, &resource.AttrError{Path: c.rdataPath(p.cfg, p.dest.rtype, rd), Summary: p.dest.rtype + " target is a CNAME",
				Detail: fmt.Sprintf("The target %s is a CNAME (to %s) that %s creates in this plan; an %s must name a host with A or AAAA records (RFC 2181 §10.3), and BIND refuses the update (check-integrity). Give the name the CNAME points to, or make %s an address record.",
					host, strings.Join(cn.dest.records, ", "), cn.addr, p.dest.rtype, host)})
		}
		if len(errs) > 0 {
			probs = append(probs, resource.PlanProblem{Addr: p.addr, Err: errs})
		}
	}
	return probs
}

// target is the host an MX or SRV record points at, "" for others.
func target(rtype, rd string) string {
	switch rtype {
	case "MX":
		return dnsclient.MXTarget(rd)
	case "SRV":
		if f := strings.Fields(rd); len(f) == 4 {
			return dnsclient.Fqdn(f[3])
		}
	}
	return ""
}

// rdataPath is the attribute of the record rd in the configuration.
func (c *core) rdataPath(cfg cty.Value, rtype, rd string) cty.Path {
	if j := c.form.index(cfg, rtype, rd); j >= 0 {
		return c.form.path(j)
	}
	return cty.GetAttrPath(c.form.facts().list)
}

// checkSize refuses a change whose UPDATE no DNS message can hold. Each
// UPDATE carries the RRset as read (its prerequisite) and the records it
// writes, so replacing a large RRset needs room for both; a transition
// first writes the old records again at the low TTL.
func (c *core) checkSize(cl *dnsclient.Client, s spec, cur rrset, d decision) error {
	old := toClient(cur)
	steps := []dnsclient.RRset{{Name: s.name, Type: s.rtype, TTL: d.ttl, Records: d.records}}
	if cur.Exists && s.transition() {
		steps = append(steps, dnsclient.RRset{Name: s.name, Type: s.rtype, TTL: d.ttl, Records: cur.Records})
	}
	for _, want := range steps {
		n, err := cl.UpdateSize(s.zone, old, want)
		if err != nil || n <= dnsclient.MaxMessage {
			continue
		}
		return resource.Errorf(c.form.facts().list, "Update too large for DNS",
			"Replacing the %d %s records of %s takes an UPDATE of %d octets: it carries the records the server has now (%d) as its prerequisite, so that no one else's change is overwritten, and the %d it writes, and a DNS message holds at most %d (RFC 1035 §4.2.2). Make the change in two applies: first one that removes records, then one that adds the new ones.",
			len(cur.Records), s.rtype, s.name, n, len(cur.Records), len(want.Records), dnsclient.MaxMessage)
	}
	return nil
}

// maxRecordsPerType is BIND's default max-records-per-type (9.18.28 and
// later): an UPDATE leaving more records in one RRset fails.
const maxRecordsPerType = 100

// explainRefused names the cause of an update the server turned down for
// what the records say, as its log does, instead of the hint about
// allow-update and the key:
//
//   - BIND's check-integrity (on by default for a primary zone) REFUSES an
//     MX whose target inside the zone has no address records, logging
//     "NAME/MX 'TARGET' has no address records (A or AAAA)", or "…/MX
//     'TARGET' is a CNAME (illegal)". The targets are read only after a
//     refusal, to tell which.
//   - BIND's max-records-per-type (100 by default) fails an UPDATE that
//     leaves more records in one RRset with SERVFAIL, logging "too many
//     records (must not exceed 100)".
//
// Any other failure is returned as it is.
func (c *core) explainRefused(ctx context.Context, cl *dnsclient.Client, s spec, records []string, err error) error {
	var de *dnsclient.Error
	if err == nil || !errors.As(err, &de) {
		return err
	}
	owner := strings.TrimSuffix(s.name, ".")
	var why []string
	switch {
	case de.Rcode == "SERVFAIL" && len(records) > maxRecordsPerType:
		e := *de
		e.Hint = fmt.Sprintf("The server failed the update for its size: BIND (9.18.28 and later) keeps at most max-records-per-type records in one RRset, %d by default, and logs \"error updating '%s/%s' … too many records (must not exceed %d)\"; these are %d. Spread the records over several names, or raise max-records-per-type in the server's named.conf",
			maxRecordsPerType, owner, s.rtype, maxRecordsPerType, len(records))
		return &e
	case !dnsclient.IsRefused(err) || s.rtype != "MX":
		return err
	}
	for _, rd := range records {
		host := target(s.rtype, rd)
		if host == "" || !dnsclient.InZone(s.zone, host) {
			continue
		}
		types, qerr := cl.Types(ctx, s.zone, host)
		if qerr != nil {
			continue
		}
		h := strings.TrimSuffix(host, ".")
		switch {
		case slices.Contains(types, "CNAME"):
			why = append(why, fmt.Sprintf("%s is a CNAME (BIND logs \"%s/MX '%s' is a CNAME (illegal)\")", host, owner, h))
		case !slices.Contains(types, "A") && !slices.Contains(types, "AAAA"):
			why = append(why, fmt.Sprintf("%s has no A or AAAA record (BIND logs \"%s/MX '%s' has no address records (A or AAAA)\")", host, owner, h))
		}
	}
	if len(why) == 0 {
		return err
	}
	e := *de
	e.Hint = fmt.Sprintf("The server refused the records, not the key: BIND's check-integrity (on by default for a primary zone) refuses an MX whose target inside the zone is not a host with address records. %s. Give the target an A or AAAA record first (a dns_record the mx_record depends on), or name a host that has one",
		strings.Join(why, "; "))
	return &e
}
