package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/engine/states"
)

// TestOutageMatrix: the outage matrix of issue 10. sshd, named and the
// new Postfix are each stopped at one point of an apply of
// plans/examples/full-migration, and at one point of a `mailplan rollback`
// of it, on the loopback test bed (mailplan-testbed up, as `make demo`
// does); then the service is started again on the same address and port,
// and `mailplan rollback` is run again, without -force. It must exit 0 and
// leave everything byte-identical to "back", the ground truth read before
// the first apply: the bytes (and modes and owners) of every file in both
// Postfix configuration directories (main.cf, master.cf, the maps), the
// zone answers for what the plan manages (MX and TXT at each apex, the A
// records of imap. and smtp.), every file in both servers' Maildirs, and
// which services run. Each case starts at "back" and ends there; after
// every mailplan command `mailplan plan` must exit 0 or 2 (the state is
// never stuck) whenever the servers it reads run.
//
// The service is stopped by a positive marker, a record in the journal
// (.mailplan/state.json.journal), never after a sleep: for an apply, the
// first change (or done) record of a resource that needs it; for a
// rollback, the first "restoring" record of one, or the rollback's first
// record. outageCases says why each point, and what it must leave.
func TestOutageMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the outage matrix applies and rolls back the full migration a dozen times")
	}
	began := time.Now()
	bed := startTestBedCLI(t)
	bed.seed(t)
	bed.waitQueueEmpty(t, "OLD")
	bed.waitQueueEmpty(t, "NEW")
	svcs := outageServices(t, bed)
	back := outageRead(t, bed, svcs)
	t.Logf("back: %d configuration files and directories, %d Maildir entries, DNS %v, services %v",
		len(back.config), len(back.maildirs), back.dns, back.services)

	var results []*outageResult
	for _, c := range outageCases {
		t.Run(c.name(), func(t *testing.T) {
			r := outageRun(t, bed, svcs, back, c)
			r.passed = !t.Failed()
			results = append(results, r)
		})
	}

	// The figures for the closing note.
	var sum strings.Builder
	passed := 0
	for _, r := range results {
		if r.passed {
			passed++
		}
		fmt.Fprintf(&sum, "%s\n", r)
	}
	t.Logf("outage matrix: %d of %d points passed in %s\n%s", passed, len(results), time.Since(began).Round(time.Second), sum.String())
	fmt.Fprintf(os.Stderr, "OUTAGE matrix: points=%d passed=%d total=%s\n%s", len(results), passed, time.Since(began).Round(time.Second), sum.String())
}

// outageCase is one point of the matrix: a service stopped during an
// apply or during a rollback, where marker says.
type outageCase struct {
	service string // a key of the map outageServices returns
	phase   string // "apply" or "rollback"
	// point names the marker for the report.
	point  string
	marker outageMarker
	// undoneAtOnce is what the command cut by the outage must leave:
	// true when nothing that was left to undo needs the service, so the
	// automatic rollback (phase apply) or the rollback itself (phase
	// rollback) undoes everything and the retry finds nothing to roll
	// back; false when it must end with what it could not undo (apply:
	// "Some changes could not be undone"; rollback: exit 1, "Rollback
	// incomplete").
	undoneAtOnce bool
	// check, when set, checks the journal once the service was stopped:
	// that the point is the one meant.
	check func(recs []states.Record, changes []*states.Change) error
}

func (c outageCase) name() string {
	return strings.ReplaceAll(c.service, " ", "_") + "_during_" + c.phase
}

// The resource types of full-migration by the service they need: every
// one of the host types works over SSH; the DNS types talk to named.
var (
	outageSSHTypes = map[string]bool{"postfix_map": true, "mailbox_copy": true, "postfix_queue": true, "service_state": true}
	outageDNSTypes = map[string]bool{"mx_record": true, "dns_record": true}
)

// outageCases is the matrix. Why each point, and what it must leave:
//
//   - sshd, apply: stopped once the first change of a host resource is
//     done (the aliases on the new server, or the first mailbox copy):
//     the apply fails, and its automatic rollback cannot undo that change
//     (it is on a host). (Stopped at a host resource's first change
//     record instead, the change has often done nothing yet: a mailbox
//     copy cut off before its first message is undone without the host,
//     and the automatic rollback then completes. Both are right; only
//     this point has one outcome.)
//   - named, apply: stopped at the first change of a DNS record (the
//     aliases on both servers are done): the DNS switch fails; the
//     automatic rollback undoes the first copy, cannot undo the DNS
//     records it changed, and leaves the aliases, on which they depend.
//   - new Postfix, apply: stopped at the first change of a DNS record,
//     seconds before the relay's before_apply check (`postfix -c NEW
//     status` on the new server), which is the only step of the plan that
//     needs the new Postfix to run. (At the relay's own change record the
//     check starts at once: the stop would race it.) The check fails, and
//     the automatic rollback undoes everything, since no step of a
//     rollback needs the new Postfix to run: postfix_map reloads only a
//     Postfix that runs (resources/postfix/postconf.go, reloadIfRunning).
//   - sshd, rollback: stopped at the first "restoring" record (the old
//     Postfix started again, over SSH): that step and the rest fail or
//     are left.
//   - named, rollback: stopped at the first "restoring" record of a DNS
//     record: it and the other records fail, and the aliases are left.
//   - new Postfix, rollback: stopped as the rollback starts (its first
//     record, status rollback_failed), so that it is down when the
//     aliases on the new server are restored. No rollback step needs it
//     running (see above), so the rollback completes (exit 0), and the
//     retry finds nothing to roll back; a Postfix started later reads the
//     restored configuration.
var outageCases = []outageCase{
	{service: "sshd", phase: "apply", point: "first done record of a change to a host",
		marker: outageFirstDone(outageSSHTypes)},
	{service: "named", phase: "apply", point: "first change record of a DNS record",
		marker: outageFirstChange(outageDNSTypes)},
	{service: "new Postfix", phase: "apply", point: "first change record of a DNS record (the relay's check on the new server follows the DNS switch)",
		marker: outageFirstChange(outageDNSTypes), undoneAtOnce: true},
	{service: "sshd", phase: "rollback", point: "first restoring record of a host resource",
		marker: outageFirstRestoring(outageSSHTypes)},
	{service: "named", phase: "rollback", point: "first restoring record of a DNS record",
		marker: outageFirstRestoring(outageDNSTypes)},
	{service: "new Postfix", phase: "rollback", point: "the rollback's first record (status rollback_failed), before the new server's aliases are restored",
		marker: outageRollbackStarted, undoneAtOnce: true,
		check: func(recs []states.Record, changes []*states.Change) error {
			for _, r := range recs {
				if r.Op == "restoring" && r.Index < len(changes) && strings.HasPrefix(changes[r.Index].Addr, "postfix_map.aliases_new") {
					return fmt.Errorf("%s was already being restored when the new Postfix had stopped", changes[r.Index].Addr)
				}
			}
			return nil
		}},
}

// outageResult is what one point did, for the report.
type outageResult struct {
	c        outageCase
	stop     outageStop
	setup    time.Duration // phase rollback: the full apply before it
	cut      outageRunCLI  // the command the outage cut
	downPlan int           // exit code of the plan run while the service was down
	downErr  string        // its first error line, when it failed
	started  time.Duration // how long the service took to start again
	retry    outageRunCLI  // the rollback run once it was back
	plans    []int         // exit codes of the plans run with every server up
	total    time.Duration
	passed   bool
	// failed and held: what the cut command could not undo, and what it
	// left because something depending on it could not be undone, as the
	// state records them (see outageLeft).
	failed []string
	held   int
}

type outageRunCLI struct {
	code        int
	out, errs   string
	took        time.Duration
	firstOutput string
}

func (r *outageResult) String() string {
	status := "FAIL"
	if r.passed {
		status = "pass"
	}
	what := "automatic rollback"
	if r.c.phase == "rollback" {
		what = "rollback"
	}
	left := "nothing"
	if len(r.failed) > 0 || r.held > 0 {
		left = fmt.Sprintf("%d failed [%s], %d held", len(r.failed), strings.Join(r.failed, ", "), r.held)
	}
	setup := ""
	if r.setup > 0 {
		setup = fmt.Sprintf("full apply %s | ", r.setup.Round(time.Second))
	}
	return fmt.Sprintf("  %s %-28s %smarker %q seen %s into the %s (journal record %d), stopped in %s | %s exit %d (%s) | %s left: %s | plan while down: exit %d %s | started again in %s | retried rollback exit %d (%s) in %s | plans %v | case %s",
		status, r.c.name(), setup, r.stop.marker, r.stop.seen.Round(time.Millisecond), r.c.phase, r.stop.records, r.stop.took.Round(time.Millisecond),
		r.c.phase, r.cut.code, r.cut.took.Round(time.Second), what, left, r.downPlan, r.downErr,
		r.started.Round(time.Millisecond), r.retry.code, r.retry.firstOutput, r.retry.took.Round(time.Second), r.plans, r.total.Round(time.Second))
}

// outageRun runs one point of the matrix, from "back" to "back".
func outageRun(t *testing.T, bed *cliBed, svcs map[string]*outageService, back outageTruth, c outageCase) *outageResult {
	r := &outageResult{c: c}
	began := time.Now()
	defer func() { r.total = time.Since(began) }()
	svc := svcs[c.service]
	t.Logf("%s stopped during the %s at: %s", svc.name, c.phase, c.point)
	outageCheckBack(t, bed, svcs, back, "before the case")
	if t.Failed() {
		t.FailNow()
	}
	// A case that fails half way tries to get back for the next one:
	// the service started, and whatever is left rolled back by force.
	defer func() {
		if !t.Failed() {
			return
		}
		if !svc.running() {
			if _, err := svc.start(); err != nil {
				t.Logf("recovery: starting %s: %v", svc.name, err)
			}
		}
		code, out, errs := runCLI(t, bed.planDir, "rollback", "-auto-approve", "-force", "-var-file="+bed.varFile)
		t.Logf("recovery: rollback -force: exit %d\n%s%s", code, outageTail(out, 5), errs)
	}()

	journal := filepath.Join(bed.planDir, ".mailplan", "state.json.journal")
	var changes []*states.Change
	cmd := []string{"apply", "-auto-approve", "-var-file=" + bed.varFile}
	if c.phase == "rollback" {
		start := time.Now()
		code, out, errs := runCLI(t, bed.planDir, "apply", "-auto-approve", "-var-file="+bed.varFile)
		r.setup = time.Since(start)
		if code != 0 {
			t.Fatalf("apply before the rollback: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		r.plans = append(r.plans, outagePlan(t, bed, "after the full apply"))
		st := outageState(t, bed)
		if st.LastApply == nil {
			t.Fatal("the state records no apply after the full apply")
		}
		changes = st.LastApply.Changes
		cmd = []string{"rollback", "-auto-approve", "-var-file=" + bed.varFile}
	}

	// The command, with the service stopped at the marker.
	ctx, cancel := context.WithCancel(t.Context())
	start := time.Now()
	stopped := outageStopAt(ctx, journal, changes, c.marker, svc, start)
	code, out, errs := runCLI(t, bed.planDir, cmd...)
	r.cut = outageRunCLI{code: code, out: out, errs: errs, took: time.Since(start)}
	cancel()
	r.stop = <-stopped
	t.Logf("%s with %s stopped at %q (%s in, journal record %d; stop took %s): exit %d after %s\nstderr:\n%s",
		c.phase, svc.name, r.stop.marker, r.stop.seen.Round(time.Millisecond), r.stop.records, r.stop.took.Round(time.Millisecond),
		code, r.cut.took.Round(time.Millisecond), errs)
	if r.stop.err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s", svc.name, r.stop.err, out)
	}
	if c.check != nil {
		if err := c.check(r.stop.after, changes); err != nil {
			t.Errorf("the point was not the one meant: %v", err)
		}
	}
	r.failed, r.held = outageLeft(t, outageState(t, bed), errs)
	all := out + errs
	switch {
	case c.phase == "apply":
		if code != 1 || !strings.Contains(all, "Apply failed") {
			t.Errorf("apply with %s stopped: exit %d, want 1 with \"Apply failed\"", svc.name, code)
		}
		incomplete := strings.Contains(all, "Some changes could not be undone")
		if c.undoneAtOnce && incomplete {
			t.Errorf("the automatic rollback could not undo everything, though no step of it needs %s:\n%s", svc.name, errs)
		}
		if !c.undoneAtOnce && !incomplete {
			t.Errorf("the automatic rollback says nothing of what it could not undo, though it needs %s to undo what the apply did:\n%s", svc.name, errs)
		}
	case c.undoneAtOnce:
		if code != 0 || !strings.Contains(all, "Rollback complete!") {
			t.Errorf("rollback with %s stopped: exit %d, want 0 (no rollback step needs it)\nstdout:\n%s", svc.name, code, outageTail(out, 20))
		}
	default:
		if code != 1 || !strings.Contains(all, "Rollback incomplete") {
			t.Errorf("rollback with %s stopped: exit %d, want 1 with \"Rollback incomplete\"\nstdout:\n%s", svc.name, code, outageTail(out, 20))
		}
	}
	if st := outageState(t, bed); st.LastApply.Open() == c.undoneAtOnce {
		t.Errorf("after the %s with %s stopped, the last apply's status is %q: its journal must be open exactly when something is left to undo (want open: %v)",
			c.phase, svc.name, st.LastApply.Status, !c.undoneAtOnce)
	}

	// The state is not stuck while the service is down: plan fails only
	// because it cannot read what the service serves (sshd, named), or
	// plans (the new Postfix, which plan does not need running).
	r.downPlan, r.downErr = outagePlanDown(t, bed, svc)

	// The service comes back on the same address and port.
	took, err := svc.start()
	r.started = took
	if err != nil {
		t.Fatalf("starting %s again: %v", svc.name, err)
	}
	r.plans = append(r.plans, outagePlan(t, bed, "with "+svc.name+" back"))

	// The retried rollback, without -force.
	start = time.Now()
	code, out, errs = runCLI(t, bed.planDir, "rollback", "-auto-approve", "-var-file="+bed.varFile)
	r.retry = outageRunCLI{code: code, out: out, errs: errs, took: time.Since(start), firstOutput: outageFirstLine(out + errs)}
	t.Logf("retried rollback: exit %d after %s\nstdout (end):\n%s\nstderr:\n%s", code, r.retry.took.Round(time.Millisecond), outageTail(out, 8), errs)
	want := "Rollback complete!"
	if c.undoneAtOnce {
		want = "Nothing to roll back"
	}
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("retried rollback without -force: exit %d, want 0 with %q", code, want)
	}
	if strings.Contains(out, "Rollback complete!") {
		r.retry.firstOutput = outageLastLine(out)
	}
	r.plans = append(r.plans, outagePlan(t, bed, "after the retried rollback"))
	if st := outageState(t, bed); st.LastApply.Open() || len(st.Resources) > 0 {
		t.Errorf("after the retried rollback the state still manages %d resources, last apply %q", len(st.Resources), st.LastApply.Status)
	}
	outageCheckBack(t, bed, svcs, back, "after the retried rollback")
	return r
}

// outageMarker says whether the journal's records so far hold the point
// to stop the service at, and which record it is. changes are the
// changes of the run a rollback undoes, as the state held them before it
// (restoring records name them by index); nil for an apply.
type outageMarker func(recs []states.Record, changes []*states.Change) (string, bool)

// outageFirstChange is the first change record of a resource of one of
// types that changes a host (an adoption changes nothing).
func outageFirstChange(types map[string]bool) outageMarker {
	return func(recs []states.Record, _ []*states.Change) (string, bool) {
		for _, r := range recs {
			if r.Op == "change" && r.Change != nil && r.Change.Action != "adopt" && types[r.Change.Type] {
				return fmt.Sprintf("change %s (%s)", r.Change.Addr, r.Change.Action), true
			}
		}
		return "", false
	}
}

// outageFirstDone is the first done record of a change of a resource of
// one of types that changed a host (not an adoption).
func outageFirstDone(types map[string]bool) outageMarker {
	return func(recs []states.Record, _ []*states.Change) (string, bool) {
		changed := map[string]*states.Change{}
		for _, r := range recs {
			switch {
			case r.Op == "change" && r.Change != nil:
				changed[r.Change.Addr] = r.Change
			case r.Op == "done":
				if c := changed[r.Addr]; c != nil && c.Action != "adopt" && types[c.Type] {
					return fmt.Sprintf("done %s (%s)", c.Addr, c.Action), true
				}
			}
		}
		return "", false
	}
}

// outageFirstRestoring is the first restoring record of a change of a
// resource of one of types.
func outageFirstRestoring(types map[string]bool) outageMarker {
	return func(recs []states.Record, changes []*states.Change) (string, bool) {
		for _, r := range recs {
			if r.Op == "restoring" && r.Index < len(changes) && types[changes[r.Index].Type] {
				return "restoring " + changes[r.Index].Addr, true
			}
		}
		return "", false
	}
}

// outageRollbackStarted is a rollback's first record: the run marked as
// a rollback under way, before its first step.
func outageRollbackStarted(recs []states.Record, _ []*states.Change) (string, bool) {
	for _, r := range recs {
		if r.Op == "status" && r.Status == states.StatusRollbackFailed {
			return "status " + r.Status, true
		}
	}
	return "", false
}

// outageStop is what the watcher did.
type outageStop struct {
	marker  string
	records int           // journal records when the marker was seen
	seen    time.Duration // after the command started
	took    time.Duration // the stop
	after   []states.Record
	err     error
}

// outageStopAt watches journal from now until ctx ends and stops svc as
// soon as marker holds. It sends what it did once: the stop, or the
// error that the marker never came.
func outageStopAt(ctx context.Context, journal string, changes []*states.Change, marker outageMarker, svc *outageService, began time.Time) <-chan outageStop {
	ch := make(chan outageStop, 1)
	go func() {
		var last []states.Record
		for {
			recs, err := outageJournal(journal)
			if err != nil {
				ch <- outageStop{err: err}
				return
			}
			last = recs
			if what, ok := marker(recs, changes); ok {
				s := outageStop{marker: what, records: len(recs), seen: time.Since(began)}
				at := time.Now()
				s.err = svc.stop()
				s.took = time.Since(at)
				s.after, _ = outageJournal(journal)
				ch <- s
				return
			}
			select {
			case <-ctx.Done():
				var ops []string
				for _, r := range last {
					ops = append(ops, string(r.Op))
				}
				ch <- outageStop{err: fmt.Errorf("the marker never came; the journal last held %d records %v", len(last), ops)}
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return ch
}

// outageJournal reads the journal's complete records (a line still being
// written is left for the next look).
func outageJournal(path string) ([]states.Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	var recs []states.Record
	for line := range bytes.Lines(b) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r states.Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("journal %s record %d: %v", path, len(recs)+1, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// outageState reads the plan directory's state (empty before the first
// apply).
func outageState(t *testing.T, bed *cliBed) *states.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bed.planDir, ".mailplan", "state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return &states.State{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var st states.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state.json: %v", err)
	}
	// What the journal adds to it.
	recs, err := outageJournal(filepath.Join(bed.planDir, ".mailplan", "state.json.journal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Lineage == st.Lineage && r.Serial == st.Serial {
			if err := st.Replay(&r); err != nil {
				t.Fatalf("journal: %v", err)
			}
		}
	}
	return &st
}

// outagePlan runs plan with every server up: the state must never be
// stuck, so it exits 0 (nothing to do) or 2 (changes).
func outagePlan(t *testing.T, bed *cliBed, when string) int {
	t.Helper()
	code, out, errs := runCLI(t, bed.planDir, "plan", "-detailed-exitcode", "-var-file="+bed.varFile)
	if code != 0 && code != 2 {
		t.Errorf("plan %s: exit %d, want 0 or 2: the state must never be stuck\nstdout:\n%s\nstderr:\n%s", when, code, outageTail(out, 20), errs)
	}
	return code
}

// outagePlanDown runs plan while svc is down. Plan does not need the new
// Postfix to run, so it must plan then; without sshd or named it cannot
// read the servers and fails, but for that reason only (not a lock or
// the journal).
func outagePlanDown(t *testing.T, bed *cliBed, svc *outageService) (int, string) {
	t.Helper()
	code, out, errs := runCLI(t, bed.planDir, "plan", "-detailed-exitcode", "-var-file="+bed.varFile)
	if svc.planWithout {
		if code != 0 && code != 2 {
			t.Errorf("plan with %s down: exit %d, want 0 or 2\nstdout:\n%s\nstderr:\n%s", svc.name, code, outageTail(out, 20), errs)
		}
		return code, ""
	}
	first := outageErrorLine(errs)
	for _, stuck := range []string{"locked", "corrupt", "Cannot plan"} {
		if strings.Contains(errs, stuck) {
			t.Errorf("plan with %s down fails for another reason than the service (%q):\n%s", svc.name, stuck, errs)
		}
	}
	if code != 1 || !strings.Contains(errs, svc.unreachable) {
		t.Errorf("plan with %s down: exit %d, want 1 naming %q\nstderr:\n%s", svc.name, code, svc.unreachable, errs)
	}
	return code, "(" + first + ")"
}

// outageLeft is what the state says a command left to undo: the changes
// whose undo failed (begun, never finished), each with the end of the
// error the command printed for it, and how many it held back (something
// depending on them could not be undone). The command must name each.
func outageLeft(t *testing.T, st *states.State, errs string) (failed []string, held int) {
	t.Helper()
	if st.LastApply == nil {
		return nil, 0
	}
	for _, ch := range st.LastApply.Changes {
		switch {
		case ch.Restored:
		case ch.Restoring:
			// The automatic rollback of an apply says "Could not roll
			// back ADDR: ..." (after the apply's own "ADDR: ..." lines);
			// a rollback says "ADDR: ...".
			why := ""
			for _, prefix := range []string{"Could not roll back " + ch.Addr + ": ", ch.Addr + ": "} {
				for _, line := range strings.Split(errs, "\n") {
					if rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok && why == "" {
						why = rest
					}
				}
			}
			if why == "" {
				t.Errorf("the state says the undo of %s failed; the command does not say so:\n%s", ch.Addr, errs)
			}
			if i := strings.LastIndex(why, ": "); i >= 0 {
				why = why[i+2:]
			}
			why, _, _ = strings.Cut(why, ". ")
			failed = append(failed, ch.Addr+" ("+why+")")
		default:
			held++
			if !strings.Contains(errs, ch.Addr+": not rolled back: ") {
				t.Errorf("the state says %s was left; the command does not say so:\n%s", ch.Addr, errs)
			}
		}
	}
	return failed, held
}

// outageErrorLine is the summary of the first error in a command's
// standard error ("Error: SUMMARY").
func outageErrorLine(errs string) string {
	for _, line := range strings.Split(errs, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "Error: "); ok {
			return s
		}
	}
	return outageFirstLine(errs)
}

func outageFirstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

func outageLastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func outageTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
