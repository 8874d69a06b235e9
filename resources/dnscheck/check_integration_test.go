package dnscheck_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/dnscheck"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
)

func strs(ss ...string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

// gate is the type under test with helpers that fail the test on
// unexpected errors.
type gate struct {
	t *testing.T
	g *dnscheck.Gate
}

func newGate(t *testing.T) gate { return gate{t, dnscheck.New()} }

// config is a valid configuration of attrs (defaults for the rest).
func (g gate) config(attrs map[string]cty.Value) cty.Value {
	g.t.Helper()
	c := resourcetest.Config(g.t, g.g, attrs)
	if err := g.g.Validate(context.Background(), c); err != nil {
		g.t.Fatalf("Validate: %v", err)
	}
	return c
}

func (g gate) readPlan(c cty.Value) (resource.ReadResponse, resource.PlanResponse) {
	g.t.Helper()
	return resourcetest.ReadPlan(context.Background(), g.t, g.g, c)
}

func (g gate) apply(c cty.Value, log hclog.Logger) error {
	g.t.Helper()
	r, p := g.readPlan(c)
	if log == nil {
		log = resourcetest.Logger(g.t)
	}
	_, err := g.g.Apply(context.Background(), resource.ApplyRequest{Config: c, Current: r.Current, Planned: p.Planned, Snapshot: r.Snapshot,
		Journal: &resourcetest.Journal{}, Logger: log})
	return err
}

// answers is the computed answers attribute of a value.
func answers(v cty.Value) map[string][]string {
	out := map[string][]string{}
	for k, l := range v.GetAttr("answers").AsValueMap() {
		out[k] = []string{}
		for _, e := range l.AsValueSlice() {
			out[k] = append(out[k], e.AsString())
		}
	}
	return out
}

// TestAuthoritative asks BIND, authoritative for example.com, directly:
// records, TXT joined, contains, NXDOMAIN and NODATA expected and not,
// without recursion and over TCP; and a wrong expectation times out
// naming the server and what it answers.
func TestAuthoritative(t *testing.T) {
	t.Parallel()
	n := testbed.Named(t, testbed.NamedOptions{Addr: "127.0.0.4"})
	g := newGate(t)
	srv := strs(n.Server())
	n.SetRRset(t, "split.example.com.", "TXT", 300, `"v=spf1 " "ip4:192.0.2.1 -all"`)

	pass := []struct {
		name  string
		attrs map[string]cty.Value
	}{
		{"MX", map[string]cty.Value{"name": cty.StringVal("Example.COM"), "type": cty.StringVal("mx"), "expect": strs("10 MAIL.OLD.example.com")}},
		{"TXT joined", map[string]cty.Value{"name": cty.StringVal("split.example.com."), "type": cty.StringVal("TXT"), "expect": strs(`"v=spf1 ip4:192.0.2.1 -all"`)}},
		{"A contains", map[string]cty.Value{"name": cty.StringVal("mail.old.example.com."), "type": cty.StringVal("A"), "expect": strs("127.0.0.2"), "match": cty.StringVal("contains")}},
		{"NXDOMAIN", map[string]cty.Value{"name": cty.StringVal("nothing.example.com."), "type": cty.StringVal("A"), "expect": strs()}},
		{"NODATA", map[string]cty.Value{"name": cty.StringVal("imap.example.com."), "type": cty.StringVal("AAAA"), "expect": strs()}},
		{"no recursion", map[string]cty.Value{"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"), "expect": strs("10 mail.old.example.com."), "recursion": cty.False}},
		{"TCP", map[string]cty.Value{"name": cty.StringVal("example.com."), "type": cty.StringVal("TXT"), "expect": strs(`"v=spf1 mx -all"`), "tcp": cty.True}},
	}
	for _, tc := range pass {
		t.Run(tc.name, func(t *testing.T) {
			g := gate{t, g.g}
			tc.attrs["resolvers"] = srv
			c := g.config(tc.attrs)
			r, p := g.readPlan(c)
			if !p.Planned.RawEquals(r.Current) || p.Summary != "" {
				t.Errorf("plan is a change: %s\ncurrent %#v\nplanned %#v", p.Summary, r.Current, p.Planned)
			}
			start := time.Now()
			if err := g.apply(c, nil); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if err := g.g.Check(context.Background(), resource.ApplyRequest{Config: c, Current: r.Current, Planned: p.Planned, Snapshot: r.Snapshot, Journal: &resourcetest.Journal{}}); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Apply and Check of a gate that holds took %v", took)
			}
		})
	}

	fail := []struct {
		name  string
		attrs map[string]cty.Value
		// want is what the error and the summary say the server answers.
		want string
		// answer is the server's entry in answers.
		answer []string
	}{
		{"new MX not there yet", map[string]cty.Value{"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"), "expect": strs("10 mail.new.example.com.")},
			"answers 10 mail.old.example.com. (TTL 86400 s left)", []string{"10 mail.old.example.com."}},
		{"records where none expected", map[string]cty.Value{"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"), "expect": strs()},
			"answers 10 mail.old.example.com. (TTL 86400 s left)", []string{"10 mail.old.example.com."}},
		{"NXDOMAIN where records expected", map[string]cty.Value{"name": cty.StringVal("nothing.example.com."), "type": cty.StringVal("A"), "expect": strs("192.0.2.1")},
			"answers NXDOMAIN (TTL 60 s left)", []string{}},
		{"contains, one missing", map[string]cty.Value{"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"), "expect": strs("10 mail.old.example.com.", "20 mail.new.example.com."), "match": cty.StringVal("contains")},
			"answers 10 mail.old.example.com. (TTL 86400 s left)", []string{"10 mail.old.example.com."}},
		{"REFUSED outside its zones", map[string]cty.Value{"name": cty.StringVal("example.net."), "type": cty.StringVal("MX"), "expect": strs(), "recursion": cty.False},
			"answers REFUSED", []string{"(REFUSED)"}},
	}
	for _, tc := range fail {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := gate{t, g.g}
			tc.attrs["resolvers"] = srv
			tc.attrs["timeout"] = cty.StringVal("2s")
			c := g.config(tc.attrs)
			r, p := g.readPlan(c)
			if p.Planned.RawEquals(r.Current) {
				t.Errorf("plan is no change")
			}
			if want := n.Server() + " " + tc.want; p.Summary != want {
				t.Errorf("summary %q, want %q", p.Summary, want)
			}
			if got := answers(r.Current)[n.Server()]; strings.Join(got, "|") != strings.Join(tc.answer, "|") {
				t.Errorf("answers %q, want %q", got, tc.answer)
			}
			start := time.Now()
			err := g.apply(c, nil)
			took := time.Since(start)
			if err == nil {
				t.Fatal("Apply passed")
			}
			t.Logf("Apply after %v: %v", took.Round(time.Millisecond), err)
			if took < 2*time.Second || took > 6*time.Second {
				t.Errorf("Apply gave up after %v, want about 2 s", took)
			}
			if !strings.Contains(err.Error(), n.Server()+" "+tc.want) || !strings.Contains(err.Error(), "after 2s, 1 of 1 resolvers still do not answer") {
				t.Errorf("error %q does not name the server and what it answers (%s)", err, tc.want)
			}
		})
	}
}

// TestCachedAnswer: a caching resolver keeps the old MX for its TTL after
// the zone changed. The plan shows it; apply waits until that TTL has run
// out (and not the 10 s poll interval) and then passes.
func TestCachedAnswer(t *testing.T) {
	t.Parallel()
	n := testbed.Named(t, testbed.NamedOptions{Addr: "127.0.0.4"})
	res := testbed.Resolver(t, n.Server())
	g := newGate(t)
	const ttl = 4
	n.SetRRset(t, "example.com.", "MX", ttl, "10 mail.old.example.com.")
	primed := time.Now()
	if got, mx := res.Dig(t, "example.com.", "MX"); got > ttl || len(mx) != 1 || mx[0] != "10 mail.old.example.com." {
		t.Fatalf("resolver before the change: TTL %d %q", got, mx)
	}
	n.SetRRset(t, "example.com.", "MX", ttl, "10 mail.new.example.com.")

	c := g.config(map[string]cty.Value{
		"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"), "expect": strs("10 mail.new.example.com."),
		"resolvers": strs(res.Server(), n.Server()), "timeout": cty.StringVal("1m"),
	})
	r, p := g.readPlan(c)
	if time.Since(primed) >= (ttl-1)*time.Second {
		t.Skipf("the read came %v after the cache was primed: too late to see the cached answer (a very slow machine)", time.Since(primed))
	}
	if p.Planned.RawEquals(r.Current) {
		t.Fatal("plan is no change while the resolver has the old MX cached")
	}
	a := answers(r.Current)
	if got := a[res.Server()]; len(got) != 1 || got[0] != "10 mail.old.example.com." {
		t.Errorf("the resolver's answer %q, want the old MX from its cache", got)
	}
	if got := a[n.Server()]; len(got) != 1 || got[0] != "10 mail.new.example.com." {
		t.Errorf("the authoritative server's answer %q, want the new MX", got)
	}
	t.Logf("plan: %s", p.Summary)
	wantSummary := res.Server() + " answers 10 mail.old.example.com. (TTL "
	if !strings.HasPrefix(p.Summary, wantSummary) || !strings.HasSuffix(p.Summary, " s left); "+n.Server()+" answers the expected records") {
		t.Errorf("summary %q, want it to start %q and say the authoritative server answers as expected", p.Summary, wantSummary)
	}

	var logBuf syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: &logBuf})
	prog := &progress{}
	_, err := g.g.Apply(context.Background(), resource.ApplyRequest{Config: c, Current: r.Current, Planned: p.Planned, Snapshot: r.Snapshot,
		Journal: &resourcetest.Journal{}, Progress: prog, Logger: log})
	passed := time.Since(primed)
	t.Logf("Apply passed %v after the cache was primed; its log:\n%s", passed.Round(time.Millisecond), logBuf.String())
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// The cache holds the answer until at least the whole second after
	// ttl: a resolver counts whole seconds.
	if passed < (ttl-1)*time.Second {
		t.Errorf("Apply passed %v after the cache was primed, before the TTL of %d s could run out", passed, ttl)
	}
	// Woken by the TTL, not by the 10 s interval.
	if passed > (ttl+3)*time.Second {
		t.Errorf("Apply passed %v after the cache was primed, long after the TTL of %d s ran out", passed, ttl)
	}
	if !strings.Contains(logBuf.String(), "expires from its cache (TTL ") {
		t.Errorf("the log does not say the wait is for the cached answer's TTL")
	}
	if prog.total != 2 || prog.done != 2 {
		t.Errorf("progress %d of %d resolvers, want 2 of 2", prog.done, prog.total)
	}
	if _, mx := res.Dig(t, "example.com.", "MX"); len(mx) != 1 || mx[0] != "10 mail.new.example.com." {
		t.Errorf("resolver after Apply: %q", mx)
	}
}

// TestResolverDown: a resolver with nothing listening is reported, and
// apply fails after the timeout naming it, without hanging.
func TestResolverDown(t *testing.T) {
	t.Parallel()
	n := testbed.Named(t, testbed.NamedOptions{Addr: "127.0.0.4"})
	g := newGate(t)
	// A port nothing listens on: taken, then let go.
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.LocalAddr().String()
	l.Close()
	c := g.config(map[string]cty.Value{
		"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"), "expect": strs("10 mail.old.example.com."),
		"resolvers": strs(n.Server(), down), "timeout": cty.StringVal("3s"), "interval": cty.StringVal("1s"),
	})
	r, p := g.readPlan(c)
	if got := answers(r.Current)[down]; len(got) != 1 || got[0] != "(unreachable)" {
		t.Errorf("answers of the resolver that is down: %q", got)
	}
	if !strings.HasPrefix(p.Summary, n.Server()+" answers the expected records; "+down+" did not answer: ") {
		t.Errorf("summary %q", p.Summary)
	}
	start := time.Now()
	err = g.apply(c, nil)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Apply passed with a resolver down")
	}
	t.Logf("Apply after %v: %v", took.Round(time.Millisecond), err)
	if took < 3*time.Second || took > 8*time.Second {
		t.Errorf("Apply gave up after %v, want about 3 s", took)
	}
	for _, want := range []string{"1 of 2 resolvers", down + " did not answer", "nothing listens at " + down + " (connection refused)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), n.Server()) {
		t.Errorf("error %q names the resolver that answers as expected", err)
	}

	// Interrupted: Apply returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	long := g.config(map[string]cty.Value{
		"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"), "expect": strs("10 mail.new.example.com."), "resolvers": strs(n.Server()),
	})
	looked := make(chan struct{})
	prog := &progress{looked: looked}
	go func() {
		_, err := g.g.Apply(ctx, resource.ApplyRequest{Config: long, Current: r.Current, Planned: p.Planned, Journal: &resourcetest.Journal{}, Progress: prog})
		done <- err
	}()
	<-looked
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("interrupted Apply: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Apply still waiting 5 s after it was interrupted")
	}
}

// progress records Total and Add; looked is closed at Total (the first
// look is under way).
type progress struct {
	mu          sync.Mutex
	total, done int64
	looked      chan struct{}
}

func (p *progress) Total(units int64, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = units
	if p.looked != nil {
		close(p.looked)
		p.looked = nil
	}
}

func (p *progress) Add(units int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += units
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
