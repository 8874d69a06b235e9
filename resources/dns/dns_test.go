package dns

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
)

var testServer = cty.ObjectVal(map[string]cty.Value{
	"name": cty.StringVal("primary"), "address": cty.StringVal("192.0.2.53:53"),
	"tsig_key_name": cty.StringVal("mailplan."), "tsig_algorithm": cty.StringVal("hmac-sha256"),
	"tsig_secret": cty.StringVal("c2VjcmV0"),
})

func strs(ss ...string) cty.Value {
	var vs []cty.Value
	for _, s := range ss {
		vs = append(vs, cty.StringVal(s))
	}
	if len(vs) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	return cty.ListVal(vs)
}

func recordConfig(t *testing.T, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	base := map[string]cty.Value{"server": testServer, "zone": cty.StringVal("example.com"), "type": cty.StringVal("A"),
		"ttl": cty.NumberIntVal(3600), "records": strs("192.0.2.1")}
	for k, v := range attrs {
		base[k] = v
	}
	return resourcetest.Config(t, NewRecord(nil), base)
}

func TestResolveName(t *testing.T) {
	tests := []struct{ zone, name, want string }{
		{"example.com", "", "example.com."},
		{"example.com.", "@", "example.com."},
		{"example.com.", "imap", "imap.example.com."},
		{"Example.com.", "IMAP.example.com.", "imap.example.com."},
		{"example.com.", "_imaps._tcp", "_imaps._tcp.example.com."},
	}
	for _, tc := range tests {
		if got := resolveName(tc.zone, tc.name); got != tc.want {
			t.Errorf("resolveName(%q, %q) = %q, want %q", tc.zone, tc.name, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	mxEx := func(pref int64, host string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(pref), "host": cty.StringVal(host)})
	}
	tests := []struct {
		name  string
		mx    bool
		attrs map[string]cty.Value
		// want is the summaries of the problems, in order.
		want []string
	}{
		{name: "valid A", attrs: nil},
		{name: "valid TXT", attrs: map[string]cty.Value{"type": cty.StringVal("TXT"), "records": strs(`"v=spf1 mx -all"`)}},
		{name: "unquoted TXT", attrs: map[string]cty.Value{"type": cty.StringVal("TXT"), "records": strs(`v=spf1 mx -all`)}, want: []string{"Unquoted TXT record with spaces"}},
		{name: "bad rdata", attrs: map[string]cty.Value{"records": strs("192.0.2.1", "not-an-ip")}, want: []string{"Invalid A record"}},
		{name: "unsupported type", attrs: map[string]cty.Value{"type": cty.StringVal("NS")}, want: []string{"Unsupported record type"}},
		{name: "two CNAMEs", attrs: map[string]cty.Value{"type": cty.StringVal("CNAME"), "records": strs("a.example.com.", "b.example.com.")}, want: []string{"More than one CNAME"}},
		{name: "name outside zone", attrs: map[string]cty.Value{"name": cty.StringVal("mail.example.net.")}, want: []string{"Record name outside the zone"}},
		{name: "name relative trap", attrs: map[string]cty.Value{"name": cty.StringVal("imap.example.com")}, want: []string{"Record name relative to the zone"}},
		{name: "relative name", attrs: map[string]cty.Value{"name": cty.StringVal("imap")}},
		{name: "fractional ttl", attrs: map[string]cty.Value{"ttl": cty.NumberFloatVal(1.5)}, want: []string{"Invalid TTL"}},
		{name: "negative transition ttl", attrs: map[string]cty.Value{"transition_ttl": cty.NumberIntVal(-1)}, want: []string{"Invalid transition TTL"}},
		{name: "bad hold", attrs: map[string]cty.Value{"transition_hold": cty.StringVal("1 day")}, want: []string{"Invalid transition hold"}},
		{name: "empty records", attrs: map[string]cty.Value{"records": strs()}, want: []string{"No records"}},
		{name: "bad zone", attrs: map[string]cty.Value{"zone": cty.StringVal("exa mple.com")}, want: []string{"Invalid zone"}},
		{name: "mx valid", mx: true, attrs: map[string]cty.Value{"exchanges": cty.ListVal([]cty.Value{mxEx(10, "mail.new.example.com.")})}},
		{name: "mx bad preference", mx: true, attrs: map[string]cty.Value{"exchanges": cty.ListVal([]cty.Value{mxEx(70000, "mail.example.com.")})}, want: []string{"Invalid MX preference"}},
		{name: "mx bad host", mx: true, attrs: map[string]cty.Value{"exchanges": cty.ListVal([]cty.Value{mxEx(10, "mail..example.com")})}, want: []string{"Invalid mail exchanger"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var typ resource.Type = NewRecord(nil)
			base := map[string]cty.Value{"server": testServer, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(3600)}
			if tc.mx {
				typ = NewMX(nil)
			} else {
				base["type"], base["records"] = cty.StringVal("A"), strs("192.0.2.1")
			}
			for k, v := range tc.attrs {
				base[k] = v
			}
			err := typ.(resource.Validator).Validate(context.Background(), resourcetest.Config(t, typ, base))
			var got []string
			if err != nil {
				for _, e := range err.(resource.AttrErrors) {
					got = append(got, e.Summary)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate problems (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestDecodeAndValue(t *testing.T) {
	r := NewRecord(nil)
	cfg := recordConfig(t, map[string]cty.Value{"type": cty.StringVal("mx"), "name": cty.StringVal("Sub"),
		"records": strs("20 B.example.com", "10 a.example.com.", "10 a.example.com.")})
	s, err := r.decode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"10 a.example.com.", "20 b.example.com."}, s.records); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if s.name != "sub.example.com." || s.zone != "example.com." || s.rtype != "MX" || s.hold != time.Hour {
		t.Errorf("decoded %+v", s)
	}
	v := r.value(cfg, s, 300, s.records)
	s2, err := r.decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if s2.name != s.name || s2.ttl != 300 || !cmp.Equal(s2.records, s.records) {
		t.Errorf("value does not decode to itself: %+v", s2)
	}

	m := NewMX(nil)
	mcfg := resourcetest.Config(t, m, map[string]cty.Value{"server": testServer, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(86400),
		"exchanges": cty.ListVal([]cty.Value{
			cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(20), "host": cty.StringVal("b.example.com")}),
			cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(10), "host": cty.StringVal("Z.example.com.")}),
		})})
	ms, err := m.decode(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	mv := m.value(mcfg, ms, 86400, ms.records)
	hosts := []string{}
	for _, e := range mv.GetAttr("exchanges").AsValueSlice() {
		hosts = append(hosts, e.GetAttr("host").AsString())
	}
	if diff := cmp.Diff([]string{"z.example.com.", "b.example.com."}, hosts); diff != "" {
		t.Errorf("exchanges in preference order (-want +got):\n%s", diff)
	}
	if fp1, fp2 := m.Fingerprint(mv), m.Fingerprint(m.value(mcfg, ms, 300, ms.records)); string(fp1) == string(fp2) {
		t.Error("fingerprint ignores the TTL")
	}
	if c := m.Claims(mcfg); len(c) != 1 || !strings.Contains(c[0].Key, "example.com.\x00example.com.\x00MX") {
		t.Errorf("claims %+v", c)
	}
	if c1, c2 := r.Claims(cfg), r.Claims(recordConfig(t, map[string]cty.Value{"type": cty.StringVal("MX"), "name": cty.StringVal("sub.example.com."), "records": strs("10 x.example.com.")})); c1[0].Key != c2[0].Key {
		t.Errorf("relative and absolute names claim differently: %q %q", c1[0].Key, c2[0].Key)
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	u32 := func(n uint32) *uint32 { return &n }
	oldMX, newMX := []string{"10 mail.old.example.com."}, []string{"10 mail.new.example.com."}
	base := spec{zone: "example.com.", name: "example.com.", rtype: "MX", ttl: 86400, records: newMX, hold: time.Hour}
	withTT := base
	withTT.transitionTTL = u32(300)
	withWait := withTT
	withWait.waitAfter = true
	live := func(ttl uint32, recs []string) rrset { return rrset{Exists: true, TTL: ttl, Records: recs} }
	switched := &private{SwitchedAt: now.Add(-30 * time.Minute), Records: newMX}
	tests := []struct {
		name  string
		s     spec
		cur   rrset
		prior *private
		want  decision
	}{
		{"create", withTT, rrset{}, nil, decision{ttl: 86400, records: newMX, summary: "create 1 MX record at TTL 86400"}},
		{"no change", base, live(86400, newMX), nil, decision{ttl: 86400, records: newMX}},
		{"replace without transition", base, live(86400, oldMX), nil, decision{ttl: 86400, records: newMX, summary: "replace MX in one update at TTL 86400"}},
		{"transition from high TTL", withTT, live(86400, oldMX), nil, decision{ttl: 300, records: newMX,
			summary: "lower TTL 86400→300, wait 24h0m0s, switch MX, hold 1h0m0s, then raise TTL to 86400"}},
		{"transition with wait after", withWait, live(86400, oldMX), nil, decision{ttl: 300, records: newMX,
			summary: "lower TTL 86400→300, wait 24h0m0s, switch MX, hold 1h0m0s, wait 5m0s after the switch, then raise TTL to 86400"}},
		{"resume: TTL already low, switch", withTT, live(300, oldMX), nil, decision{ttl: 300, records: newMX,
			summary: "switch MX at TTL 300, hold 1h0m0s, then raise TTL to 86400"}},
		{"hold: raise pending", withTT, live(300, newMX), switched, decision{ttl: 300, records: newMX,
			pending: "TTL stays at 300 until 2026-11-29 12:30:00 UTC, then rises to 86400"}},
		{"hold over: raise", withTT, live(300, newMX), &private{SwitchedAt: now.Add(-2 * time.Hour), Records: newMX}, decision{ttl: 86400, records: newMX, summary: "raise TTL 300→86400"}},
		{"hold of other records does not apply", withTT, live(300, newMX), &private{SwitchedAt: now, Records: oldMX}, decision{ttl: 86400, records: newMX, summary: "raise TTL 300→86400"}},
		{"transition ttl not below ttl: plain", func() spec { s := base; s.transitionTTL = u32(86400); return s }(), live(86400, oldMX), nil,
			decision{ttl: 86400, records: newMX, summary: "replace MX in one update at TTL 86400"}},
		{"plain with wait after", func() spec { s := base; s.waitAfter = true; return s }(), live(600, oldMX), nil,
			decision{ttl: 86400, records: newMX, summary: "replace MX in one update at TTL 86400, wait 10m0s (the old TTL)"}},
		{"ttl only", base, live(3600, newMX), nil, decision{ttl: 86400, records: newMX, summary: "raise TTL 3600→86400"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(tc.s, tc.cur, tc.prior, now)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(decision{})); diff != "" {
				t.Errorf("decide (-want +got):\n%s", diff)
			}
		})
	}
}
