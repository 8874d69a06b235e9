package mailbox

import (
	"encoding/json"
	"slices"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// onceSummary is the plan's line for a copy that once = true keeps from
// running again.
const onceSummary = "copied once by an earlier apply (once = true): the destination is its users' now; nothing more is copied"

// private is what Apply keeps in the state (ApplyResponse.Private) and Plan
// gets back as Prior.Private. It holds one fact, nothing per message.
type private struct {
	// Completed: the apply copied everything it listed and succeeded.
	Completed bool `json:"completed"`
}

// completedPrivate is what every successful Apply returns, with or without
// once: turning once on after such an apply keeps the destination as it
// is from then on.
const completedPrivate = `{"completed":true}`

// sameSelection reports whether two configurations bring the same mail:
// the same roots and patterns (order and repetition of patterns aside).
// The hosts' connection settings do not count (a new address for the old
// server copies nothing again), nor do the other arguments.
func sameSelection(a, b config) bool {
	set := func(l []string) []string {
		l = slices.Clone(l)
		slices.Sort(l)
		return slices.Compact(l)
	}
	return a.Source == b.Source && a.Destination == b.Destination &&
		slices.Equal(set(a.include), set(b.include)) && slices.Equal(set(a.exclude), set(b.exclude))
}

// copiedOnce reports whether a plan with once = true must leave the
// destination alone: an earlier apply of this instance completed the copy
// of the same selection.
//
// The evidence is the Private an Apply of this instance returned
// (completedPrivate), which the engine records only once that Apply
// succeeded. A record without it (an adopted copy, or one written by a
// mailplan from before once) does not count. A rollback of the apply
// that created the record removes it (one that updated it puts back the
// earlier record), so after a rollback the copy runs again. When the destination root is gone (Current null) there is
// nothing of its users' to keep, and the copy runs as usual.
func copiedOnce(cfg config, current cty.Value, prior *resource.Prior) bool {
	if !cfg.Once || prior == nil || current == cty.NilVal || current.IsNull() {
		return false
	}
	// Only an apply that copied counts. A record without Private is an
	// adoption (nothing was pending when it was planned) or a state from
	// before once existed: the final pass of a migration may be adopted
	// in the apply that stops at a DNS wait, and must still copy what the
	// old server delivers until the cutover.
	var p private
	if len(prior.Private) == 0 || json.Unmarshal(prior.Private, &p) != nil || !p.Completed {
		return false
	}
	was, err := decode(prior.Config)
	return err == nil && sameSelection(cfg, was)
}
