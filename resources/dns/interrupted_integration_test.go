package dns

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/resourcetest"
)

// TestTransitionInterrupted: an apply killed part way through a TTL
// transition never recorded its result (the switch time, the wait it was
// in). The next apply gets the killed one's journal entries as the
// engine passes them (Interrupted) and must neither lose the TTL hold nor
// cut a wait short, against a real named.
func TestTransitionInterrupted(t *testing.T) {
	const oldTTL, transTTL, finalTTL = 3, 2, 4
	oldMX, newMX := []string{"10 mail.old.example.com."}, []string{"10 mail.new.example.com."}
	setUp := func(t *testing.T) (*bed, *life) {
		b := newBed(t, "127.0.0.4")
		b.n.SetTTL(t, "example.com.", "MX", oldTTL)
		return b, newMXLife(t, b, b.server(t, "hmac-sha256"), finalTTL, transTTL, "1h", resourcetest.Logger(t))
	}
	// kill forgets what the state would have recorded: the killed apply
	// never wrote its result. What it journalled is what it leaves.
	kill := func(l *life) {
		l.interrupted = l.journal.Entries()
		l.journal = resourcetest.Journal{}
		l.prior = nil
	}
	switchedAt := func(t *testing.T, l *life) time.Time {
		t.Helper()
		var p private
		if l.prior == nil || json.Unmarshal(l.prior.Private, &p) != nil || p.SwitchedAt.IsZero() {
			t.Fatalf("no switch time recorded: %+v", l.prior)
		}
		return p.SwitchedAt
	}

	t.Run("killed after the switch", func(t *testing.T) {
		b, l := setUp(t)
		read, plan, _ := l.plan()
		resp, _ := l.apply(read, plan) // lower
		waitUntil(t, resp.Wait)
		read, plan, _ = l.plan()
		beforeSwitch := time.Now()
		resp, _ = l.apply(read, plan) // switch; then wait_after_change
		if resp.Wait == nil {
			t.Fatal("no wait after the switch")
		}
		b.expect(t, transTTL, newMX)
		kill(l)

		read, plan, _ = l.plan()
		t.Logf("plan after the kill: %s; pending %q", plan.Summary, plan.Pending)
		if !plan.Unfinished || !plan.Planned.RawEquals(read.Current) {
			t.Fatalf("plan after the kill: unfinished %v, change %v; want an unfinished instance with nothing to change", plan.Unfinished, !plan.Planned.RawEquals(read.Current))
		}
		if !strings.HasPrefix(plan.Pending, "TTL stays at 2 until ") || !strings.Contains(plan.Summary, "interrupted apply switched") {
			t.Errorf("plan after the kill: summary %q, pending %q", plan.Summary, plan.Pending)
		}
		serial := b.n.ZoneSerial(t, "example.com.")
		resp, _ = l.apply(read, plan)
		// The wait the killed apply was in: the TTL before the switch,
		// from the switch (and the client's timeout, 2 s here, as margin).
		if resp.Wait == nil || resp.Wait.Until.Before(beforeSwitch.Add(transTTL*time.Second)) || resp.Wait.Until.After(time.Now().Add((transTTL+3)*time.Second)) {
			t.Fatalf("wait after the kill = %+v, want the rest of the %ds after the switch", resp.Wait, transTTL)
		}
		at := switchedAt(t, l)
		if at.Before(beforeSwitch) || at.After(time.Now().Add(3*time.Second)) {
			t.Errorf("switch recorded at %s, the switch was at %s", at, beforeSwitch)
		}
		waitUntil(t, resp.Wait)
		read, plan, _ = l.plan()
		resp, _ = l.apply(read, plan)
		if resp.Wait != nil || b.n.ZoneSerial(t, "example.com.") != serial {
			t.Errorf("carrying on changed the zone or waited again: %+v", resp.Wait)
		}
		b.expect(t, transTTL, newMX)

		// Once recorded, the next run (the journal closed) holds too.
		l.interrupted = nil
		read, plan, _ = l.plan()
		if plan.Unfinished || !plan.Planned.RawEquals(read.Current) || !strings.HasPrefix(plan.Pending, "TTL stays at 2 until ") {
			t.Errorf("plan after carrying on: unfinished %v, pending %q; want the hold", plan.Unfinished, plan.Pending)
		}
	})

	t.Run("killed in the wait after lowering", func(t *testing.T) {
		b, l := setUp(t)
		read, plan, _ := l.plan()
		lowered := time.Now()
		resp, _ := l.apply(read, plan) // lower, then wait the old TTL
		if resp.Wait == nil {
			t.Fatal("no wait after lowering")
		}
		b.expect(t, transTTL, oldMX)
		kill(l)

		read, plan, _ = l.plan()
		t.Logf("plan after the kill: %s", plan.Summary)
		if plan.Planned.RawEquals(read.Current) || !strings.Contains(plan.Summary, "interrupted apply lowered the TTL 3→2") {
			t.Errorf("plan after the kill: summary %q", plan.Summary)
		}
		serial := b.n.ZoneSerial(t, "example.com.")
		resp, _ = l.apply(read, plan)
		if resp.Wait == nil || resp.Wait.Until.Before(lowered.Add(oldTTL*time.Second)) {
			t.Fatalf("the switch did not wait for the old TTL: %+v", resp.Wait)
		}
		if b.n.ZoneSerial(t, "example.com.") != serial {
			t.Error("switched before the old TTL ran out")
		}
		b.expect(t, transTTL, oldMX)
		waitUntil(t, resp.Wait)
		if time.Since(lowered) < oldTTL*time.Second {
			t.Fatal("waited less than the old TTL")
		}
		read, plan, _ = l.plan()
		before := time.Now()
		resp, _ = l.apply(read, plan)
		b.expect(t, transTTL, newMX)
		if at := switchedAt(t, l); at.Before(before) {
			t.Errorf("switch recorded at %s, before it happened (%s)", at, before)
		}
	})
}
