package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/dag"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// applyWalk is what the instances of one apply share.
type applyWalk struct {
	r    *Runner
	j    *journal
	opts ApplyOptions
	// waitCtx ends on the first interrupt (ApplyOptions.Stop): an inline
	// wait ends with it, while the steps of work in flight keep the
	// apply's ctx.
	waitCtx context.Context
	mu      sync.Mutex // guards rep and open
	rep     *ApplyReport
	// open are the windows opened in this apply, by address: their
	// changes finish at their close nodes (windows.go).
	open map[string]*itemApply
	// batches are this apply's batches by finish node, batchOf each
	// member's finish node, and deferred the changes waiting there
	// (batches.go).
	batches  map[string]*batch
	batchOf  map[string]string
	deferred map[string][]*itemApply
}

// itemApply is one instance's change as applyWalk.item makes it: what
// each step leaves for the next.
type itemApply struct {
	it     *item
	action plans.Action
	log    hclog.Logger
	start  time.Time
	// before and cur are what the read right before the change saw:
	// the snapshot a rollback puts back, and the value.
	before []byte
	cur    cty.Value
	// index is the change in the journal; cfgJSON and sens the
	// configuration it records.
	index   int
	cfgJSON json.RawMessage
	sens    []string
	// wait is a wait longer than MaxWait, persisted; private what the
	// type's Apply last returned as ApplyResponse.Private (else the
	// state's).
	wait    *resource.Wait
	private []byte
	// reached is what the type's last Apply said it reached
	// (resource.ApplyResponse.Reached), cty.NilVal when it did not say.
	reached cty.Value
	// batch is given to the type's Apply when the change is in a batch
	// (batches.go).
	batch *resource.Batch
}

// item applies the change of one instance, in steps: settle what is left
// to do at apply time; read again and verify; journal the change; the
// before hooks; the change itself, with its inline waits; the after hooks;
// journal what it reached; report it.
func (w *applyWalk) item(ctx context.Context, it *item) (err error) {
	action, finished, err := w.settle(ctx, it)
	if finished || err != nil {
		return err
	}
	if err := w.confirm(it, action); err != nil {
		return err
	}
	if it.takeover != nil {
		// The instance taken over leaves the state before anything
		// changes; its record, with what destroy puts back, is this one's.
		if err := w.r.forgetTakenOver(ctx, w.j, it); err != nil {
			return err
		}
	}
	c := &itemApply{it: it, action: action, log: w.r.logger().Named("apply").With("addr", it.addr)}
	w.r.event(it.addr, Event{Kind: EventStart, Action: string(action), Text: startWord(action)})
	c.start = w.r.now()
	defer func() {
		if err != nil && !errors.Is(err, dag.ErrDeferred) {
			w.r.event(it.addr, Event{Kind: EventFailed, Action: string(action), Elapsed: w.r.now().Sub(c.start), Err: err})
		}
	}()

	// A replace first puts the old object back as it was before mailplan.
	if action == plans.Replace && it.prior != nil {
		if err := w.r.journalAndRestore(ctx, w.j, it, it.oldConfig, states.ActionDelete); err != nil {
			return err
		}
	}
	if err := w.reread(ctx, c); err != nil {
		return err
	}
	if err := w.journalChange(ctx, c); err != nil {
		return err
	}
	before, after := "before_apply", "after_apply"
	if action == plans.Delete {
		before, after = "before_destroy", "after_destroy"
	}
	if err := w.r.runHooks(ctx, it, before); err != nil {
		return err
	}
	name, inBatch := w.batchOf[it.addr]
	if inBatch && action != plans.Delete {
		c.batch = &resource.Batch{}
	}
	if err := w.change(ctx, c); err != nil {
		return err
	}
	if _, ok := c.batch.Deferred(); ok {
		if c.wait != nil {
			return errors.New("internal error: the type both left its last step to its batch and asked to wait. This is a bug in mailplan; please report it")
		}
		// The change finishes with its batch; what the apply reached is
		// read back then.
		c.reached = cty.NilVal
		w.mu.Lock()
		w.deferred[name] = append(w.deferred[name], c)
		w.mu.Unlock()
		return nil
	}
	if windowOf(it) != nil && action != plans.Delete && c.wait == nil {
		// The change finishes when the window closes.
		w.mu.Lock()
		w.open[it.addr] = c
		w.mu.Unlock()
		return nil
	}
	if err := w.r.runHooks(ctx, it, after); err != nil {
		return err
	}
	if err := w.journalDone(ctx, c); err != nil {
		return err
	}
	return w.report(c)
}

// settle works out what the instance still needs when the walk reaches
// it, and does it when that is all: a persisted wait that is not over
// defers it; a removed block forgets it; an instance that waited for
// others to be destroyed is planned again. A no-op gate is checked; a
// no-op whose plan may be old is planned again; a no-op that stays one is
// only recorded (takeover, adoption). finished: nothing is left to do.
func (w *applyWalk) settle(ctx context.Context, it *item) (action plans.Action, finished bool, err error) {
	if it.waiting {
		return "", true, fmt.Errorf("waiting until %s: %w", it.prior.Wait.Until.Format(time.RFC3339), dag.ErrDeferred)
	}
	action = it.change.Action
	if action == plans.Forget {
		return action, true, w.r.forgetItem(ctx, w.j, it)
	}
	if len(it.after) > 0 {
		if action, err = w.r.replanAfter(ctx, it); err != nil {
			return action, true, err
		}
	}
	if action != plans.NoOp {
		return action, false, nil
	}
	c, gate := it.typ.(resource.Checker)
	if gate && it.inst != nil {
		// A gate holds at apply time, whatever the plan saw.
		w.r.event(it.addr, Event{Kind: EventCheck, Text: "Checking..."})
		if err := w.r.check(ctx, w.j, it, c); err != nil {
			if !errors.Is(err, dag.ErrDeferred) {
				w.r.event(it.addr, Event{Kind: EventCheckFailed, Err: err})
			}
			return action, true, err
		}
		w.r.event(it.addr, Event{Kind: EventCheckPassed, Text: "Check passed"})
	}
	if !gate && it.inst != nil && it.snapshot != nil && (it.adopt || isFingerprinter(it.typ)) {
		// What the plan saw may be old by now: mail that reached a live
		// source since must still be copied, and an adoption records
		// what is there now, not what was.
		if action, err = w.r.replanAtApply(ctx, it); err != nil {
			return action, true, err
		}
	}
	switch {
	case action != plans.NoOp:
		return action, false, nil
	case it.takeover != nil:
		return action, true, w.r.takeoverItem(ctx, w.j, it)
	case it.adopt:
		return action, true, w.r.adoptItem(ctx, w.j, it)
	}
	return action, true, nil
}

// live is a value Read returned, as the engine compares it: null for
// none, marked sensitive like the configuration.
func live(it *item, v cty.Value) cty.Value {
	schema := it.typ.Schema()
	if v == cty.NilVal {
		v = cty.NullVal(schema.ImpliedType())
	}
	return markLike(v, it.config, schema)
}

// reread reads the object again, right before the change: the snapshot
// rollback uses must be what is there now, and it must still be what the
// plan saw.
func (w *applyWalk) reread(ctx context.Context, c *itemApply) error {
	it := c.it
	resp, err := w.r.read(ctx, it.typ, resource.ReadRequest{Addr: it.addr, Config: it.config, Logger: c.log})
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	c.before, c.cur = resp.Snapshot, live(it, keptCurrent(it, resp.Current))
	if c.action != plans.Replace && fingerprint(it.typ, c.cur) != it.readFP && it.snapshot != nil {
		return errors.New("the real state changed since the plan was made; run plan again")
	}
	return nil
}

// journalChange journals the change before it is made. A replace's
// second half is journalled as a create.
func (w *applyWalk) journalChange(ctx context.Context, c *itemApply) error {
	it := c.it
	cfgJSON, sens, err := encodeValue(it.config, it.typ.Schema().ImpliedType())
	if err != nil {
		return err
	}
	c.cfgJSON, c.sens = cfgJSON, sens
	action := states.ChangeAction(c.action)
	if c.action == plans.Replace {
		action = states.ActionCreate
	}
	sc := &states.Change{Addr: it.addr, Type: it.typ.Name(), Action: action, Config: cfgJSON, Before: c.before, Prior: journalPrior(it), Deps: it.deps}
	c.index, err = w.j.addChange(ctx, sc)
	return err
}

// change makes the change: a delete puts back what was there before
// mailplan first changed the object; anything else is the type's Apply,
// step by step (applySteps).
func (w *applyWalk) change(ctx context.Context, c *itemApply) error {
	it := c.it
	if it.prior != nil {
		c.private = it.prior.Private
	}
	if c.action != plans.Delete {
		return w.applySteps(ctx, c)
	}
	orig := c.before
	if it.prior != nil {
		orig = it.prior.Original
	}
	if err := w.r.restore(ctx, it.typ, resource.RestoreRequest{Addr: it.addr, Config: it.config, Snapshot: orig, Private: priorPrivate(it), Logger: c.log}); err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	return nil
}

// journalDone journals that the change is done, with the state's new
// record of the instance (none after a delete).
func (w *applyWalk) journalDone(ctx context.Context, c *itemApply) error {
	it := c.it
	done := &states.Record{Op: states.OpDone, Index: c.index, Addr: it.addr}
	if c.action != plans.Delete {
		sr, err := w.record(ctx, c)
		if err != nil {
			return err
		}
		done.Resource = sr
		done.After = sr.Result
	}
	if err := w.j.add(ctx, done); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// record is the state's record of the instance after the change. What
// the apply reached is read back, since a type may leave parts to the
// host (an owner nobody configured, say), unless the type said exactly
// what it reached (resource.ApplyResponse.Reached); after a persisted
// wait, it is what was planned.
func (w *applyWalk) record(ctx context.Context, c *itemApply) (*states.Resource, error) {
	it := c.it
	objType := it.typ.Schema().ImpliedType()
	result := it.planned
	switch {
	case c.wait != nil:
	case c.reached != cty.NilVal && !mayChangeAfter(it):
		// The type knows what it reached: no read back.
		if !c.reached.IsNull() {
			result = markLike(c.reached, it.config, it.typ.Schema())
		}
	default:
		after, err := w.r.read(ctx, it.typ, resource.ReadRequest{Addr: it.addr, Config: it.config, Logger: c.log})
		if err != nil {
			return nil, fmt.Errorf("read after apply: %w", err)
		}
		if after.Current != cty.NilVal && !after.Current.IsNull() {
			result = markLike(after.Current, it.config, it.typ.Schema())
		}
	}
	resJSON, _, err := encodeValue(result, objType)
	if err != nil {
		return nil, err
	}
	orig, err := w.original(c)
	if err != nil {
		return nil, err
	}
	sr := &states.Resource{Addr: it.addr, Type: it.typ.Name(), Config: c.cfgJSON, Result: resJSON, Sensitive: c.sens, Original: orig, Deps: it.deps, Private: c.private}
	if c.wait != nil {
		sr.Wait = &states.Wait{Until: c.wait.Until.UTC(), Reason: c.wait.Reason, Resume: c.wait.Resume}
	}
	return sr, nil
}

// mayChangeAfter reports whether something other than the type's Apply
// may change the object between Apply and the record of its result: an
// after_apply hook, or the close of the window it is in. What Apply said
// it reached is then not trusted; the object is read back.
func mayChangeAfter(it *item) bool {
	if windowOf(it) != nil || it.inst == nil {
		return true
	}
	for _, h := range it.inst.Hooks {
		if h.When == "after_apply" {
			return true
		}
	}
	return false
}

// original is what destroy must put back: what the read before the
// change saw, for an object mailplan did not manage (or one a replace
// made anew); when an interrupted apply this one continues had already
// changed it, what was there before that apply. For one it managed, the
// state's original, merged with the read's when the type merges them
// (resource.OriginalMerger).
func (w *applyWalk) original(c *itemApply) ([]byte, error) {
	it := c.it
	orig := c.before
	if it.prior == nil {
		if first := w.j.firstBefore(it.addr, c.index); first != nil {
			orig = first
		}
	}
	if it.prior != nil && c.action != plans.Replace {
		orig = it.prior.Original
		if m, ok := it.typ.(resource.OriginalMerger); ok {
			merged, err := m.MergeOriginal(orig, c.before)
			if err != nil {
				return nil, fmt.Errorf("merge what destroy restores: %w", err)
			}
			orig = merged
		}
	}
	return orig, nil
}

// report counts the change and says it is complete, or, after a persisted
// wait, defers the instance (dag.ErrDeferred): its dependents wait for a
// later apply.
func (w *applyWalk) report(c *itemApply) error {
	it := c.it
	w.mu.Lock()
	switch c.action {
	case plans.Create:
		w.rep.Added++
	case plans.Delete:
		w.rep.Destroyed++
	case plans.Replace:
		w.rep.Added++
		w.rep.Destroyed++
	default:
		w.rep.Changed++
	}
	if c.wait != nil {
		w.rep.Waiting = append(w.rep.Waiting, &plans.Waiting{Addr: it.addr, Until: c.wait.Until, Reason: c.wait.Reason})
	}
	w.mu.Unlock()
	took := w.r.now().Sub(c.start)
	if c.wait != nil {
		w.r.event(it.addr, Event{Kind: EventWaiting, Action: string(c.action), Elapsed: took, Until: c.wait.Until, Reason: c.wait.Reason,
			Text: fmt.Sprintf("Waiting until %s (%s)", c.wait.Until.UTC().Format(time.RFC3339), c.wait.Reason)})
		return fmt.Errorf("waiting until %s: %w", c.wait.Until.Format(time.RFC3339), dag.ErrDeferred)
	}
	w.r.event(it.addr, Event{Kind: EventComplete, Action: string(c.action), Elapsed: took,
		Text: fmt.Sprintf("%s complete after %s", doneWord(c.action), took.Round(time.Second))})
	return nil
}

// startWord is the status line of a change that starts.
func startWord(a plans.Action) string {
	switch a {
	case plans.Delete:
		return "Destroying..."
	case plans.Create:
		return "Creating..."
	case plans.Replace:
		return "Replacing..."
	case plans.Resume:
		return "Resuming..."
	}
	return "Modifying..."
}

func doneWord(a plans.Action) string {
	switch a {
	case plans.Create:
		return "Creation"
	case plans.Delete:
		return "Destruction"
	case plans.Replace:
		return "Replacement"
	}
	return "Modifications"
}
