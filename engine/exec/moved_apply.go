package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// recordMoves journals the plan's moves, before any change: each renames
// a state record (and the dependency lists and journal entries naming
// it). They change nothing on a host, so a rollback does not undo them:
// the records it puts back are at the new addresses. The caller holds no
// lock.
func (r *Runner) recordMoves(ctx context.Context, j *journal, moves []plans.Move) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, m := range moves {
		if err := j.record(ctx, &states.Record{Op: states.OpMoved, Addr: m.From, To: m.To}); err != nil {
			return fmt.Errorf("journal the move of %s to %s: %w", m.From, m.To, err)
		}
		r.event(m.To, Event{Text: "Moved from " + m.From})
	}
	return nil
}

// journalPrior is the record a rollback puts back for the instance: what
// the state had at its address before the apply. An instance that takes
// another over had none; the other's record is put back at its own
// address by the rollback of its forget change.
func journalPrior(it *item) *states.Resource {
	if it.takeover != nil {
		return nil
	}
	return cloneResource(it.prior)
}

// forgetItem drops an instance a removed block names from the state,
// journalled with its record so that a rollback puts it back. Nothing on
// its host changes.
func (r *Runner) forgetItem(ctx context.Context, j *journal, it *item) error {
	if err := r.journalForget(ctx, j, it.addr, it.prior, r.snapshotOf(ctx, it)); err != nil {
		return err
	}
	r.event(it.addr, Event{Text: "Removed from the state; nothing on its host changed"})
	return nil
}

// journalForget journals that the state forgets addr (whose record is
// prior) and makes it so. before is the object's snapshot as read for
// the plan: a rollback that restores it puts back what is there, which
// this apply did not change.
func (r *Runner) journalForget(ctx context.Context, j *journal, addr string, prior *states.Resource, before []byte) error {
	if prior == nil {
		return fmt.Errorf("forget %s: the state does not manage it", addr)
	}
	sc := &states.Change{Addr: addr, Type: prior.Type, Action: states.ActionForget, Config: prior.Config, Before: before, Prior: cloneResource(prior), Deps: prior.Deps}
	index, err := j.addChange(ctx, sc)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.record(ctx, &states.Record{Op: states.OpDone, Index: index, Addr: addr}); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// snapshotOf is the plan's snapshot of the instance's object, or, when
// the plan did not read it (-refresh=false), a snapshot read now. A
// forget change keeps it so that a rollback which restores the change
// puts back what is there, which the forget did not change.
func (r *Runner) snapshotOf(ctx context.Context, it *item) []byte {
	if it.snapshot != nil {
		return it.snapshot
	}
	resp, err := r.read(ctx, it.typ, resource.ReadRequest{Addr: it.addr, Config: it.config, Logger: r.logger().Named("apply").With("addr", it.addr)})
	if err != nil {
		r.logger().Named("apply").Warn("cannot read what a forgotten instance leaves", "addr", it.addr, "error", err)
		return nil
	}
	return resp.Snapshot
}

// forgetTakenOver journals that the instance it takes over leaves the
// state, before it changes anything: its record goes to it (apply keeps
// that record's original as what destroy puts back).
func (r *Runner) forgetTakenOver(ctx context.Context, j *journal, it *item) error {
	if err := r.journalForget(ctx, j, it.takeover.from, it.takeover.prior, r.snapshotOf(ctx, it)); err != nil {
		return err
	}
	r.event(it.addr, Event{Text: "Takes over " + it.takeover.from})
	return nil
}

// takeoverItem records an instance that takes another over and already
// matches its configuration: the other leaves the state, and this one is
// recorded with the other's original (what destroy puts back), changing
// nothing on the host.
func (r *Runner) takeoverItem(ctx context.Context, j *journal, it *item) error {
	if err := r.forgetTakenOver(ctx, j, it); err != nil {
		return err
	}
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
	index, err := j.addChange(ctx, sc)
	if err != nil {
		return err
	}
	sr := &states.Resource{Addr: it.addr, Type: it.typ.Name(), Config: cfgJSON, Result: resJSON, Sensitive: sens, Original: it.prior.Original, Deps: it.deps, Private: it.prior.Private}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.record(ctx, &states.Record{Op: states.OpDone, Index: index, Addr: it.addr, Resource: sr, After: resJSON})
}

// replanAfter reads and plans a new instance again once the instances it
// waited for (they owned part of what it claims) are destroyed: what is
// there now is what they put back, and that is what it starts from, and
// what its own destroy will put back.
func (r *Runner) replanAfter(ctx context.Context, it *item) (plans.Action, error) {
	again := *it
	again.after = nil
	if d := r.planAgain(ctx, &again); d.HasErrors() {
		return plans.NoOp, errors.New(d.Error())
	}
	it.current, it.snapshot, it.planned, it.readFP, it.adopt = again.current, again.snapshot, again.planned, again.readFP, again.adopt
	r.logger().Named("apply").Info("planned again after what it waited for was destroyed", "addr", it.addr, "action", again.change.Action)
	return again.change.Action, nil
}
