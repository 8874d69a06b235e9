package resource

import "context"

// Windower is implemented by types whose instances hold something on a
// host while other instances apply: a service stopped while the
// mailboxes are copied, and running again afterwards. The resource block
// names what the window covers in its `during` meta-argument (resources
// and module calls).
//
// The engine guarantees:
//   - Every covered instance depends on the window: none starts before
//     the window's Apply (which opens it) is done.
//   - The window is planned as a change only when a covered instance
//     changes, or when its own Plan asks (PlanResponse.Unfinished, for a
//     window an interrupted apply left open); otherwise nothing is done.
//   - Close is called once every covered instance is done, before
//     anything that depends on the window or on a covered instance
//     starts. Only then is the window's change recorded as done: killed
//     in between, the next plan gives the window's journal entries in
//     PlanRequest.Interrupted, and the next apply opens and closes it
//     again around what is left.
//   - A failure in the window rolls back every change of the apply,
//     newest first: the covered instances, then the window, whose Restore
//     gets the entries both Apply and Close recorded.
//
// The implementation must:
//   - Record in req.Journal, before each step, what Restore needs, as
//     Apply does; Close gets the same Snapshot (what was there before the
//     window opened) and journal.
//   - Close to the state the window found, whatever Apply did or how
//     often it ran (use Interrupted to know what an earlier, killed apply
//     found).
type Windower interface {
	Close(ctx context.Context, req ApplyRequest) (ApplyResponse, error)
}
