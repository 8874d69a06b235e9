package states

import (
	"context"
	"time"
)

// HistoryEntry is one run in the audit trail: an apply, a destroy or a
// rollback, who ran it and how it ended. It never holds a secret: the
// changes are named by address and action only.
type HistoryEntry struct {
	// ID names the run; a rollback names the run it undid in Undid.
	ID string `json:"id"`
	// Operation is "apply", "destroy" or "rollback".
	Operation string `json:"operation"`
	// Workspace is the workspace the run changed.
	Workspace string `json:"workspace"`
	// Who is user@host of the machine that ran it.
	Who string `json:"who"`
	// Commit is the git commit of the plan directory, when it is a git
	// work tree (with "+dirty" when it had uncommitted changes).
	Commit string `json:"commit,omitempty"`
	// Version is the mailplan version that ran it.
	Version string `json:"version"`
	// PlanHash is the SHA-256 of the plan that was carried out.
	PlanHash string    `json:"plan_hash,omitempty"`
	Started  time.Time `json:"started"`
	// Finished is zero while the run is under way (or when it died).
	Finished time.Time `json:"finished,omitzero"`
	// Status is "running", then how it ended: "applied", "failed",
	// "rolled_back", "rollback_failed", "interrupted".
	Status string `json:"status"`
	// Changes are what the run changed (or undid), in order.
	Changes []HistoryChange `json:"changes,omitempty"`
	// Undid is, for a rollback, the ID of the run it undid.
	Undid string `json:"undid,omitempty"`
	// Error is the first error, when it failed.
	Error string `json:"error,omitempty"`
}

// HistoryChange is one change in a HistoryEntry.
type HistoryChange struct {
	Address string `json:"address"`
	Action  string `json:"action"`
	// Outcome is "done", "failed", "restored" or "pending".
	Outcome string `json:"outcome,omitempty"`
}

// Historian is implemented by backends that keep the audit trail.
type Historian interface {
	// RecordHistory stores e durably, replacing an earlier entry with the
	// same ID (a run is recorded when it starts and again when it ends).
	RecordHistory(ctx context.Context, e *HistoryEntry) error
	// History returns the entries of every workspace, oldest first.
	History(ctx context.Context) ([]HistoryEntry, error)
}

// Workspacer is implemented by backends that hold several workspaces.
type Workspacer interface {
	// Workspaces lists the workspaces that have a state, sorted; the
	// default workspace is listed too.
	Workspaces(ctx context.Context) ([]string, error)
	// DeleteWorkspace removes the named workspace's state, journal and
	// lock record (never "default"). The caller checks it is empty.
	DeleteWorkspace(ctx context.Context, name string) error
}

// ForceUnlocker is implemented by backends that can release a lock
// another run holds, by its ID (mailplan force-unlock ID).
type ForceUnlocker interface {
	ForceUnlock(ctx context.Context, id string) error
}
