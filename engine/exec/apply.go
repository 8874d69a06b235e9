package exec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/dag"
	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// ApplyOptions change how an apply runs.
type ApplyOptions struct {
	Parallelism int
	NoRollback  bool
	// MaxWait is the longest wait done inline; longer ones are persisted.
	MaxWait time.Duration
	// Stop is closed on the first interrupt: no new work starts, work in
	// flight finishes, and what was done is rolled back. The ctx given to
	// Apply is cancelled on the second one: work in flight is abandoned.
	Stop <-chan struct{}
	// Operation is states.OperationApply (the default) or
	// states.OperationDestroy, for the journal.
	Operation string
	// Outputs are the root outputs to record after a successful apply.
	Outputs map[string]*lang.OutputValue
	// Force makes the changes whose type asks once more just before them
	// (resource.Confirmer) without asking (apply_confirm.go).
	Force bool
}

// ApplyReport is what an apply did.
type ApplyReport struct {
	Added, Changed, Destroyed int
	// Waiting are resources whose wait was persisted, with their times.
	Waiting []*plans.Waiting
	// Failed are the resources that failed, with their errors.
	Failed []ResourceError
	// RolledBack are the resources restored after a failure, in order.
	RolledBack []string
	// RollbackErrors are resources that could not be restored.
	RollbackErrors []ResourceError
	// Left are the resources a destroy or rollback did not take back
	// because they wait for one that failed (or because it was
	// interrupted), each with the reason. Running the same command again
	// finishes them.
	Left []ResourceError
	// Interrupted is true when the apply was stopped by an interrupt.
	Interrupted bool
}

// ResourceError is a resource and what went wrong with it.
type ResourceError struct {
	Addr string
	Err  error
}

// ErrInterrupted is the failure of a resource stopped by an interrupt.
var ErrInterrupted = errors.New("interrupted")

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Apply carries out a plan. It journals every change in st (through mgr)
// before making it. An apply that fails or is interrupted is rolled back,
// unless NoRollback. A destroy never turns around: it goes on taking back
// whatever does not wait for a failed resource, keeps what it took back,
// and leaves the rest managed for the next destroy. An apply over an open
// journal (an interrupted apply, or one whose rollback failed) continues
// it: its changes join that journal, so a rollback undoes both. The
// returned error says the operation failed; the report says what happened.
func (r *Runner) Apply(ctx context.Context, p *Planned, st *states.State, mgr states.Manager, opts ApplyOptions) (*ApplyReport, error) {
	rep := &ApplyReport{}
	j := &journal{st: st, mgr: mgr}
	op := opts.Operation
	if op == "" {
		op = states.OperationApply
	}
	destroy := op == states.OperationDestroy
	if st.LastApply.Open() && destroy {
		return rep, ErrOpenJournal
	}
	hasWork := st.LastApply.Open() || len(p.moves) > 0
	for _, it := range p.items {
		if it.change.Action != plans.NoOp || it.adopt || it.takeover != nil {
			hasWork = true
		}
	}
	j.start = &states.Record{Op: states.OpBegin, Apply: &states.Apply{ID: newID(), Operation: op, Started: r.now().UTC(), Status: states.StatusRunning, PriorOutputs: st.Outputs}}
	if st.LastApply.Open() {
		j.start = &states.Record{Op: states.OpContinue, Status: op, Started: r.now().UTC()}
	}
	if hasWork {
		// Journalled before anything is read again; without planned work
		// the run begins with its first change, if a no-op read again at
		// apply turns into one.
		j.mu.Lock()
		err := j.begin(ctx)
		j.mu.Unlock()
		if err != nil {
			return rep, fmt.Errorf("write state before %s: %w", op, err)
		}
	}
	// Moves first: every later record names the new addresses.
	if err := r.recordMoves(ctx, j, p.moves); err != nil {
		return rep, err
	}

	g, closes, batches := r.applyGraph(p)

	// The walk stops scheduling when Stop closes; work in flight keeps ctx.
	walkCtx, cancelWalk := context.WithCancel(ctx)
	defer cancelWalk()
	if opts.Stop != nil {
		go func() {
			select {
			case <-opts.Stop:
				cancelWalk()
			case <-walkCtx.Done():
			}
		}()
	}
	w := &applyWalk{r: r, j: j, opts: opts, waitCtx: walkCtx, rep: rep, open: map[string]*itemApply{},
		batches: batches, batchOf: map[string]string{}, deferred: map[string][]*itemApply{}}
	for name, b := range batches {
		for _, m := range b.members {
			w.batchOf[m] = name
		}
	}
	report, walkErr := g.Walk(walkCtx, parallelism(opts.Parallelism), func(_ context.Context, addr string) error {
		if win, ok := closes[addr]; ok {
			return w.closeWindow(ctx, win)
		}
		if b, ok := batches[addr]; ok {
			return w.finishBatch(ctx, addr, b)
		}
		return w.item(ctx, p.items[addr])
	}, dag.WalkOptions{Stop: opts.Stop, KeepGoing: destroy})

	var cycle *dag.CycleError[string]
	if errors.As(walkErr, &cycle) {
		// Plan checks the graph; an apply must never pass one by.
		return rep, fmt.Errorf("internal error: the apply graph has a cycle (%v); nothing was changed. This is a bug in mailplan; please report it", cycle)
	}
	for _, f := range report.Failed {
		if errors.Is(f.Err, errBatchFailed) {
			continue // its failed changes are reported on their own
		}
		// A panic the walk recovered fails its resource, and the apply
		// rolls back as after any failure.
		rep.Failed = append(rep.Failed, ResourceError{Addr: f.Node, Err: r.walkPanic(f.Node, op, f.Err)})
	}
	interrupted := report.Cancelled != nil || ctx.Err() != nil || closed(opts.Stop)
	rep.Interrupted = interrupted
	failed := len(rep.Failed) > 0 || interrupted

	if !failed {
		return rep, r.finishRun(ctx, j, states.StatusApplied, func() {
			if destroy {
				st.Outputs = nil
			} else if opts.Outputs != nil {
				st.Outputs = encodeOutputs(ctx, opts.Outputs)
			}
		})
	}
	if destroy {
		// The way back never turns around: keep what was taken back, say
		// what is left and why.
		for _, sk := range report.Skipped {
			why := "not started: the destroy was interrupted"
			if sk.Reason == dag.SkipDependency {
				why = "not destroyed: " + strings.Join(waitsFor(p, sk.Node, rep.Failed), ", ") + ", which must be destroyed first, could not be"
			}
			rep.Left = append(rep.Left, ResourceError{Addr: sk.Node, Err: errors.New(why)})
		}
		if err := r.finishRun(ctx, j, states.StatusIncomplete, nil); err != nil {
			return rep, err
		}
		if interrupted && len(rep.Failed) == 0 {
			return rep, fmt.Errorf("destroy interrupted: %w", ErrInterrupted)
		}
		return rep, errors.New("destroy incomplete")
	}
	if ctx.Err() != nil {
		// Second interrupt: stop at once. The journal in the state says
		// what to undo; `mailplan rollback` does it, `mailplan apply`
		// continues.
		return rep, fmt.Errorf("apply stopped at once; the state records what was done: run `mailplan rollback` to undo it, or `mailplan apply` to continue it: %w", ctx.Err())
	}
	if opts.NoRollback {
		w.finishLeft(ctx)
		w.closeLeft(ctx, p.items)
		if err := r.finishRun(ctx, j, states.StatusKept, nil); err != nil {
			return rep, err
		}
		return rep, errors.New("apply failed; changes kept (-no-rollback)")
	}
	if j.run == nil {
		// Failed before its first change: nothing to undo.
		if interrupted && len(rep.Failed) == 0 {
			return rep, fmt.Errorf("apply interrupted: %w", ErrInterrupted)
		}
		return rep, errors.New("apply failed")
	}
	rb := r.rollbackRun(ctx, j, j.run, p.items)
	rep.RolledBack = rb.restored
	rep.RollbackErrors = rb.errors
	rep.Left = rb.left
	if interrupted && len(rep.Failed) == 0 {
		return rep, fmt.Errorf("apply interrupted: %w", ErrInterrupted)
	}
	return rep, errors.New("apply failed")
}

// ErrOpenJournal refuses a destroy while the last apply's journal is open:
// what that apply changed is not all in the state yet, so a destroy could
// not put it back.
var ErrOpenJournal = errors.New("the last apply was interrupted, or its rollback failed, and its journal is still open: run `mailplan rollback` to undo it, or `mailplan apply` to continue it, before destroying")

// finishRun sets the run's final status (when it began) and writes the
// whole state, after edit (when not nil) changed it.
func (r *Runner) finishRun(ctx context.Context, j *journal, status string, edit func()) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	op := states.OperationApply
	if run := j.run; run != nil {
		run.Status = status
		run.Finished = r.now().UTC()
		op = run.Operation
	}
	if edit != nil {
		edit()
	}
	if err := j.write(ctx); err != nil {
		return fmt.Errorf("write state after %s: %w", op, err)
	}
	return nil
}

// waitsFor names the failed resources that addr waited for in a destroy
// (its dependents, which are destroyed first), directly or not.
func waitsFor(p *Planned, addr string, failed []ResourceError) []string {
	var out []string
	for _, f := range failed {
		if dependsOn(p, f.Addr, addr, map[string]bool{}) {
			out = append(out, f.Addr)
		}
	}
	if len(out) == 0 {
		out = append(out, "a resource that depends on it")
	}
	return out
}

// dependsOn reports whether from depends on to, directly or not, among the
// plan's instances.
func dependsOn(p *Planned, from, to string, seen map[string]bool) bool {
	if seen[from] {
		return false
	}
	seen[from] = true
	it := p.items[from]
	if it == nil {
		return false
	}
	for _, d := range it.deps {
		if d == to || dependsOn(p, d, to, seen) {
			return true
		}
	}
	return false
}

// adoptItem records a resource that already matches: no host changes, and
// what is there now becomes what destroy puts back.
func (r *Runner) adoptItem(ctx context.Context, j *journal, it *item) error {
	objType := it.typ.Schema().ImpliedType()
	cfgJSON, sens, err := encodeValue(it.config, objType)
	if err != nil {
		return err
	}
	resJSON, _, err := encodeValue(it.current, objType)
	if err != nil {
		return err
	}
	sc := &states.Change{Addr: it.addr, Type: it.typ.Name(), Action: states.ActionAdopt, Config: cfgJSON, Before: it.snapshot, Deps: it.deps}
	// The change is journalled after Adopt, or by Adopt's first entry.
	lj := newLazyJournal(j, func() (*states.Change, error) { return sc, nil })
	if a, ok := it.typ.(resource.Adopter); ok {
		if err := a.Adopt(ctx, resource.ApplyRequest{Addr: it.addr, Config: it.config, Current: it.current, Planned: it.planned, Snapshot: it.snapshot,
			Journal: lj, Logger: r.logger().Named("apply").With("addr", it.addr)}); err != nil {
			return fmt.Errorf("adopt: %w", err)
		}
	}
	index, ok := lj.journalled()
	if !ok {
		if index, err = j.addChange(ctx, sc); err != nil {
			return err
		}
	}
	orig := it.snapshot
	if first := j.firstBefore(it.addr, index); first != nil {
		// An interrupted apply made it match: destroy puts back what was
		// there before that apply, not what it made.
		orig = first
	}
	sr := &states.Resource{Addr: it.addr, Type: it.typ.Name(), Config: cfgJSON, Result: resJSON, Sensitive: sens, Original: orig, Deps: it.deps}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.record(ctx, &states.Record{Op: states.OpDone, Index: index, Addr: it.addr, Resource: sr, After: resJSON})
}

// check runs a gate's Check (resource.Checker) with a journal: a change
// holding its entries is journalled with the first one, and done once the
// check passed, leaving the state's record of the instance as it was.
func (r *Runner) check(ctx context.Context, j *journal, it *item, c resource.Checker) error {
	lj := newLazyJournal(j, func() (*states.Change, error) {
		cfgJSON, _, err := encodeValue(it.config, it.typ.Schema().ImpliedType())
		if err != nil {
			return nil, err
		}
		return &states.Change{Addr: it.addr, Type: it.typ.Name(), Action: states.ActionCheck, Config: cfgJSON, Before: it.snapshot, Prior: journalPrior(it), Deps: it.deps}, nil
	})
	err := c.Check(ctx, resource.ApplyRequest{Addr: it.addr, Config: it.config, Current: it.current, Planned: it.planned,
		Snapshot: it.snapshot, Journal: lj, Progress: r.ui().Progress(it.addr), Logger: r.logger().Named("apply").With("addr", it.addr)})
	if err != nil {
		return err
	}
	if index, ok := lj.journalled(); ok {
		if err := j.add(ctx, &states.Record{Op: states.OpDone, Index: index}); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return nil
}

// closed reports whether c is closed (nil is never closed).
func closed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// journalAndRestore removes the old object of a replace, journalled so that
// a rollback puts it back.
func (r *Runner) journalAndRestore(ctx context.Context, j *journal, it *item, oldConfig cty.Value, action states.ChangeAction) error {
	log := r.logger().Named("apply").With("addr", it.addr)
	objType := it.typ.Schema().ImpliedType()
	resp, err := r.read(ctx, it.typ, resource.ReadRequest{Addr: it.addr, Config: oldConfig, Logger: log})
	if err != nil {
		return fmt.Errorf("read old object: %w", err)
	}
	cfgJSON, _, err := encodeValue(oldConfig, objType)
	if err != nil {
		return err
	}
	sc := &states.Change{Addr: it.addr, Type: it.typ.Name(), Action: action, Config: cfgJSON, Before: resp.Snapshot, Prior: journalPrior(it), Deps: it.deps}
	index, err := j.addChange(ctx, sc)
	if err != nil {
		return err
	}
	if err := r.runHooks(ctx, it, "before_destroy"); err != nil {
		return err
	}
	if err := r.restore(ctx, it.typ, resource.RestoreRequest{Addr: it.addr, Config: oldConfig, Snapshot: it.prior.Original, Private: priorPrivate(it), Logger: log}); err != nil {
		return fmt.Errorf("remove old object: %w", err)
	}
	if err := r.runHooks(ctx, it, "after_destroy"); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.record(ctx, &states.Record{Op: states.OpDone, Index: index, Addr: it.addr})
}
