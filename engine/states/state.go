package states

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// State is everything mailplan remembers about one plan directory.
type State struct {
	// Version is the state file format version.
	Version int `json:"version"`
	// Serial increases by one with every write.
	Serial uint64 `json:"serial"`
	// Lineage is a random id fixed when the state is first created; a state
	// of another lineage is never written over by push without -force.
	Lineage string `json:"lineage"`
	// Resources is every managed resource instance, by address.
	Resources map[string]*Resource `json:"resources"`
	// Outputs are the root module's outputs after the last apply; sensitive
	// ones are recorded without their value.
	Outputs map[string]*Output `json:"outputs,omitempty"`
	// LastApply is the journal of the most recent apply, for rollback.
	LastApply *Apply `json:"last_apply,omitempty"`
}

// Resource is one managed resource instance.
type Resource struct {
	Addr string `json:"addr"`
	Type string `json:"type"`
	// Config is the configuration last applied (JSON of the cty object,
	// sensitive attributes null).
	Config json.RawMessage `json:"config"`
	// Result is the value the last apply reached (JSON, sensitive null).
	Result json.RawMessage `json:"result"`
	// Sensitive lists the attribute paths stripped from Config and Result.
	Sensitive []string `json:"sensitive,omitempty"`
	// Original is the snapshot of what was there before mailplan first
	// touched the object; destroy restores it.
	Original []byte `json:"original"`
	// Deps are the addresses this instance depended on when last applied;
	// destroy and rollback go in reverse of this order.
	Deps []string `json:"deps,omitempty"`
	// Wait is a pending step, or nil.
	Wait *Wait `json:"wait,omitempty"`
	// Private is the type's own record of the last apply (see
	// resource.ApplyResponse.Private).
	Private []byte `json:"private,omitempty"`
}

// Wait is a persisted wait: the resource must be applied again after Until.
type Wait struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	Resume []byte    `json:"resume,omitempty"`
}

// Output is a root module output value.
type Output struct {
	Value     json.RawMessage `json:"value,omitempty"`
	Type      json.RawMessage `json:"type,omitempty"`
	Sensitive bool            `json:"sensitive,omitempty"`
	// Digest is, for a sensitive output, a keyed digest of its value
	// ("hmac-sha256:KEYID:HEX", resource.DigestKey, with the key the
	// backend keeps beside the state: DigestKeyer), so that a plan can
	// tell a change without the value being stored or guessable from the
	// state alone. States written before keyed digests hold a plain hex
	// SHA-256 here, compared the old way until the next apply rewrites it.
	Digest string `json:"digest,omitempty"`
}

// Apply is the journal of one apply (or destroy), written before each
// change, so that a rollback — automatic, or `mailplan rollback` later, or
// after a crash — can undo exactly what it did.
type Apply struct {
	ID        string    `json:"id"`
	Operation string    `json:"operation"` // OperationApply or OperationDestroy
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitempty"`
	// Status is StatusRunning while it runs (a crash leaves it so), then
	// one of the other Status* values.
	Status string `json:"status"`
	// Continued are the times later applies continued this one after it
	// was interrupted (or its rollback failed): their changes are appended
	// here, so that a rollback undoes them all, newest first.
	Continued []time.Time `json:"continued,omitempty"`
	Changes   []*Change   `json:"changes"`
	// PriorOutputs are the root outputs before the apply; a rollback puts
	// them back.
	PriorOutputs map[string]*Output `json:"prior_outputs,omitempty"`
}

// The values of Apply.Operation.
const (
	OperationApply   = "apply"
	OperationDestroy = "destroy"
)

// The values of Apply.Status. The field stays a plain string: callers
// compare and return it as one.
const (
	// StatusRunning: the apply (or destroy) is under way, or was killed.
	StatusRunning = "running"
	// StatusApplied: it completed.
	StatusApplied = "applied"
	// StatusKept: it failed with -no-rollback; its changes stand.
	StatusKept = "kept"
	// StatusIncomplete: a destroy that could not take everything back; what
	// it did take back stays so, and the state still manages the rest.
	StatusIncomplete = "incomplete"
	// StatusRolledBack: every change was undone.
	StatusRolledBack = "rolled_back"
	// StatusRollbackFailed: some changes could not be undone; the changes
	// marked Restored were, and a later rollback retries only the others.
	StatusRollbackFailed = "rollback_failed"
)

// Open reports whether the apply still needs a rollback or a continuation:
// it was interrupted, or its rollback failed part way.
func (a *Apply) Open() bool {
	return a != nil && (a.Status == StatusRunning || a.Status == StatusRollbackFailed)
}

// Change is one resource instance changed by an apply, in the order the
// changes started.
type Change struct {
	Addr   string       `json:"addr"`
	Type   string       `json:"type"`
	Action ChangeAction `json:"action"`
	// Config is the configuration used to restore (JSON, sensitive null).
	Config json.RawMessage `json:"config"`
	// Before is the snapshot Read returned just before the change.
	Before []byte `json:"before"`
	// Journal is what Apply recorded, oldest first.
	Journal [][]byte `json:"journal,omitempty"`
	// After is the value the change reached (JSON), once done; rollback
	// refuses without -force when the real state no longer matches it.
	After json.RawMessage `json:"after,omitempty"`
	// Done is set when the change completed.
	Done bool `json:"done"`
	// Prior is the state's record of the instance before the change (nil
	// when it was not managed), put back by rollback.
	Prior *Resource `json:"prior,omitempty"`
	// Deps are the addresses the instance depended on: a rollback does not
	// undo a change of one of them while this change could not be undone.
	Deps []string `json:"deps,omitempty"`
	// Restoring is set, durably, before a rollback starts to undo the
	// change: from then on the host may hold a half-restored object that
	// mailplan itself made, which a retried rollback must not take for
	// someone else's edit.
	Restoring bool `json:"restoring,omitempty"`
	// Restored is set once the change was undone; a later rollback skips
	// it.
	Restored bool `json:"restored,omitempty"`
}

// ChangeAction is what a journalled change did. A replace is journalled as
// two changes, a delete (the old object put back as it was before
// mailplan) and a create.
type ChangeAction string

// The values of Change.Action.
const (
	ActionCreate ChangeAction = "create"
	ActionUpdate ChangeAction = "update"
	ActionDelete ChangeAction = "delete"
	// ActionResume carries on a step an earlier apply persisted a wait for.
	ActionResume ChangeAction = "resume"
	// ActionAdopt records an object that already matched: nothing on its
	// host changed, unless the type's Adopt recorded journal entries.
	ActionAdopt ChangeAction = "adopt"
	// ActionCheck holds the journal entries a gate's Check recorded
	// (journalled only when it recorded one); nothing else changed.
	ActionCheck ChangeAction = "check"
	// ActionForget drops an instance from the state (a removed block, or
	// one another instance takes over); nothing on its host changes.
	ActionForget ChangeAction = "forget"
)

// Manager reads and writes the state of one plan directory.
type Manager interface {
	// Read returns the stored state, or a new empty state (serial 0, fresh
	// lineage) when there is none.
	Read(ctx context.Context) (*State, error)
	// Write stores s with the next serial (it sets s.Serial). The write is
	// atomic: a reader sees the old or the new state; the previous version
	// is kept as a backup.
	Write(ctx context.Context, s *State) error
}

// Locker is the lock held for the whole of a plan or apply.
type Locker interface {
	// Lock takes the lock or fails at once with a *LockedError naming the
	// holder.
	Lock(ctx context.Context, info LockInfo) (Unlocker, error)
}

// Unlocker releases a held lock.
type Unlocker interface {
	Unlock() error
}

// LockInfo says who holds a lock.
type LockInfo struct {
	ID        string    `json:"id"`
	Operation string    `json:"operation"`
	Who       string    `json:"who"`
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Created   time.Time `json:"created"`
}

// LockedError is returned by Lock when another process holds the lock.
type LockedError struct {
	Holder LockInfo
	// Path says where the lock is: the lock file of a file backend, or a
	// description ("pg schema mailplan workspace default").
	Path string
}

func (e *LockedError) Error() string {
	// A file backend's Path is the lock file; another backend's says where
	// its lock is ("pg schema mailplan workspace default").
	where := ", " + e.Path
	if strings.HasPrefix(e.Path, "/") {
		where = ", lock file " + e.Path
	}
	return "the state is locked by " + e.Holder.Who + " (pid " + itoa(e.Holder.PID) + ", running " + e.Holder.Operation +
		" since " + e.Holder.Created.Format(time.RFC3339) + "); lock ID " + e.Holder.ID + where
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Backend is a Manager that is also a Locker.
type Backend interface {
	Manager
	Locker
}

// NewState returns an empty state with a fresh lineage.
func NewState(lineage string) *State {
	return &State{Version: FormatVersion, Lineage: lineage, Resources: map[string]*Resource{}}
}

// FormatVersion is the current state file format version.
const FormatVersion = 1
