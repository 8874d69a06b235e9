package engine

import (
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// UI is what an operation (Plan, Apply, Destroy, Rollback) asks of whoever
// runs it, in the order the operation needs it: what it found, the plan,
// a confirmation, then progress while hosts change. The CLI implements it
// for a terminal or a CI log; a test implements it to drive an operation
// without a subprocess. Status, Waiting and Progress are called from
// several goroutines.
type UI interface {
	exec.UI
	// Diagnostics shows warnings and errors when they are found; files
	// are the parsed plan files, for source lines (nil for errors that are
	// not about a file).
	Diagnostics(diags hcl.Diagnostics, files map[string]*hcl.File)
	// Plan shows the plan made (for apply or destroy, the plan it is about
	// to carry out; a saved plan is not shown again). An error (the plan
	// could not be rendered) stops the operation.
	Plan(p *plans.Plan) error
	// Rollback shows what a rollback is about to undo.
	Rollback(p RollbackPreview)
	// Confirm asks whether to go on with op ("apply", "destroy" or
	// "rollback"); an error means nobody can be asked.
	Confirm(op string) (bool, error)
	// Proceed is called just before the first change to a host; false
	// (an interrupt came first) stops the operation with nothing changed.
	Proceed() bool
	// Say tells the user something on the standard output.
	Say(text string)
	// Notice tells the user something on the standard error.
	Notice(text string)
}

// Event is a typed step of one resource (exec.Event); a UI that
// implements EventUI gets them instead of Status texts.
type Event = exec.Event

// EventUI is implemented by a UI that takes typed steps (exec.EventUI).
type EventUI = exec.EventUI

// The kinds of Event (exec.EventKind).
const (
	EventOther            = exec.EventOther
	EventStart            = exec.EventStart
	EventComplete         = exec.EventComplete
	EventWaiting          = exec.EventWaiting
	EventFailed           = exec.EventFailed
	EventCheck            = exec.EventCheck
	EventCheckPassed      = exec.EventCheckPassed
	EventCheckFailed      = exec.EventCheckFailed
	EventRollbackStart    = exec.EventRollbackStart
	EventRollbackComplete = exec.EventRollbackComplete
	EventRollbackFailed   = exec.EventRollbackFailed
)

// Progress is a resource's progress sink (resource.Progress).
type Progress = resource.Progress

// ApplyReport is what an apply, destroy or rollback did (exec.ApplyReport).
type ApplyReport = exec.ApplyReport

// State is a plan directory's state (states.State).
type State = states.State

// Plan is a plan as the user sees it (plans.Plan).
type Plan = plans.Plan

// RollbackPreview is what a rollback will undo, shown before it asks.
type RollbackPreview struct {
	// Operation is what is undone: "apply" or "destroy".
	Operation string
	// Started is when that operation started.
	Started time.Time
	// Changes are the changes it will undo, newest first.
	Changes []string
	// Drifted are the resources that changed on their hosts since.
	Drifted []string
}

// Status is how an operation ended, which the CLI maps to an exit code.
type Status int

const (
	// Done: the operation did what was asked (or there was nothing to do).
	Done Status = iota
	// Failed: it stopped on an error, which was shown.
	Failed
	// Changes: a plan found changes to make (plan -detailed-exitcode).
	Changes
	// Unformatted: fmt -check found files not in canonical form.
	Unformatted
)

// Result is the end of an operation.
type Result struct {
	Status Status
	// Operation names it: "plan", "apply", "destroy" or "rollback".
	Operation string
	// Plan is the plan made (Plan, and Apply or Destroy that planned).
	Plan *plans.Plan
	// Report is what Apply, Destroy or Rollback did once it started
	// changing hosts, with Err its failure; nil before.
	Report *exec.ApplyReport
	Err    error
	// Hint explains a failed rollback that had to work from the state
	// alone (the configuration did not load).
	Hint string
}

// failed is a Result of an operation that stopped on an error already
// shown.
func failed(op string) *Result { return &Result{Status: Failed, Operation: op} }

// errorDiag is an error that is not about a file, for UI.Diagnostics.
func errorDiag(summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}
}
