package dnscheck

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

func TestSchemaMatchesStruct(t *testing.T) {
	if err := resource.CheckStruct(schema, config{}); err != nil {
		t.Fatal(err)
	}
}

func strs(ss ...string) cty.Value { return strList(ss) }

// cfg is a configuration as the engine gives it (defaults applied), with
// attrs over a valid MX check.
func cfg(attrs map[string]cty.Value) cty.Value {
	m := map[string]cty.Value{
		"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"),
		"expect": strs("10 mail.new.example.com."), "resolvers": strs("9.9.9.9"),
		"match": cty.StringVal(DefaultMatch), "timeout": cty.StringVal(DefaultTimeout), "interval": cty.StringVal(DefaultInterval),
		"recursion": cty.True, "tcp": cty.False, "answers": cty.NullVal(cty.Map(cty.List(cty.String))),
	}
	for k, v := range attrs {
		m[k] = v
	}
	return cty.ObjectVal(m)
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		attrs map[string]cty.Value
		// want are "path: summary" of each problem, in order.
		want []string
	}{
		{"valid", nil, nil},
		{"name without a final dot", map[string]cty.Value{"name": cty.StringVal("Example.COM")}, nil},
		{"unicode name", map[string]cty.Value{"name": cty.StringVal("bücher.example")}, nil},
		{"empty name", map[string]cty.Value{"name": cty.StringVal("")}, []string{"name: No name"}},
		{"bad name", map[string]cty.Value{"name": cty.StringVal("exa mple.com.")}, []string{"name: Invalid name"}},
		{"bad type", map[string]cty.Value{"type": cty.StringVal("MXX")}, []string{"type: Unsupported record type"}},
		{"lower-case type", map[string]cty.Value{"type": cty.StringVal("mx")}, nil},
		{"bad rdata", map[string]cty.Value{"expect": strs("10 mail.new.example.com.", "mail.example.com.")}, []string{"expect[1]: Invalid record data"}},
		{"A rdata", map[string]cty.Value{"type": cty.StringVal("A"), "expect": strs("192.0.2.300")}, []string{"expect[0]: Invalid record data"}},
		{"unquoted TXT", map[string]cty.Value{"type": cty.StringVal("TXT"), "expect": strs("v=spf1 mx -all")}, []string{"expect[0]: Unquoted TXT record with spaces"}},
		{"two CNAMEs", map[string]cty.Value{"type": cty.StringVal("CNAME"), "expect": strs("a.example.com.", "b.example.com.")}, []string{"expect: More than one CNAME"}},
		{"no records expected", map[string]cty.Value{"expect": strs()}, nil},
		{"contains nothing", map[string]cty.Value{"expect": strs(), "match": cty.StringVal("contains")}, []string{"expect: Nothing to contain"}},
		{"bad match", map[string]cty.Value{"match": cty.StringVal("subset")}, []string{"match: Invalid match"}},
		{"no resolvers", map[string]cty.Value{"resolvers": strs()}, []string{"resolvers: No resolvers"}},
		{"resolver forms", map[string]cty.Value{"resolvers": strs("9.9.9.9", "1.1.1.1:53", "2620:fe::fe", "[2620:fe::9]:53", "127.0.0.1:5353")}, nil},
		{"resolver by name", map[string]cty.Value{"resolvers": strs("dns.google")}, []string{"resolvers[0]: Invalid resolver address"}},
		{"resolver name and port", map[string]cty.Value{"resolvers": strs("9.9.9.9", "dns.google:53")}, []string{"resolvers[1]: Invalid resolver address"}},
		{"resolver port", map[string]cty.Value{"resolvers": strs("9.9.9.9:0", "9.9.9.9:70000", "9.9.9.9:dns")},
			[]string{"resolvers[0]: Invalid resolver address", "resolvers[1]: Invalid resolver address", "resolvers[2]: Invalid resolver address"}},
		{"resolver twice", map[string]cty.Value{"resolvers": strs("9.9.9.9", "9.9.9.9:53")}, []string{"resolvers[1]: Resolver listed twice"}},
		{"bad timeout", map[string]cty.Value{"timeout": cty.StringVal("2 hours")}, []string{"timeout: Invalid duration"}},
		{"zero interval", map[string]cty.Value{"interval": cty.StringVal("0s")}, []string{"interval: Duration not positive"}},
		{"unknown expect", map[string]cty.Value{"expect": cty.UnknownVal(cty.List(cty.String))}, nil},
		{"unknown resolvers", map[string]cty.Value{"resolvers": cty.ListVal([]cty.Value{cty.UnknownVal(cty.String)})}, nil},
	}
	g := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := g.Validate(context.Background(), cfg(tc.attrs))
			var got []string
			var errs resource.AttrErrors
			if errors.As(err, &errs) {
				for _, e := range errs {
					got = append(got, pathString(e.Path)+": "+e.Summary)
					if e.Detail == "" {
						t.Errorf("%s: no detail", e.Summary)
					}
				}
			} else if err != nil {
				t.Fatalf("Validate: %v, want AttrErrors", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func pathString(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			b.WriteString(s.Name)
		case cty.IndexStep:
			n, _ := s.Key.AsBigFloat().Int64()
			b.WriteString("[" + itoa(n) + "]")
		}
	}
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDecode(t *testing.T) {
	s, err := decode(cfg(map[string]cty.Value{
		"name": cty.StringVal("Bücher.Example"), "type": cty.StringVal("txt"),
		"expect":    strs(`"v=spf1 " "mx -all"`, `"b"`),
		"resolvers": strs("9.9.9.9", "[2620:FE::fe]:5353"), "match": cty.StringVal("contains"), "timeout": cty.StringVal("2h"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := spec{
		name: "xn--bcher-kva.example.", rtype: "TXT", expect: []string{`"b"`, `"v=spf1 mx -all"`},
		resolvers: []resolver{{"9.9.9.9", "9.9.9.9:53"}, {"[2620:FE::fe]:5353", "[2620:fe::fe]:5353"}},
		contains:  true, timeout: 2 * time.Hour, interval: 10 * time.Second, recursion: true,
	}
	if diff := cmp.Diff(want, s, cmp.AllowUnexported(spec{}, resolver{})); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if _, err := decode(cfg(map[string]cty.Value{"type": cty.StringVal("BOGUS")})); err == nil {
		t.Error("decode of a bad type succeeded")
	}
}

func answered(label, rcode string, ttl uint32, recs ...string) seen {
	return seen{Resolver: label, Answer: &dnsclient.Answer{Rcode: rcode, TTL: ttl, Records: recs}}
}

func TestAnswersAndSummary(t *testing.T) {
	s, err := decode(cfg(map[string]cty.Value{"resolvers": strs("9.9.9.9", "1.1.1.1", "8.8.8.8", "192.0.2.1", "192.0.2.2", "192.0.2.3")}))
	if err != nil {
		t.Fatal(err)
	}
	xs := []seen{
		answered("9.9.9.9", "NOERROR", 3412, "10 mail.old.example.com."),
		answered("1.1.1.1", "NOERROR", 300, "10 mail.new.example.com."),
		answered("8.8.8.8", "NXDOMAIN", 60),
		answered("192.0.2.1", "SERVFAIL", 0),
		{Resolver: "192.0.2.2", Failure: "timeout", Error: "192.0.2.2:53: query example.com. MX: timeout"},
		answered("192.0.2.3", "NOERROR", 30),
	}
	wantSummary := "9.9.9.9 answers 10 mail.old.example.com. (TTL 3412 s left); 1.1.1.1 answers the expected records; " +
		"8.8.8.8 answers NXDOMAIN (TTL 60 s left); 192.0.2.1 answers SERVFAIL; " +
		"192.0.2.2 did not answer: 192.0.2.2:53: query example.com. MX: timeout; 192.0.2.3 answers no MX records (NODATA, TTL 30 s left)"
	if got := summary(s, xs); got != wantSummary {
		t.Errorf("summary:\n got %s\nwant %s", got, wantSummary)
	}
	wantAnswers := map[string][]string{
		"9.9.9.9": {"10 mail.old.example.com."}, "1.1.1.1": {"10 mail.new.example.com."}, "8.8.8.8": nil,
		"192.0.2.1": {"(SERVFAIL)"}, "192.0.2.2": {"(timeout)"}, "192.0.2.3": nil,
	}
	if diff := cmp.Diff(wantAnswers, answers(s, xs)); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	// Waiting: the lowest TTL among the wrong answers (not 1.1.1.1's),
	// capped by interval and the deadline.
	wrong := []seen{xs[0], xs[2], xs[3], xs[4], xs[5]}
	if d, why := nextLook(s, wrong, time.Hour); d != 10*time.Second {
		t.Errorf("nextLook: %v (%s), want the interval", d, why)
	}
	if d, why := nextLook(s, []seen{answered("a", "NOERROR", 3, "x")}, time.Hour); d != 3*time.Second+ttlMargin {
		t.Errorf("nextLook: %v (%s), want 3.1 s", d, why)
	}
	if d, _ := nextLook(s, []seen{answered("a", "NOERROR", 0, "x")}, time.Hour); d != minWait {
		t.Errorf("nextLook with TTL 0: %v, want %v", d, minWait)
	}
	if d, _ := nextLook(s, []seen{answered("a", "NOERROR", 3, "x")}, time.Second); d != time.Second {
		t.Errorf("nextLook before the deadline: %v, want 1 s", d)
	}
	err = s.timeoutError(wrong, len(xs))
	for _, want := range []string{"after 1h0m0s, 5 of 6 resolvers still do not answer example.com. MX with 10 mail.new.example.com.:", "9.9.9.9 answers 10 mail.old.example.com. (TTL 3412 s left)", "192.0.2.2 did not answer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout error %q lacks %q", err, want)
		}
	}
}

func TestMatch(t *testing.T) {
	exact, _ := decode(cfg(map[string]cty.Value{"expect": strs("10 a.example.com.")}))
	contains, _ := decode(cfg(map[string]cty.Value{"expect": strs("10 a.example.com."), "match": cty.StringVal("contains")}))
	none, _ := decode(cfg(map[string]cty.Value{"expect": strs()}))
	noRec, _ := decode(cfg(map[string]cty.Value{"expect": strs(), "recursion": cty.False}))
	both := answered("r", "NOERROR", 5, "10 a.example.com.", "20 b.example.com.")
	one := answered("r", "NOERROR", 5, "10 a.example.com.")
	nx := answered("r", "NXDOMAIN", 5)
	nxAuth := nx
	nxAuth.Answer = &dnsclient.Answer{Rcode: "NXDOMAIN", Authoritative: true}
	fail := answered("r", "SERVFAIL", 0)
	cases := []struct {
		name string
		s    spec
		x    seen
		want bool
	}{
		{"exact equal", exact, one, true},
		{"exact with more", exact, both, false},
		{"contains with more", contains, both, true},
		{"contains missing", contains, nx, false},
		{"none: NXDOMAIN", none, nx, true},
		{"none: records", none, one, false},
		{"none: SERVFAIL", none, fail, false},
		{"without recursion, not authoritative", noRec, nx, false},
		{"without recursion, authoritative", noRec, nxAuth, true},
	}
	for _, tc := range cases {
		if got := tc.x.passes(tc.s); got != tc.want {
			t.Errorf("%s: passes %v, want %v", tc.name, got, tc.want)
		}
	}
}
