// Package exec runs the walks of a configuration against real hosts. It
// works on evaluated configurations (engine/lang) and a state backend
// (engine/states), reaches resources only through the resource.Type
// contract, and names no resource type or attribute: what an attribute
// means to it comes from the schema (ForceNew, Identity, Sensitive).
//
// Every walk over instances runs on dag.Walk, which bounds the
// parallelism (Parallelism, 4 when unset) and recovers a panic in the work
// on one instance; walkPanic turns it into a *PanicError naming the
// instance, so that it fails that instance like any other error.
//
//   - Plan (plan.go, plan_item.go) applies moved and removed blocks to the
//     state in memory (moved.go), selects the instances (-target,
//     -exclude), then refreshes and plans each one: ForceNew paths, a read
//     (or the state with -refresh=false), a delete, a persisted wait that
//     is not over, or the type's Plan with ignore_changes, and the action
//     that follows.
//   - Apply (apply.go, apply_item.go) walks the changes in dependency
//     order. Each instance settles what is left at apply time (a gate's
//     Check, a re-plan, an adoption), is read again and verified against
//     the plan, journals its change, runs its hooks, applies with inline
//     waits up to MaxWait or a persisted longer one (apply_wait.go), and
//     journals what it reached. The journal (apply_journal.go) makes every
//     record durable before the step it describes; Check and Adopt get one
//     too, which journals a change only when they record an entry.
//   - A failed or interrupted apply is rolled back (rollback.go): the
//     changes not yet undone, newest first, each journalled as it starts
//     and ends, so that `mailplan rollback` or a later run finishes an
//     interrupted rollback. A destroy never turns around; it keeps what it
//     took back.
//
// It does not own the journal's format (engine/states: Record, Op,
// ChangeAction, the Status values), the graph algorithms (engine/dag),
// evaluation (engine/lang) or what the user sees (engine/render).
package exec
