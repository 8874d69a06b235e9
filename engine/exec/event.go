package exec

import "time"

// Event is a step of one resource, typed for a UI that needs more than
// its text (the -json stream); Text is what a UI that only takes text
// shows (UI.Status), "" for nothing.
type Event struct {
	Kind EventKind
	// Action is the change's action ("create", "update", "delete",
	// "replace", "resume") for EventStart, EventComplete and EventFailed.
	Action string
	// Elapsed is how long the step took (EventComplete, EventFailed and
	// the rollback ends).
	Elapsed time.Duration
	// Until and Reason describe a wait kept in the state (EventWaiting).
	Until  time.Time
	Reason string
	// Err is why the step failed.
	Err  error
	Text string
}

// EventKind says what an Event is.
type EventKind int

// The kinds of Event.
const (
	// EventOther is a step with no type of its own: a hook that runs, a
	// move, a takeover.
	EventOther EventKind = iota
	EventStart
	EventComplete
	// EventWaiting: the change is done up to a wait kept in the state.
	EventWaiting
	EventFailed
	EventCheck
	EventCheckPassed
	EventCheckFailed
	EventRollbackStart
	EventRollbackComplete
	EventRollbackFailed
)

// EventUI is implemented by a UI that takes typed events; a UI that does
// not gets UI.Status with the event's Text.
type EventUI interface {
	Event(addr string, ev Event)
}

// event reports ev to the UI.
func (r *Runner) event(addr string, ev Event) {
	ui := r.ui()
	if eu, ok := ui.(EventUI); ok {
		eu.Event(addr, ev)
		return
	}
	if ev.Text != "" {
		ui.Status(addr, ev.Text)
	}
}
