package plans

import (
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Action is what a change does to a resource instance.
type Action string

const (
	NoOp    Action = "no-op"
	Create  Action = "create"
	Update  Action = "update"
	Delete  Action = "delete"
	Replace Action = "replace" // delete then create
	// Resume is a resource whose earlier wait is over: the apply goes on
	// with its next step.
	Resume Action = "resume"
	// Forget is a resource a removed block names: apply drops it from the
	// state and changes nothing on its host.
	Forget Action = "forget"
)

// Plan is the result of `mailplan plan`.
type Plan struct {
	// Destroy is true for a plan made with -destroy.
	Destroy bool
	Changes []*Change
	Outputs map[string]*OutputChange
	// Waiting lists resources whose wait is not over yet.
	Waiting []*Waiting
	// Adopt lists resources that already match the configuration but are
	// not in the state yet: apply records them, with what is there now as
	// what destroy puts back, and changes nothing on the hosts.
	Adopt []string
	// Basis is what the plan was made from, for the stale check.
	Basis Basis
	// Moved are the state's instances that moved blocks give a new
	// address; apply records the moves before anything else.
	Moved []Move
	// Continues is true when applying the plan continues an unfinished
	// apply (interrupted, or whose rollback failed): the apply joins its
	// journal and closes it, even with no change left to make.
	Continues bool
}

// Change is one resource instance in the plan.
type Change struct {
	Addr   string
	Module string // module address, "" for root
	Type   string
	Name   string
	Key    string // instance key with brackets, or ""
	Action Action
	// Before is the real state read (null when absent); After the planned
	// state (null for delete). Both are marked where sensitive.
	Before cty.Value
	After  cty.Value
	// Summary is the type's human line, e.g. "copy 1,204 messages".
	Summary string
	// Pending is a step not yet due, shown but not counted.
	Pending string
	// AfterWait is a dependency (direct or not) with a persisted wait
	// that is not over: apply leaves this change until then.
	AfterWait *Waiting
	// Reason explains a replace or delete ("path changed", "not in the
	// configuration").
	Reason string
	// ReplacePaths are the attributes that force a replacement.
	ReplacePaths []string
	// ShowUnchanged are the attributes an update shows even when they do
	// not change (resource.Attribute.ShowUnchanged), so that a reader can
	// tell which object it is about.
	ShowUnchanged []string
	// PreviousAddr is the address the state had the instance at before a
	// moved block gave it this one.
	PreviousAddr string
	// TakesOver is an instance the state manages that is no longer in the
	// configuration and owns the same part of a host (TakesOverWhat) as
	// this new one: instead of destroying it (putting back what was there
	// before mailplan) and creating this one, the plan hands its record,
	// with what destroy puts back, to this one.
	TakesOver     string
	TakesOverWhat string
	// Interrupted marks a Resume of work an interrupted apply left
	// unfinished on the instance (a wait, a fact it never recorded),
	// rather than of a wait the state holds.
	Interrupted bool
}

// Move is one instance given a new address by moved blocks.
type Move struct {
	From, To string
}

// Waiting is a resource with a persisted wait.
type Waiting struct {
	Addr   string
	Until  time.Time
	Reason string
}

// OutputChange is a root output's planned value.
type OutputChange struct {
	Action    Action
	Before    cty.Value
	After     cty.Value
	Sensitive bool
}

// Basis is what a plan was made from.
type Basis struct {
	ConfigHash string
	// Variables are the root variables, JSON, without sensitive ones.
	Variables map[string]string
	// SensitiveVariables are salted hashes of sensitive variables, so a
	// changed secret makes the plan stale without the secret being stored.
	SensitiveVariables map[string]string
	Salt               string
	StateLineage       string
	StateSerial        uint64
	// Reads are fingerprints of what refresh read, by address.
	Reads map[string]string
	// Targets and Excludes are the -target and -exclude addresses.
	Targets  []string
	Excludes []string
	Created  time.Time
}

// Counts returns how many instances are added, changed and destroyed, as
// `Plan: N to add, N to change, N to destroy.` counts them.
func (p *Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update, Resume:
			change++
		case Delete:
			destroy++
		case Replace:
			add++
			destroy++
		}
	}
	return
}

// NeedsApply reports whether apply has anything to do: changes, waits that
// are over, resources to adopt into the state, moves to record, resources
// to forget or to take over.
func (p *Plan) NeedsApply() bool {
	if p.HasChanges() || len(p.Adopt) > 0 || p.Continues || len(p.Moved) > 0 {
		return true
	}
	for _, c := range p.Changes {
		if c.Action == Resume || c.Action == Forget || c.TakesOver != "" {
			return true
		}
	}
	return false
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	a, c, d := p.Counts()
	if a+c+d > 0 {
		return true
	}
	for _, o := range p.Outputs {
		if o.Action != NoOp {
			return true
		}
	}
	return false
}
