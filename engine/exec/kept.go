package exec

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// keptCurrent is what Read returned as current, or, when Read saw
// nothing of an object only the state knows of (resource.StateKept: a
// command that ran in an earlier apply), the state's result: the object
// is there as far as anyone can tell, and it must not be made again just
// because it is in the plan again. Not in a replace: the old object is
// removed before the new one is made, so there is none to keep.
func keptCurrent(it *item, current cty.Value) cty.Value {
	if it.prior == nil || (current != cty.NilVal && !current.IsNull()) {
		return current
	}
	if it.change != nil && it.change.Action == plans.Replace {
		return current
	}
	k, ok := it.typ.(resource.StateKept)
	if !ok || it.config == cty.NilVal || it.config.IsNull() || !it.config.IsWhollyKnown() || !k.KeptInState(it.config) {
		return current
	}
	pr, err := it.priorResult()
	if err != nil || pr.IsNull() {
		return current
	}
	return pr
}

// priorPrivate is the state's ApplyResponse.Private of the instance, for
// a Restore that undoes a completed apply (resource.RestoreRequest.Private).
func priorPrivate(it *item) []byte {
	if it.prior == nil {
		return nil
	}
	return it.prior.Private
}

// keptAfter is cur, or, when Read saw nothing of an object only the
// state knows of, after (what the apply left): a rollback's drift check
// cannot see such an object change.
func keptAfter(t resource.Type, config, cur, after cty.Value) cty.Value {
	if !cur.IsNull() {
		return cur
	}
	if k, ok := t.(resource.StateKept); ok && !config.IsNull() && config.IsWhollyKnown() && k.KeptInState(config) {
		return after
	}
	return cur
}
