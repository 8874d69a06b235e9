package resource

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"
)

// Type is one kind of managed object, e.g. a file or a Postfix lookup table.
//
// A Type is stateless and safe for concurrent use: the engine calls it for
// many instances at once. Everything it needs between calls travels in the
// requests: the configuration, what Read saw, and the snapshot.
//
// The engine guarantees:
//   - Config values have the schema's object type, defaults applied, and are
//     wholly known. Sensitive attributes are present in Config but are never
//     written to state, plan files or logs by the engine.
//   - Plan is only called with the Current and Snapshot of a Read made in the
//     same run, and Apply only with the Planned value of that Plan.
//   - Journal entries recorded during Apply are durable (in the state) before
//     Record returns, and reach Restore after any crash.
//
// The implementation must:
//   - Read without changing anything, and return a Snapshot from which
//     Restore can put back exactly what is there now (bytes, mode, values).
//   - Plan without side effects on any host; it may read (e.g. to validate a
//     candidate table with the host's own tools, on a temporary copy).
//   - Apply so that a crash at any point leaves the host in a state that
//     Restore with the journal so far and the snapshot repairs.
//   - Restore idempotently: running it twice, or after a partial Apply, or
//     after nothing was applied, ends in the snapshot's state.
type Type interface {
	// Name is the type name used in resource blocks, e.g. "file".
	Name() string
	// Schema describes the attributes of a resource block of this type.
	Schema() *Schema
	// Read reports the real state of the object the configuration names.
	Read(ctx context.Context, req ReadRequest) (ReadResponse, error)
	// Plan computes the state Apply would reach. It must be pure.
	Plan(ctx context.Context, req PlanRequest) (PlanResponse, error)
	// Apply makes the real state match Planned, or returns a Wait.
	Apply(ctx context.Context, req ApplyRequest) (ApplyResponse, error)
	// Restore puts back the state captured in a snapshot, replaying the
	// journal newest-first first.
	Restore(ctx context.Context, req RestoreRequest) error
}

// ReadRequest asks for the real state of one resource instance.
type ReadRequest struct {
	Addr   string
	Config cty.Value
	Logger hclog.Logger
}

// ReadResponse is the real state of an object.
type ReadResponse struct {
	// Current has the schema's object type. A null value means the object
	// does not exist.
	Current cty.Value
	// Snapshot is opaque to the engine and is kept in the state; Restore
	// must be able to put back exactly what was there at Read time.
	Snapshot []byte
}

// PlanRequest asks what Apply would reach.
type PlanRequest struct {
	Addr     string
	Config   cty.Value
	Current  cty.Value
	Snapshot []byte
	// Prior is what the state recorded for this instance, or nil.
	Prior *Prior
	// Interrupted is what an apply that was killed part way through this
	// instance recorded in its journal (ApplyRequest.Journal), oldest
	// first; nil when none was. That apply never recorded its result, so
	// Prior does not have it: the entries tell a type what it had already
	// done (a DNS switch, and when) and what it was waiting for.
	Interrupted [][]byte
	Logger      hclog.Logger
}

// Prior is the state's record of an instance from earlier applies.
type Prior struct {
	// Config is the configuration last applied (sensitive values null).
	Config cty.Value
	// Result is the value the last apply reached.
	Result cty.Value
	// Wait is a pending step recorded by an earlier apply, or nil.
	Wait *Wait
	// Private is what the last Apply returned in ApplyResponse.Private.
	Private []byte
}

// PlanResponse is the planned state.
type PlanResponse struct {
	// Planned has the schema's object type. If it equals Current (and there
	// is no Pending step) the instance needs no change.
	Planned cty.Value
	// Summary is an optional human line shown under the resource in the plan,
	// e.g. "copy 1,204 messages, 88 MiB".
	Summary string
	// Pending, when not empty, describes a step that is not yet due (e.g.
	// "TTL raise to 86400 after 2026-11-29 20:00 UTC"). The engine shows it
	// and does not count it as a change.
	Pending string
	// Unfinished is set when the interrupted apply's work on the instance
	// (PlanRequest.Interrupted) is not finished even though Planned equals
	// Current: a wait it was in, or a fact it never recorded (Private).
	// Apply then runs for the instance, with the same Interrupted entries.
	Unfinished bool
}

// ApplyRequest asks for the real state to be made to match Planned.
type ApplyRequest struct {
	Addr     string
	Config   cty.Value
	Current  cty.Value
	Planned  cty.Value
	Snapshot []byte
	// Journal records undo entries (see Journal). Apply, Check and Adopt
	// all get a working one; for Check and Adopt the engine journals a
	// change only when they record an entry, and a rollback then gives
	// Restore their entries with the Snapshot.
	Journal Journal
	// Resume is the Resume data of the Wait an earlier Apply returned, once
	// that wait is over; nil on a first call.
	Resume []byte
	// ResumeInline is true when that wait was done inline in this run
	// (Current was read again after it), false when it was persisted and
	// this run planned again, with the user seeing what is there now.
	ResumeInline bool
	// Interrupted is PlanRequest.Interrupted, the same entries.
	Interrupted [][]byte
	Progress    Progress
	Logger      hclog.Logger
	// Batch, when not nil, lets Apply leave its last step to the batch it
	// is in (Batcher); nil for a type that is no Batcher and whenever the
	// instance applies alone.
	Batch *Batch
}

// ApplyResponse reports the outcome of a successful Apply.
type ApplyResponse struct {
	// Wait, when not nil, means the apply is not finished: call Apply again
	// with Wait.Resume once Wait.Until has passed.
	Wait *Wait
	// Private is kept in the state with the instance and given back to
	// Plan as Prior.Private: facts only the apply knows, such as when a
	// DNS record was switched (its TTL hold runs from then). It must hold
	// no secret. nil keeps what the state had.
	Private []byte
	// Reached, when set (not cty.NilVal), is what the object is now, just
	// as Read would report it: the schema's object type, every attribute
	// as Read fills it. The engine then records it as the apply's result
	// without reading the object back, which saves a Read (round trips to
	// a remote host) per change. A type sets it only when it knows the
	// whole result exactly, e.g. because it just wrote every attribute
	// Read reports; else it leaves it unset and the engine reads. The
	// engine still reads when something may have changed the object after
	// Apply returned (an after_apply hook, a window's close).
	Reached cty.Value
}

// Wait is a step that must not happen before a given time.
type Wait struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	Resume []byte    `json:"resume,omitempty"`
}

// RestoreRequest asks for the state captured in Snapshot to come back.
type RestoreRequest struct {
	Addr     string
	Config   cty.Value
	Snapshot []byte
	// Journal holds the entries an interrupted or rolled-back Apply recorded,
	// oldest first; Restore replays them newest-first before the snapshot.
	Journal [][]byte
	// Private is the state's ApplyResponse.Private of the instance when
	// Restore undoes a completed apply: a destroy, or the removal of the
	// old object of a replace (Journal is empty then). It is nil in a
	// rollback, where Journal says what the apply did.
	Private []byte
	Logger  hclog.Logger
	// Batch, when not nil, lets Restore leave its last step (a reload,
	// say) to the batch it is in: in a rollback, the changes of one
	// Batcher key undone one after the other (see Batcher).
	Batch *Batch
}

// Journal records undo entries durably.
type Journal interface {
	// Record makes entry durable before returning. Apply must call it before
	// each step that the snapshot alone could not undo.
	Record(ctx context.Context, entry []byte) error
}

// Progress receives progress of a long apply. Implementations must be safe
// for concurrent use.
type Progress interface {
	// Total announces the amount of work, in units (e.g. bytes).
	Total(units int64, what string)
	// Add reports units done.
	Add(units int64)
}

// Validator is implemented by types with rules the schema cannot express.
// Validate runs at validate and plan time and touches no host.
type Validator interface {
	Validate(ctx context.Context, config cty.Value) error
}

// Claim is a named part of a host that one resource owns, such as one
// main.cf parameter of one Postfix instance.
type Claim struct {
	// Key identifies the part; two instances with the same key conflict.
	Key string
	// Path is the attribute the claim comes from, for the diagnostic.
	Path cty.Path
	// What is how the part is named to the user.
	What string
	// Shared claims of one key may coexist (several lookup tables adding
	// themselves to one parameter), but not with an exclusive claim of
	// that key (a resource setting the parameter's whole value).
	Shared bool
}

// Claimer is implemented by types that own named parts of a host, so the
// engine can reject two owners at plan time.
type Claimer interface {
	Claims(config cty.Value) []Claim
}

// Adopter is implemented by types that must secure what is there when the
// engine adopts an object that already matches the configuration (and so
// never calls Apply for it): the file type keeps a copy of the bytes on the
// host, so that destroy can put them back even after a later hand edit.
// Whatever Adopt changes on a host that a rollback of the apply must undo
// it records in req.Journal first, as Apply does.
type Adopter interface {
	Adopt(ctx context.Context, req ApplyRequest) error
}

// OriginalMerger is implemented by types whose later applies can reach
// parts of a host the first one did not (postfix_config managing one more
// parameter). When an apply changes an instance mailplan already manages,
// the engine keeps MergeOriginal(original, before) as what destroy puts
// back: the original, plus whatever before covers that it does not.
type OriginalMerger interface {
	MergeOriginal(original, before []byte) ([]byte, error)
}

// Checker is implemented by gates: types that change nothing but must hold
// at apply time, in dependency order (a drained mail queue before the old
// server stops). A gate whose plan shows no change is still checked: the
// engine calls Check just before the instance's dependents would start,
// and a failing check fails the apply like a failing Apply. For a planned
// change the engine calls Apply as usual. A check that must hold
// something on a host while the apply goes on records in req.Journal
// first, as Apply does, so that a rollback (through Restore) lets go of it.
type Checker interface {
	Check(ctx context.Context, req ApplyRequest) error
}

// Fingerprinter is implemented by types for which only part of the real
// state decides whether a saved plan is stale (e.g. new mail arriving at a
// live mailbox source does not). Without it the whole Current value counts.
type Fingerprinter interface {
	Fingerprint(current cty.Value) []byte
}
