package exec

import (
	"context"
	"errors"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// isFingerprinter reports whether only part of t's real state makes a plan
// stale, so that the rest may move between plan and apply (new mail at a
// live mailbox source).
func isFingerprinter(t resource.Type) bool {
	_, ok := t.(resource.Fingerprinter)
	return ok
}

// replanAtApply reads and plans a no-op instance again when apply reaches
// it, and returns the action it now needs. The plan's promise still holds:
// a real state that changed in a part that counts is an error, as for any
// change; only what the type's fingerprint leaves out (mail that arrived
// at the source since) may turn the no-op into a change. An adoption then
// records what is there now.
func (r *Runner) replanAtApply(ctx context.Context, it *item) (plans.Action, error) {
	again := *it
	if d := r.planAgain(ctx, &again); d.HasErrors() {
		return plans.NoOp, errors.New(d.Error())
	}
	if again.readFP != it.readFP {
		return plans.NoOp, errors.New("the real state changed since the plan was made; run plan again")
	}
	it.current, it.snapshot, it.planned = again.current, again.snapshot, again.planned
	if again.change.Action != plans.NoOp {
		r.logger().Named("apply").Info("changed since the plan: applying", "addr", it.addr, "action", again.change.Action)
	}
	return again.change.Action, nil
}
