package resourcetest

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// Suite is one resource instance put through the conformance suite.
type Suite struct {
	Type resource.Type
	// Addr is the instance address given in requests; default "TYPE.test".
	Addr string
	// Create is the configuration of the first apply and Update of the
	// second; both must change the real state. Build them with Config.
	// A gate (a type that implements resource.Checker and changes
	// nothing) needs only Create.
	Create, Update cty.Value
	// Observe returns the real state of the object, read without the type
	// (e.g. a file's bytes, mode and owner, or a main.cf and its tables).
	// Restores must bring back exactly the bytes it returned before.
	Observe func(t testing.TB) []byte
	// Faults is the injector the type reaches its hosts through: the type
	// was built with Faults.Getter, or its configuration names a server
	// through Faults.Proxy. Without it the transport faults are not
	// injected, and the subtest says so.
	Faults *Faults
	// Modes are the ways a transport fault strikes at every operation;
	// default Before only, plus After at the last operation (the whole
	// apply done, its last answer lost). After at every operation reaches
	// the same real states as Before at the next one, and differs only in
	// the type's own handling of the error: cheap types ask for both.
	Modes []Mode
	// Settle, when set, runs after every Apply and Restore, before the
	// real state is observed; e.g. it backdates a main.cf so that the
	// next Postfix command need not wait for it to settle.
	Settle func(t testing.TB)
}

// Conformance runs the suite against s, one named subtest each:
//
//   - "read changes nothing": Read and Plan of each configuration leave
//     the real state byte for byte as it was; a Read makes no file
//     operation that changes the host; two Reads agree.
//   - "restore with nothing applied": Restore with the first snapshot and
//     no journal changes nothing.
//   - "restore twice": after an apply of Create, Restore with its journal
//     puts back the first real state, and a second Restore keeps it.
//   - "lifecycle": create, no-op re-plan, update, no-op re-plan, rollback
//     of the update byte-identical, destroy (twice) byte-identical; see
//     Run. For a gate: Apply and Check change nothing.
//   - "fault at every transport operation": a clean Apply (of Create,
//     then of Update from the created state) is counted; then each of its
//     operations in turn fails (Faults; see Suite.Modes for when), and a
//     Restore with the snapshot and the journal recorded so far,
//     through hosts that no longer fail, must bring back the real state
//     byte for byte and a Read equal to the first. Apply must return an
//     error wrapping ErrInjected (any error, for a message failed on the
//     wire by Faults.Proxy) and must not panic. An apply that
//     survives a failure (a lookup of a kept copy, say) must still reach
//     its plan. For a gate: each operation of Apply and of Check fails in
//     turn, and nothing changes.
//   - "fault at every journal point": the same with the journal failing
//     at each Record in turn (Journal.FailAt).
//
// The subtests run in order on one real object, each starting where the
// one before left it: the first state.
func Conformance(t *testing.T, s Suite) {
	t.Helper()
	if s.Addr == "" {
		s.Addr = s.Type.Name() + ".test"
	}
	afterLast := len(s.Modes) == 0
	if afterLast {
		s.Modes = []Mode{Before}
	}
	_, gate := s.Type.(resource.Checker)
	if !gate && s.Update == cty.NilVal {
		t.Fatal("resourcetest: Suite.Update is required (only a gate may leave it out)")
	}
	start := s.Observe(t)
	run := func(name string, f func(t *testing.T, d *driver)) {
		t.Run(name, func(t *testing.T) {
			d := &driver{t: t, c: s.asCase(), log: Logger(t), faults: s.Faults, settle: s.Settle}
			d.sameBytesFatal("at the start of the subtest (an earlier one left the object changed)", start, s.Observe(t))
			f(t, d)
		})
	}
	run("read changes nothing", s.readChangesNothing)
	run("restore with nothing applied", s.restoreNothingApplied)
	run("restore twice", s.restoreTwice)
	if gate {
		run("lifecycle", s.gateLifecycle)
	} else {
		run("lifecycle", func(t *testing.T, d *driver) { d.lifecycle() })
	}
	run("fault at every transport operation", func(t *testing.T, d *driver) {
		if s.Faults == nil {
			t.Skipf("%s is not reached through resourcetest.Faults: no transport fault can be injected", s.Type.Name())
		}
		for _, step := range s.steps(gate) {
			for _, mode := range s.Modes {
				t.Run(step+"/"+mode.String(), func(t *testing.T) {
					d := d.sub(t)
					d.sameBytesFatal("at the start of the subtest (an earlier one left the object changed)", start, s.Observe(t))
					d.faultLoop(step, gate, afterLast, func(n int, m Mode) func() string {
						if m == Before {
							m = mode
						}
						s.Faults.FailAt(n, m)
						return s.Faults.Failed
					}, nil)
				})
			}
		}
	})
	run("fault at every journal point", func(t *testing.T, d *driver) {
		for _, step := range s.steps(gate) {
			t.Run(step, func(t *testing.T) {
				d := d.sub(t)
				d.sameBytesFatal("at the start of the subtest (an earlier one left the object changed)", start, s.Observe(t))
				d.faultLoop(step, gate, false, nil, func(n int) (*Journal, func() string) {
					j := &Journal{FailAt: n}
					return j, func() string {
						if j.Calls() >= n && n > 0 {
							return fmt.Sprintf("journal record %d", n)
						}
						return ""
					}
				})
			})
		}
	})
}

func (s Suite) asCase() Case {
	return Case{Type: s.Type, Addr: s.Addr, Create: s.Create, Update: s.Update, Observe: s.Observe}
}

func (s Suite) steps(gate bool) []string {
	if gate {
		return []string{"apply", "check"}
	}
	return []string{"create", "update"}
}

func (s Suite) configs() []cty.Value {
	if s.Update == cty.NilVal {
		return []cty.Value{s.Create}
	}
	return []cty.Value{s.Create, s.Update}
}

func (s Suite) readChangesNothing(t *testing.T, d *driver) {
	ctx := context.Background()
	for i, cfg := range s.configs() {
		name := []string{"create", "update"}[i]
		before := s.Observe(t)
		d.resetFaults()
		read := d.read(ctx, cfg)
		if d.faults != nil {
			if w := d.faults.Writes(); len(w) > 0 {
				t.Errorf("read of %s changed files on the host: %s", name, strings.Join(w, "; "))
			}
			t.Logf("read of %s: %d operations", name, d.faults.Count())
			d.resetFaults()
		}
		if _, err := s.Type.Plan(ctx, resource.PlanRequest{Addr: s.Addr, Config: cfg, Current: read.Current, Snapshot: read.Snapshot, Logger: d.log}); err != nil {
			t.Fatalf("plan of %s: %v", name, err)
		}
		if d.faults != nil {
			// Plan may write, on temporary copies (e.g. to check a table
			// with the host's own tools); Observe shows what stays.
			t.Logf("plan of %s: %d operations, %d writing: %s", name, d.faults.Count(), len(d.faults.Writes()), strings.Join(d.faults.Writes(), "; "))
		}
		d.sameBytesFatal("after read and plan of "+name, before, s.Observe(t))
		d.sameValue("second read of "+name, read.Current, d.read(ctx, cfg).Current)
	}
}

func (s Suite) restoreNothingApplied(t *testing.T, d *driver) {
	ctx := context.Background()
	obs0 := s.Observe(t)
	read0 := d.read(ctx, s.Create)
	d.restore(ctx, "restore with nothing applied", s.Create, read0.Snapshot, nil)
	d.back("after a restore with nothing applied", s.Create, obs0, read0.Current)
}

func (s Suite) restoreTwice(t *testing.T, d *driver) {
	ctx := context.Background()
	obs0 := s.Observe(t)
	read0 := d.read(ctx, s.Create)
	planned := d.planAny(ctx, "create", s.Create, read0)
	journal := d.apply(ctx, "create", s.Create, read0, planned)
	for _, step := range []string{"first restore", "second restore"} {
		d.restore(ctx, step, s.Create, read0.Snapshot, journal)
		d.back("after the "+step, s.Create, obs0, read0.Current)
	}
}

// gateLifecycle: a gate's Apply and Check change nothing, and its
// Restore is a no-op.
func (s Suite) gateLifecycle(t *testing.T, d *driver) {
	ctx := context.Background()
	obs0 := s.Observe(t)
	read0 := d.read(ctx, s.Create)
	planned := d.planAny(ctx, "gate", s.Create, read0)
	journal := d.apply(ctx, "gate", s.Create, read0, planned)
	if len(journal) > 0 {
		t.Logf("the gate's Apply recorded %d journal entries", len(journal))
	}
	d.back("after the gate's Apply", s.Create, obs0, read0.Current)
	cj := &Journal{}
	if p, err := d.check(ctx, s.Create, read0, planned, cj); p != "" || err != nil {
		t.Fatalf("check: %v%s", err, p)
	}
	d.back("after the gate's Check", s.Create, obs0, read0.Current)
	d.restore(ctx, "restore of the gate's Check", s.Create, read0.Snapshot, cj.Entries())
	d.back("after the restore of the gate's Check", s.Create, obs0, read0.Current)
	d.restore(ctx, "restore of the gate", s.Create, read0.Snapshot, journal)
	d.back("after the gate's Restore", s.Create, obs0, read0.Current)
}

// lifecycle is Run's sequence.
func (d *driver) lifecycle() {
	d.t.Helper()
	c := d.c
	ctx := context.Background()
	obs0 := c.Observe(d.t)
	read0 := d.read(ctx, c.Create)
	create := d.plan(ctx, "create", c.Create, read0, true)
	createJournal := d.apply(ctx, "create", c.Create, read0, create)
	obs1 := c.Observe(d.t)
	read1 := d.read(ctx, c.Create)
	d.reached("read after create", create, read1.Current)
	d.plan(ctx, "re-plan after create", c.Create, read1, false)

	read2 := d.read(ctx, c.Update)
	update := d.plan(ctx, "update", c.Update, read2, true)
	updateJournal := d.apply(ctx, "update", c.Update, read2, update)
	read3 := d.read(ctx, c.Update)
	d.reached("read after update", update, read3.Current)
	d.plan(ctx, "re-plan after update", c.Update, read3, false)

	d.restore(ctx, "rollback of the update", c.Update, read2.Snapshot, updateJournal)
	d.sameBytes("after rollback of the update", obs1, c.Observe(d.t))
	d.sameValue("read after rollback of the update", read1.Current, d.read(ctx, c.Create).Current)

	for _, step := range []string{"restore of the first snapshot", "second restore of the first snapshot"} {
		d.restore(ctx, step, c.Update, read0.Snapshot, createJournal)
		d.sameBytes("after "+step, obs0, c.Observe(d.t))
		d.sameValue("read after "+step, read0.Current, d.read(ctx, c.Create).Current)
	}
}

// faultLoop counts the operations of a clean Apply (or Check) of step,
// then fails each in turn; exactly one of transport and journal is set.
// transport(n, mode) arms the n-th failure (mode After overrides the
// loop's mode) and returns what reports the operation that failed;
// journal(n) returns a journal failing at its n-th record and the same
// report. With afterLast, one more attempt fails the last operation after
// it was done.
func (d *driver) faultLoop(step string, gate, afterLast bool, transport func(n int, mode Mode) func() string, journal func(n int) (*Journal, func() string)) {
	t, c := d.t, d.c
	ctx := context.Background()
	cfg := c.Create
	var created struct {
		snapshot []byte
		journal  [][]byte
	}
	obs0 := c.Observe(t)
	if step == "update" {
		// From the created state; it is undone at the end.
		r := d.read(ctx, c.Create)
		created.snapshot = r.Snapshot
		created.journal = d.apply(ctx, "create", c.Create, r, d.plan(ctx, "create", c.Create, r, true))
		cfg = c.Update
		defer func() {
			if t.Failed() {
				return
			}
			d.restore(ctx, "restore of the create", c.Update, created.snapshot, created.journal)
			d.sameBytesFatal("after the restore of the create", obs0, c.Observe(t))
		}()
	}
	base := c.Observe(t)
	baseRead := d.read(ctx, cfg)

	// One attempt: Apply (or Check) with failure n armed (0: none), then
	// Restore through hosts that no longer fail. It reports the failed
	// operation ("" when the attempt made fewer than n operations).
	attempt := func(n int, mode Mode) (failed string, survived bool, ops []string, records int) {
		d.resetFaults()
		read := d.read(ctx, cfg)
		planned := d.planAny(ctx, step, cfg, read)
		if !gate && planned.RawEquals(read.Current) {
			t.Fatalf("plan %s: no change to apply", step)
		}
		j := &Journal{}
		var report func() string
		if transport != nil {
			report = transport(n, mode)
		} else {
			j, report = journal(n)
		}
		var err error
		var panicked string
		if step == "check" {
			panicked, err = d.check(ctx, cfg, read, planned, j)
		} else {
			_, panicked, err = d.tryApply(ctx, cfg, read, planned, j)
		}
		failed = report()
		wire := false
		if d.faults != nil {
			ops, wire = d.faults.Ops(), d.faults.FailedOnWire()
		}
		records = j.Calls()
		d.resetFaults()
		what := fmt.Sprintf("%s with a failure at %s", step, failed)
		if transport != nil {
			what = fmt.Sprintf("%s failing %s %s", step, mode, failed)
		}
		switch {
		case panicked != "":
			t.Fatalf("%s panicked: %s", what, panicked)
		case failed == "" && err != nil:
			t.Fatalf("%s with no failure injected: %v", step, err)
		case failed == "":
		case err == nil && journal != nil:
			t.Errorf("%s returned no error: a step whose undo entry is not durable must not be taken", what)
		case err == nil && gate:
			t.Errorf("%s returned no error: the gate did not look", what)
		case err == nil:
			// Survived (e.g. a failed look for a kept copy makes another):
			// the apply must still have reached its plan.
			survived = true
			d.settleNow()
			d.reached(what+" (survived): read after", planned, d.read(ctx, cfg).Current)
			t.Logf("%s: survived", what)
		case !errors.Is(err, ErrInjected) && !wire:
			t.Errorf("%s returned an error that does not wrap the injected one: %v", what, err)
		default:
			t.Logf("%s: %v", what, err)
		}
		d.settleNow()
		d.restore(ctx, "restore after "+what, cfg, read.Snapshot, j.Entries())
		d.back("after "+what+" and a restore", cfg, base, baseRead.Current)
		return failed, survived, ops, records
	}

	_, _, ops, records := attempt(0, Before)
	clean := len(ops)
	if transport != nil {
		t.Logf("%s: a clean %s makes %d transport operations: %s", step, verbOf(step), clean, strings.Join(ops, "; "))
	} else {
		clean = records
		t.Logf("%s: a clean %s records %d journal entries", step, verbOf(step), clean)
	}
	start := time.Now()
	injected, survived := 0, 0
	for n := 1; ; n++ {
		if n > 4*clean+50 {
			t.Fatalf("%s: still failing at operation %d, of %d in a clean %s", step, n, clean, verbOf(step))
		}
		failed, ok, _, _ := attempt(n, Before)
		if failed == "" || t.Failed() {
			break
		}
		injected++
		if ok {
			survived++
		}
	}
	if afterLast && clean > 0 && !t.Failed() {
		if failed, ok, _, _ := attempt(clean, After); failed != "" {
			injected++
			if ok {
				survived++
			}
		}
	}
	t.Logf("%s: %d failures injected (%d survived), each restored byte for byte, in %v", step, injected, survived, time.Since(start).Round(time.Millisecond))
}

func verbOf(step string) string {
	if step == "check" {
		return "Check"
	}
	return "Apply"
}

// sub is d for a subtest.
func (d *driver) sub(t *testing.T) *driver {
	c := *d
	c.t, c.log = t, Logger(t)
	return &c
}

func (d *driver) resetFaults() {
	if d.faults != nil {
		d.faults.Reset()
	}
}

func (d *driver) settleNow() {
	if d.settle != nil {
		d.settle(d.t)
	}
}

// planAny plans config, change or not.
func (d *driver) planAny(ctx context.Context, step string, config cty.Value, read resource.ReadResponse) cty.Value {
	d.t.Helper()
	resp, err := d.c.Type.Plan(ctx, resource.PlanRequest{Addr: d.c.Addr, Config: config, Current: read.Current, Snapshot: read.Snapshot, Logger: d.log})
	if err != nil {
		d.t.Fatalf("plan %s: %v", step, err)
	}
	return resp.Planned
}

// tryApply applies planned, returning Apply's error and, when it
// panicked, the panic and its stack.
func (d *driver) tryApply(ctx context.Context, config cty.Value, read resource.ReadResponse, planned cty.Value, j resource.Journal) (resp resource.ApplyResponse, panicked string, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
		}
	}()
	resp, err = d.c.Type.Apply(ctx, resource.ApplyRequest{
		Addr: d.c.Addr, Config: config, Current: read.Current, Planned: planned, Snapshot: read.Snapshot,
		Journal: j, Progress: nopProgress{}, Logger: d.log,
	})
	if err == nil && resp.Wait != nil {
		err = fmt.Errorf("apply waits until %v (%s); the suite does not drive waits", resp.Wait.Until, resp.Wait.Reason)
	}
	return resp, "", err
}

// check runs a gate's Check with the journal j: what it records, a
// restore gets, as a rollback would.
func (d *driver) check(ctx context.Context, config cty.Value, read resource.ReadResponse, planned cty.Value, j resource.Journal) (panicked string, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
		}
	}()
	return "", d.c.Type.(resource.Checker).Check(ctx, resource.ApplyRequest{
		Addr: d.c.Addr, Config: config, Current: read.Current, Planned: planned, Snapshot: read.Snapshot,
		Journal: j, Progress: nopProgress{}, Logger: d.log,
	})
}

// back checks, fatally, that the real state is want and a Read of config
// gives current.
func (d *driver) back(step string, config cty.Value, want []byte, current cty.Value) {
	d.t.Helper()
	d.sameBytesFatal(step, want, d.c.Observe(d.t))
	if got := d.read(context.Background(), config).Current; !current.RawEquals(got) {
		d.t.Fatalf("read %s differs (-want +got):\n%s", step, cmp.Diff(current.GoString(), got.GoString()))
	}
}

func (d *driver) sameBytesFatal(step string, want, got []byte) {
	d.t.Helper()
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		d.t.Fatalf("real state %s differs (-want +got):\n%s", step, diff)
	}
}
