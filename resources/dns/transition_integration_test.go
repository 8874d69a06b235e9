package dns

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// life drives one instance as the engine does: read, plan, apply with the
// state's Prior (Private and Wait) carried between applies.
type life struct {
	t       *testing.T
	typ     resource.Type
	cfg     cty.Value
	prior   *resource.Prior
	journal resourcetest.Journal
	log     hclog.Logger
	client  *dnsclient.Client
	// interrupted are the entries of an apply killed part way.
	interrupted [][]byte
}

// newMXLife is the life of example.com's MX record moving to
// mail.new.example.com. (TTL finalTTL) through srv, by way of transTTL
// held for hold, logged to log.
func newMXLife(t *testing.T, b *bed, srv cty.Value, finalTTL, transTTL int64, hold string, log hclog.Logger) *life {
	t.Helper()
	cfg := resourcetest.Config(t, b.mx, map[string]cty.Value{
		"server": srv, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(finalTTL),
		"transition_ttl": cty.NumberIntVal(transTTL), "transition_hold": cty.StringVal(hold), "wait_after_change": cty.True,
		"exchanges": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(10), "host": cty.StringVal("mail.new.example.com.")})}),
	})
	cl, err := b.pool.Get(mustServer(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	return &life{t: t, typ: b.mx, cfg: cfg, log: log, client: cl}
}

func (l *life) plan() (resource.ReadResponse, resource.PlanResponse, int64) {
	l.t.Helper()
	ctx := context.Background()
	before := l.client.RoundTrips()
	read, err := l.typ.Read(ctx, resource.ReadRequest{Addr: "mx_record.cutover", Config: l.cfg, Logger: l.log})
	if err != nil {
		l.t.Fatalf("read: %v", err)
	}
	plan, err := l.typ.Plan(ctx, resource.PlanRequest{Addr: "mx_record.cutover", Config: l.cfg, Current: read.Current, Snapshot: read.Snapshot, Prior: l.prior, Interrupted: l.interrupted, Logger: l.log})
	if err != nil {
		l.t.Fatalf("plan: %v", err)
	}
	return read, plan, l.client.RoundTrips() - before
}

// apply applies plan, resuming the prior wait if any, and records what the
// state would: Private, Wait, Result.
func (l *life) apply(read resource.ReadResponse, plan resource.PlanResponse) (resource.ApplyResponse, int64) {
	l.t.Helper()
	before := l.client.RoundTrips()
	var resume []byte
	if l.prior != nil && l.prior.Wait != nil {
		resume = l.prior.Wait.Resume
	}
	resp, err := l.typ.Apply(context.Background(), resource.ApplyRequest{Addr: "mx_record.cutover", Config: l.cfg, Current: read.Current, Planned: plan.Planned,
		Snapshot: read.Snapshot, Journal: &l.journal, Resume: resume, Interrupted: l.interrupted, Logger: l.log})
	if err != nil {
		l.t.Fatalf("apply: %v", err)
	}
	if l.prior == nil {
		l.prior = &resource.Prior{}
	}
	l.prior.Config, l.prior.Result, l.prior.Wait = l.cfg, plan.Planned, resp.Wait
	if resp.Private != nil {
		l.prior.Private = resp.Private
	}
	return resp, l.client.RoundTrips() - before
}

func waitUntil(t *testing.T, w *resource.Wait) {
	t.Helper()
	if w == nil {
		t.Fatal("no wait")
	}
	time.Sleep(time.Until(w.Until) + 50*time.Millisecond)
}

// TestTransition takes an MX through the steps of docs/resources/mx_record.md with TTLs
// of a few seconds — lower, wait, switch, wait (wait_after_change), hold,
// raise — while a resolver-like loop keeps asking: it must never see
// NXDOMAIN or an empty answer. Then restores (destroy) back to the exact
// RRset. The TSIG secret must be in no log, snapshot, journal entry or
// private record.
func TestTransition(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	const oldTTL, transTTL, finalTTL = 3, 2, 4
	b.n.SetTTL(t, "example.com.", "MX", oldTTL)
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Trace, Output: lockedWriter{&logMu, &logs}})
	srv := b.server(t, "hmac-sha256")
	secret := b.n.Keys["hmac-sha256"].Secret
	l := newMXLife(t, b, srv, finalTTL, transTTL, "3s", log)
	cfg := l.cfg
	oldMX, newMX := []string{"10 mail.old.example.com."}, []string{"10 mail.new.example.com."}

	// The resolver loop: its own client, so its round trips are not counted.
	watcher, err := dnsclient.New(mustServer(t, srv), nil, dnsclient.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var seen sync.Map
	var bad []string
	var badMu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			got, err := watcher.Read(context.Background(), "example.com.", "example.com.", "MX")
			switch {
			case err != nil:
				badMu.Lock()
				bad = append(bad, err.Error())
				badMu.Unlock()
			case !got.Exists():
				badMu.Lock()
				bad = append(bad, "empty answer")
				badMu.Unlock()
			default:
				seen.Store(strings.Join(got.Records, ",")+" ttl "+itoa(got.TTL), true)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() {
		stop.Store(true)
		<-done
	}()

	snapshot0 := func() []byte {
		r, _, _ := l.plan()
		return r.Snapshot
	}()

	// Step 1: lower the TTL, records unchanged, and wait the old TTL out.
	read, plan, planTrips := l.plan()
	t.Logf("plan: %s (%d round trips)", plan.Summary, planTrips)
	if !strings.HasPrefix(plan.Summary, "lower TTL 3→2, wait 3s, switch MX, hold 3s") {
		t.Errorf("summary %q", plan.Summary)
	}
	checkValue(t, "planned", plan.Planned, transTTL, "mail.new.example.com.")
	start := time.Now()
	resp, applyTrips := l.apply(read, plan)
	t.Logf("apply step 1: %d round trips, wait %s", applyTrips, resp.Wait.Reason)
	if resp.Wait == nil || resp.Wait.Until.Sub(start) < (oldTTL-1)*time.Second || resp.Wait.Until.Sub(start) > (oldTTL+1)*time.Second {
		t.Fatalf("step 1 wait = %+v, want about %ds", resp.Wait, oldTTL)
	}
	b.expect(t, transTTL, oldMX)

	// Step 2: switch the records, still at the transition TTL.
	waitUntil(t, resp.Wait)
	read, plan, planTrips = l.plan()
	t.Logf("plan on resume: %s (%d round trips)", plan.Summary, planTrips)
	if !strings.HasPrefix(plan.Summary, "switch MX at TTL 2") {
		t.Errorf("summary on resume %q", plan.Summary)
	}
	resp, applyTrips = l.apply(read, plan)
	t.Logf("apply step 2 (switch): %d round trips", applyTrips)
	b.expect(t, transTTL, newMX)
	var p private
	if err := json.Unmarshal(l.prior.Private, &p); err != nil || p.SwitchedAt.IsZero() {
		t.Fatalf("private after the switch: %s, %v", l.prior.Private, err)
	}

	// Step 3: wait_after_change waits the TTL before the switch.
	if resp.Wait == nil || time.Until(resp.Wait.Until) > transTTL*time.Second {
		t.Fatalf("wait after change = %+v", resp.Wait)
	}
	waitUntil(t, resp.Wait)
	read, plan, _ = l.plan()
	if !plan.Planned.RawEquals(read.Current) || plan.Pending == "" {
		t.Errorf("plan on resume after the switch: change %v, pending %q", !plan.Planned.RawEquals(read.Current), plan.Pending)
	}
	serial := b.n.ZoneSerial(t, "example.com.")
	resp, applyTrips = l.apply(read, plan)
	if resp.Wait != nil || b.n.ZoneSerial(t, "example.com.") != serial {
		t.Errorf("resume after the wait changed something: %+v", resp)
	}
	t.Logf("apply step 3 (done): %d round trips", applyTrips)

	// Step 4: hold, shown as pending; then raise.
	read, plan, _ = l.plan()
	t.Logf("pending: %s", plan.Pending)
	if !plan.Planned.RawEquals(read.Current) || !strings.HasPrefix(plan.Pending, "TTL stays at 2 until ") || !strings.HasSuffix(plan.Pending, "then rises to 4") {
		t.Errorf("plan during the hold: pending %q", plan.Pending)
	}
	time.Sleep(time.Until(p.SwitchedAt.Add(3*time.Second)) + 50*time.Millisecond)
	read, plan, planTrips = l.plan()
	if plan.Summary != "raise TTL 2→4" || plan.Pending != "" {
		t.Errorf("plan after the hold: summary %q pending %q", plan.Summary, plan.Pending)
	}
	resp, applyTrips = l.apply(read, plan)
	t.Logf("plan and apply of the raise: %d + %d round trips", planTrips, applyTrips)
	if resp.Wait != nil {
		t.Errorf("raise waits: %+v", resp.Wait)
	}
	b.expect(t, finalTTL, newMX)
	read, plan, _ = l.plan()
	if !plan.Planned.RawEquals(read.Current) || plan.Pending != "" {
		t.Errorf("plan after the raise: change or pending %q", plan.Pending)
	}

	stop.Store(true)
	<-done
	badMu.Lock()
	if len(bad) > 0 {
		t.Errorf("the query loop saw %d bad answers, e.g. %s", len(bad), bad[0])
	}
	badMu.Unlock()
	var states []string
	seen.Range(func(k, _ any) bool { states = append(states, k.(string)); return true })
	slices.Sort(states)
	t.Logf("the query loop saw: %v", states)
	for _, want := range []string{"10 mail.old.example.com. ttl 2", "10 mail.new.example.com. ttl 2", "10 mail.new.example.com. ttl 4"} {
		if !slices.Contains(states, want) {
			t.Errorf("the query loop never saw %q", want)
		}
	}

	// Destroy: back to the RRset before mailplan, exactly.
	if err := b.mx.Restore(context.Background(), resource.RestoreRequest{Addr: "mx_record.cutover", Config: cfg, Snapshot: snapshot0, Journal: l.journal.Entries(), Logger: log}); err != nil {
		t.Fatal(err)
	}
	b.expect(t, oldTTL, oldMX)

	for what, data := range map[string][]byte{"logs": logs.Bytes(), "snapshot": snapshot0, "private": l.prior.Private, "journal": bytes.Join(l.journal.Entries(), nil)} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the TSIG secret is in the %s", what)
		}
	}
	t.Logf("journal: %s", bytes.Join(l.journal.Entries(), []byte(" ")))
}

func (b *bed) expect(t *testing.T, ttl uint32, records []string) {
	t.Helper()
	gotTTL, got := b.n.Dig(t, "example.com.", "MX")
	if gotTTL != ttl || !slices.Equal(got, records) {
		t.Fatalf("named serves MX %v at TTL %d, want %v at %d", got, gotTTL, records, ttl)
	}
}

func checkValue(t *testing.T, what string, v cty.Value, ttl int64, host string) {
	t.Helper()
	if !v.GetAttr("ttl").RawEquals(cty.NumberIntVal(ttl)) {
		t.Errorf("%s ttl = %s, want %d", what, v.GetAttr("ttl").GoString(), ttl)
	}
	ex := v.GetAttr("exchanges").AsValueSlice()
	if len(ex) != 1 || ex[0].GetAttr("host").AsString() != host {
		t.Errorf("%s exchanges = %s", what, v.GetAttr("exchanges").GoString())
	}
}

func itoa(n uint32) string { return jsonNum(n) }

func jsonNum(n uint32) string { b, _ := json.Marshal(n); return string(b) }

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
