package dns

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// inst is one instance of a plan the tests drive as the engine does:
// Read, Plan, then the plan-wide CheckPlan of each type.
type inst struct {
	addr string
	typ  resource.Type
	cfg  cty.Value
}

// planAll reads and plans every instance (failing the test on an error
// there) and returns the problems of CheckPlan of both types.
func planAll(t *testing.T, insts ...inst) []resource.PlanProblem {
	t.Helper()
	ctx := context.Background()
	insts = slices.Clone(insts)
	slices.SortFunc(insts, func(a, b inst) int { return strings.Compare(a.addr, b.addr) }) // as the engine gives them
	var planned []resource.PlannedInstance
	types := map[string]resource.PlanChecker{}
	for _, in := range insts {
		read, err := in.typ.Read(ctx, resource.ReadRequest{Addr: in.addr, Config: in.cfg})
		if err != nil {
			t.Fatalf("read %s: %v", in.addr, err)
		}
		p, err := in.typ.Plan(ctx, resource.PlanRequest{Addr: in.addr, Config: in.cfg, Current: read.Current, Snapshot: read.Snapshot})
		if err != nil {
			t.Fatalf("plan %s: %v", in.addr, err)
		}
		planned = append(planned, resource.PlannedInstance{Addr: in.addr, Type: in.typ.Name(), Config: in.cfg, Current: read.Current, Planned: p.Planned})
		types[in.typ.Name()] = in.typ.(resource.PlanChecker)
	}
	var probs []resource.PlanProblem
	for _, name := range []string{"dns_record", "mx_record"} {
		if c, ok := types[name]; ok {
			probs = append(probs, c.CheckPlan(ctx, resource.CheckPlanRequest{Instances: planned})...)
		}
	}
	return probs
}

// attrErr is the first attribute problem of err.
func attrErr(err error) *resource.AttrError {
	switch e := err.(type) {
	case *resource.AttrError:
		return e
	case resource.AttrErrors:
		return e[0]
	}
	return nil
}

// TestPlanKeyCheck: a wrong key fails the plan, once per dns_server
// block, on its server attribute, with the server's own verdict, before
// anything is changed; the right key costs one round trip per plan.
func TestPlanKeyCheck(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	k := b.n.Keys["hmac-sha256"]
	good := resource.DNSServer{Name: "primary", Address: b.n.Server(), TSIGKeyName: k.Name, TSIGAlgorithm: k.Algorithm, TSIGSecret: k.Secret}
	tests := []struct {
		name    string
		srv     func(s *resource.DNSServer)
		now     func() time.Time
		summary string
		detail  string
	}{
		{"right key", nil, nil, "", ""},
		{"wrong secret", func(s *resource.DNSServer) { s.TSIGSecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=" }, nil, "TSIG signature rejected (BADSIG)", "check tsig_secret"},
		{"unknown key", func(s *resource.DNSServer) { s.TSIGKeyName = "nosuchkey." }, nil, "TSIG key unknown to the DNS server (BADKEY)", "check tsig_key_name"},
		{"clock an hour ahead", nil, func() time.Time { return time.Now().Add(time.Hour) }, "Clock outside the TSIG time window (BADTIME)", "NTP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			if tc.srv != nil {
				tc.srv(&s)
			}
			pool := dnsclient.NewPool(resourcetest.Logger(t), dnsclient.Options{Timeout: 2 * time.Second, Now: tc.now})
			rec, mx := NewRecord(pool), NewMX(pool)
			srv := serverValue(t, s)
			mxCfg := resourcetest.Config(t, mx, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(300),
				"exchanges": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(10), "host": cty.StringVal("mail.new.example.com.")})})})
			var insts []inst
			insts = append(insts, inst{"mx_record.mx", mx, mxCfg})
			for i := range 5 {
				insts = append(insts, inst{fmt.Sprintf("dns_record.h%d", i), rec, resourcetest.Config(t, rec, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."),
					"name": cty.StringVal(fmt.Sprintf("h%d", i)), "type": cty.StringVal("A"), "ttl": cty.NumberIntVal(300), "records": strs("192.0.2.1")})})
			}
			cl, err := pool.Get(s)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			probs := planAll(t, insts...)
			t.Logf("plan of %d records: %s, %d round trips", len(insts), time.Since(start).Round(time.Millisecond), cl.RoundTrips())
			if tc.summary == "" {
				if len(probs) != 0 {
					t.Fatalf("problems with the right key: %v", probs)
				}
			} else {
				if len(probs) != 1 {
					t.Fatalf("%d problems, want one for the one dns_server block: %v", len(probs), probs)
				}
				ae := attrErr(probs[0].Err)
				if probs[0].Addr != "dns_record.h0" || ae == nil || ae.Summary != tc.summary || !ae.Path.Equals(cty.GetAttrPath("server")) ||
					!strings.Contains(ae.Detail, tc.detail) || !strings.Contains(ae.Detail, s.TSIGKeyName) || strings.Contains(ae.Detail, s.TSIGSecret) {
					t.Fatalf("problem at %s: %#v; want %q on server of dns_record.h0, naming the key and saying %q", probs[0].Addr, ae, tc.summary, tc.detail)
				}
				t.Logf("%s: %s", ae.Summary, ae.Detail)
			}
			// Reads: one per record, and one MX target check; the key
			// check is one more for all of them.
			if want := int64(len(insts) + 1 + 1); cl.RoundTrips() != want {
				t.Errorf("%d round trips, want %d", cl.RoundTrips(), want)
			}
			if _, rdata := b.n.Dig(t, "example.com.", "MX"); len(rdata) != 1 || rdata[0] != "10 mail.old.example.com." {
				t.Errorf("the plan changed the MX: %v", rdata)
			}
		})
	}
}

// TestPlanMXToPlannedCNAME: an MX (mx_record, or dns_record of type MX)
// whose target is a CNAME another instance of the plan creates fails the
// plan on that exchange; the server alone could not tell.
func TestPlanMXToPlannedCNAME(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	srv := b.server(t, "hmac-sha256")
	cname := inst{"dns_record.webmx", b.record, resourcetest.Config(t, b.record, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."),
		"name": cty.StringVal("webmx"), "type": cty.StringVal("CNAME"), "ttl": cty.NumberIntVal(300), "records": strs("mail.new.example.com.")})}
	mxTo := func(hosts ...string) inst {
		var exs []cty.Value
		for i, h := range hosts {
			exs = append(exs, cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(int64(10 * (i + 1))), "host": cty.StringVal(h)}))
		}
		return inst{"mx_record.mx", b.mx, resourcetest.Config(t, b.mx, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(300), "exchanges": cty.ListVal(exs)})}
	}
	recMX := inst{"dns_record.mx", b.record, resourcetest.Config(t, b.record, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."),
		"name": cty.StringVal("sub"), "type": cty.StringVal("MX"), "ttl": cty.NumberIntVal(300), "records": strs("10 mail.new.example.com.", "20 WebMX.example.com")})}
	tests := []struct {
		name  string
		insts []inst
		addr  string
		path  cty.Path
	}{
		{"mx_record", []inst{cname, mxTo("mail.new.example.com.", "webmx.example.com.")}, "mx_record.mx", cty.GetAttrPath("exchanges").IndexInt(1).GetAttr("host")},
		{"dns_record MX", []inst{cname, recMX}, "dns_record.mx", cty.GetAttrPath("records").IndexInt(1)},
		{"no CNAME planned", []inst{mxTo("mail.new.example.com.")}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probs := planAll(t, tc.insts...)
			if tc.addr == "" {
				if len(probs) > 0 {
					t.Fatalf("problems: %v", probs)
				}
				return
			}
			if len(probs) != 1 {
				t.Fatalf("%d problems, want 1: %v", len(probs), probs)
			}
			ae := attrErr(probs[0].Err)
			if probs[0].Addr != tc.addr || ae == nil || ae.Summary != "MX target is a CNAME" || !ae.Path.Equals(tc.path) || !strings.Contains(ae.Detail, "dns_record.webmx") {
				t.Fatalf("problem at %s: %#v", probs[0].Addr, ae)
			}
			t.Log(ae.Detail)
		})
	}
}

// TestRRsetSize: records no DNS message can hold fail validation; a
// replacement whose UPDATE (old records as prerequisite, new ones added)
// is too large fails the plan. Neither reaches the server.
func TestRRsetSize(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	ctx := context.Background()
	srv := b.server(t, "hmac-sha256")
	// Records of four 250-octet strings, so that the sizes matter before
	// BIND's 100 records per RRset do.
	txt := func(n, salt int) []string {
		var out []string
		for i := range n {
			s := fmt.Sprintf(`"%04d-%d-%s"`, i, salt, strings.Repeat("k", 240))
			out = append(out, strings.Repeat(s+" ", 3)+s)
		}
		return out
	}
	cfg := func(recs []string) cty.Value {
		return resourcetest.Config(t, b.record, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."),
			"name": cty.StringVal("dkim"), "type": cty.StringVal("TXT"), "ttl": cty.NumberIntVal(300), "records": strs(recs...)})
	}
	// Over 64 KiB: refused without the network.
	err := b.record.Validate(ctx, cfg(txt(70, 0)))
	if ae := attrErr(err); ae == nil || ae.Summary != "RRset too large for DNS" || !ae.Path.Equals(cty.GetAttrPath("records")) {
		t.Fatalf("validate of 70 TXT records of 1000 octets: %v", err)
	}
	t.Log(err)
	// 50 records fit; replacing them with 50 others does not.
	cl, err := b.pool.Get(mustServer(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Update(ctx, "example.com.", dnsclient.RRset{Name: "dkim.example.com.", Type: "TXT"}, dnsclient.RRset{Name: "dkim.example.com.", Type: "TXT", TTL: 300, Records: dnsclient.SortRecords(txt(50, 0))}); err != nil {
		t.Fatalf("50 TXT records: %v", err)
	}
	c := cfg(txt(50, 1))
	if err := b.record.Validate(ctx, c); err != nil {
		t.Fatal(err)
	}
	read, err := b.record.Read(ctx, resource.ReadRequest{Config: c})
	if err != nil {
		t.Fatal(err)
	}
	serial := b.n.ZoneSerial(t, "example.com.")
	_, err = b.record.Plan(ctx, resource.PlanRequest{Config: c, Current: read.Current, Snapshot: read.Snapshot})
	if ae := attrErr(err); ae == nil || ae.Summary != "Update too large for DNS" {
		t.Fatalf("plan replacing 50 large TXT records: %v", err)
	}
	t.Log(err)
	if b.n.ZoneSerial(t, "example.com.") != serial {
		t.Error("the zone changed")
	}
}

// TestUnicodeNames: a Unicode owner name and CNAME target are planned,
// stored and read back as A-labels; a name IDNA refuses is a diagnostic
// on its attribute.
func TestUnicodeNames(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	ctx := context.Background()
	srv := b.server(t, "hmac-sha256")
	cfg := resourcetest.Config(t, b.record, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."),
		"name": cty.StringVal("Bücher"), "type": cty.StringVal("CNAME"), "ttl": cty.NumberIntVal(300), "records": strs("münchen.example.com.")})
	if err := b.record.Validate(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	read, p := resourcetest.ReadPlan(ctx, t, b.record, cfg)
	if n, r := p.Planned.GetAttr("name").AsString(), p.Planned.GetAttr("records").Index(cty.NumberIntVal(0)).AsString(); n != "xn--bcher-kva.example.com." || r != "xn--mnchen-3ya.example.com." {
		t.Fatalf("planned %s -> %s, want the A-labels", n, r)
	}
	if _, err := b.record.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: p.Planned, Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}}); err != nil {
		t.Fatal(err)
	}
	if _, rdata := b.n.Dig(t, "xn--bcher-kva.example.com.", "CNAME"); len(rdata) != 1 || rdata[0] != "xn--mnchen-3ya.example.com." {
		t.Fatalf("stored: %v", rdata)
	}
	again, err := b.record.Read(ctx, resource.ReadRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if p2, err := b.record.Plan(ctx, resource.PlanRequest{Config: cfg, Current: again.Current, Snapshot: again.Snapshot}); err != nil || !p2.Planned.RawEquals(again.Current) {
		t.Fatalf("re-plan after the apply is not a no-op: %v\n%#v\n%#v", err, p2.Planned, again.Current)
	}

	bad := []struct {
		name string
		attr map[string]cty.Value
		path cty.Path
	}{
		{"owner name", map[string]cty.Value{"name": cty.StringVal("\u0301x"), "type": cty.StringVal("A"), "records": strs("192.0.2.1")}, cty.GetAttrPath("name")},
		{"CNAME target", map[string]cty.Value{"name": cty.StringVal("www"), "type": cty.StringVal("CNAME"), "records": strs("ab\u05d0.example.com.")}, cty.GetAttrPath("records").IndexInt(0)},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(300)}
			for k, v := range tc.attr {
				m[k] = v
			}
			err := b.record.Validate(ctx, resourcetest.Config(t, b.record, m))
			if ae := attrErr(err); ae == nil || !ae.Path.Equals(tc.path) || !strings.Contains(ae.Detail, "IDNA2008") {
				t.Fatalf("validate: %v", err)
			}
			t.Log(err)
		})
	}
	mxCfg := resourcetest.Config(t, b.mx, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(300),
		"exchanges": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(10), "host": cty.StringVal("ab\u05d0.example.com.")})})})
	if ae := attrErr(b.mx.Validate(ctx, mxCfg)); ae == nil || ae.Summary != "Invalid internationalised name" || !ae.Path.Equals(cty.GetAttrPath("exchanges").IndexInt(0).GetAttr("host")) {
		t.Fatalf("validate of an MX host IDNA refuses: %#v", ae)
	}
}

// TestRefusedExplained: BIND refuses an MX whose target in the zone has
// no address records (check-integrity); the error names that cause, as
// the server's log does, not allow-update or the key.
func TestRefusedExplained(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	ctx := context.Background()
	b.n.SetRRset(t, "alias.example.com.", "CNAME", 3600, "mail.new.example.com.")
	srv := b.server(t, "hmac-sha256")
	for _, host := range []string{"nohost.example.com.", "alias.example.com."} {
		t.Run(host, func(t *testing.T) {
			cfg := resourcetest.Config(t, b.mx, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(300),
				"exchanges": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(10), "host": cty.StringVal(host)})})})
			read, err := b.mx.Read(ctx, resource.ReadRequest{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			// The planned value as Plan would make it (Plan itself refuses
			// the CNAME target: this is what a server-side change between
			// plan and apply, or a plan made elsewhere, meets).
			s, err := b.mx.decode(cfg)
			if err != nil {
				t.Fatal(err)
			}
			planned := b.mx.value(cfg, s, s.ttl, s.records)
			_, err = b.mx.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: planned, Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}})
			if !dnsclient.IsRefused(err) {
				t.Fatalf("apply: %v, want REFUSED", err)
			}
			msg := err.Error()
			want := fmt.Sprintf("example.com/MX '%s' has no address records (A or AAAA)", strings.TrimSuffix(host, "."))
			if host == "alias.example.com." {
				want = "example.com/MX 'alias.example.com' is a CNAME (illegal)"
			}
			if !strings.Contains(msg, "check-integrity") || !strings.Contains(msg, want) || strings.Contains(msg, "allow-update") {
				t.Fatalf("REFUSED explained as: %s", msg)
			}
			t.Log(msg)
			log, _ := os.ReadFile(b.n.LogPath)
			if !strings.Contains(string(log), want) {
				t.Errorf("named's log does not say %q:\n%s", want, log)
			}
		})
	}
}

// TestTooManyRecordsExplained: BIND 9.18.28 and later fail an UPDATE
// leaving more than 100 records in an RRset with SERVFAIL; the error says
// so, as the server's log does.
func TestTooManyRecordsExplained(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	ctx := context.Background()
	var recs []string
	for i := range 101 {
		recs = append(recs, fmt.Sprintf("192.0.2.%d", i+1))
	}
	cfg := resourcetest.Config(t, b.record, map[string]cty.Value{"server": b.server(t, "hmac-sha256"), "zone": cty.StringVal("example.com."),
		"name": cty.StringVal("pool"), "type": cty.StringVal("A"), "ttl": cty.NumberIntVal(300), "records": strs(recs...)})
	read, p := resourcetest.ReadPlan(ctx, t, b.record, cfg)
	_, err := b.record.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: p.Planned, Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}})
	if err == nil {
		t.Skip("this named takes more than 100 records in an RRset (before BIND 9.18.28, or max-records-per-type raised)")
	}
	log, _ := os.ReadFile(b.n.LogPath)
	if !strings.Contains(err.Error(), "max-records-per-type") || !strings.Contains(err.Error(), "too many records (must not exceed 100)") || !strings.Contains(string(log), "too many records (must not exceed 100)") {
		t.Fatalf("apply of 101 records: %v\nlog:\n%s", err, log)
	}
	t.Log(err)
}
