package postfix_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
)

// TestQueueDrain holds a message in a real queue (its relay target is
// down), checks that the gate counts it and times out naming it, then
// lets it go and checks that the gate opens once the queue is empty.
func TestQueueDrain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The relay target first, for its port; then stopped, so that mail
	// for example.org waits in the old queue.
	target := testbed.Postfix(t, testbed.PostfixOptions{Name: "target", Addr: "127.0.0.22", Domain: "example.org"})
	old := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.21",
		RelayHost: fmt.Sprintf("[%s]:%d", target.Addr, target.Port)})
	target.Stop(t)

	p := resourcetest.Pool(t)
	q := postfix.NewQueue(p)
	config := func(attrs map[string]cty.Value) cty.Value {
		attrs["host"] = resourcetest.HostValue(t, localHost)
		attrs["config_dir"] = cty.StringVal(old.ConfigDir)
		c := resourcetest.Config(t, q, attrs)
		if err := q.Validate(ctx, c); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return c
	}
	read := func(c cty.Value) resource.ReadResponse {
		t.Helper()
		resp, err := q.Read(ctx, resource.ReadRequest{Config: c, Logger: resourcetest.Logger(t)})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		return resp
	}
	count := func(resp resource.ReadResponse) int64 {
		t.Helper()
		n, _ := resp.Current.GetAttr("count").AsBigFloat().Int64()
		return n
	}
	plan := func(c cty.Value, r resource.ReadResponse) resource.PlanResponse {
		t.Helper()
		resp, err := q.Plan(ctx, resource.PlanRequest{Config: c, Current: r.Current, Snapshot: r.Snapshot, Logger: resourcetest.Logger(t)})
		if err != nil {
			t.Fatalf("Plan: %v", err)
		}
		return resp
	}
	apply := func(ctx context.Context, c cty.Value, r resource.ReadResponse, planned cty.Value) error {
		_, err := q.Apply(ctx, resource.ApplyRequest{Config: c, Current: r.Current, Planned: planned, Snapshot: r.Snapshot,
			Journal: &resourcetest.Journal{}, Logger: resourcetest.Logger(t)})
		return err
	}

	all := config(map[string]cty.Value{"timeout": cty.StringVal("3s")})
	if r := read(all); count(r) != 0 {
		t.Fatalf("count %d before any mail, want 0", count(r))
	} else if pr := plan(all, r); !pr.Planned.RawEquals(r.Current) || pr.Summary != "" {
		t.Fatalf("plan of an empty queue: planned %#v, current %#v, summary %q", pr.Planned, r.Current, pr.Summary)
	}

	if out, err := testbed.Swaks(t, old.SMTPAddr(), "sender@example.com", "user@example.org", nil, "held back\n"); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	r := read(all)
	if count(r) != 1 {
		t.Fatalf("count %d after one message, want 1; postqueue -j:\n%s", count(r), postqueue(t, old, "-j"))
	}
	id := queueIDs(t, old)[0]
	pr := plan(all, r)
	if pr.Planned.RawEquals(r.Current) {
		t.Fatal("plan of a non-empty queue is no change")
	}
	if want := "1 message in the queue (oldest " + id + " since "; !strings.HasPrefix(pr.Summary, want) {
		t.Errorf("summary %q, want it to start with %q", pr.Summary, want)
	}

	// Apply times out with the count and the queue id.
	start := time.Now()
	err := apply(ctx, all, r, pr.Planned)
	if err == nil {
		t.Fatal("Apply returned no error while the message is queued")
	}
	t.Logf("Apply: %v", err)
	if took := time.Since(start); took < 3*time.Second || took > 15*time.Second {
		t.Errorf("Apply gave up after %v, want about 3 s", took)
	}
	if !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "holds 1 message ") {
		t.Errorf("Apply error %q does not name the count and the queue id %s", err, id)
	}

	// A filter that matches no recipient of the queued message.
	other := config(map[string]cty.Value{"recipients": cty.StringVal(`^alice@example\.org$`), "timeout": cty.StringVal("3s")})
	ro := read(other)
	if count(ro) != 0 {
		t.Errorf("count %d for alice@example.org, want 0", count(ro))
	}
	pro := plan(other, ro)
	if !pro.Planned.RawEquals(ro.Current) {
		t.Errorf("plan for alice@example.org is a change: %s", pro.Summary)
	}
	if err := apply(ctx, other, ro, pro.Planned); err != nil {
		t.Errorf("Apply for alice@example.org: %v", err)
	}
	matching := config(map[string]cty.Value{"recipients": cty.StringVal(`@example\.org$`)})
	if rm := read(matching); count(rm) != 1 {
		t.Errorf("count %d for @example.org, want 1", count(rm))
	}

	// Let the message go: the gate opens once the queue is empty.
	gate := config(map[string]cty.Value{"timeout": cty.StringVal("2m")})
	rg := read(gate)
	done := make(chan error, 1)
	looked := &queueProgress{total: make(chan int64, 1)}
	planned := plan(gate, rg).Planned
	go func() {
		_, err := q.Apply(ctx, resource.ApplyRequest{Config: gate, Current: rg.Current, Planned: planned, Snapshot: rg.Snapshot,
			Journal: &resourcetest.Journal{}, Progress: looked, Logger: resourcetest.Logger(t)})
		done <- err
	}()
	// The gate has looked at the queue and found the message: from now on
	// it can only return once the queue drains.
	if n := <-looked.total; n != 1 {
		t.Fatalf("the gate found %d messages, want 1", n)
	}
	select {
	case err := <-done:
		t.Fatalf("Apply returned before the queue drained: %v", err)
	default:
	}
	target.Start(t)
	postqueue(t, old, "-f")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Apply after the flush: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("Apply still waiting 90 s after the flush")
	}
	if !old.QueueEmpty(t) {
		t.Error("Apply returned while the queue still holds mail")
	}
	target.WaitForMail(t, "user", "held back", 10*time.Second)
	if r := read(all); count(r) != 0 {
		t.Errorf("count %d after the drain, want 0", count(r))
	}

	// A stopped instance's queue is still read (postqueue reads it
	// directly when run as root and the mail system is down).
	old.Stop(t)
	if r := read(all); count(r) != 0 {
		t.Errorf("count %d of a stopped instance, want 0", count(r))
	}
}

// postqueue runs postqueue -c ConfigDir args... and returns its output.
func postqueue(t *testing.T, pf *testbed.PostfixInstance, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("postqueue")
	if err != nil {
		bin = "/usr/sbin/postqueue"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"-c", pf.ConfigDir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("postqueue -c %s %s: %v\n%s", pf.ConfigDir, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// queueIDs lists the queue ids of an instance with postqueue -j.
func queueIDs(t *testing.T, pf *testbed.PostfixInstance) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(postqueue(t, pf, "-j"), "\n") {
		if _, rest, ok := strings.Cut(line, `"queue_id": "`); ok {
			id, _, _ := strings.Cut(rest, `"`)
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Fatal("postqueue -j lists no message")
	}
	return ids
}

// queueProgress reports the count the gate found on its first look.
type queueProgress struct{ total chan int64 }

func (p *queueProgress) Total(units int64, what string) {
	select {
	case p.total <- units:
	default:
	}
}

func (p *queueProgress) Add(int64) {}
