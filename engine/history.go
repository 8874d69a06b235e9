package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/states"
)

// The audit trail: every apply, destroy and rollback is recorded in the
// backend (states.Historian) when it ends — who, from which commit of the
// plan directory, with which mailplan, the plan's hash, what changed and
// how it ended. A run killed before it could record itself is recorded as
// interrupted by the rollback or apply that deals with it.

// recordApply records the apply or destroy the session just ran.
func (s *Session) recordApply(ctx context.Context, p *plans.Plan, runErr error, ui UI) {
	la := s.State.LastApply
	if la == nil {
		return
	}
	e := s.historyEntry(la.ID, la.Operation, la.Started)
	e.Finished, e.Status = la.Finished, la.Status
	e.PlanHash = planDigest(p)
	e.Changes = historyChanges(la)
	if runErr != nil {
		e.Error = runErr.Error()
	}
	s.record(ctx, e, ui)
}

// runEntry is the entry of the run la records, as it stands: what a
// rollback records for a run that was killed before it could record
// itself.
func (s *Session) runEntry(la *states.Apply) *states.HistoryEntry {
	op := la.Operation
	if op == "" {
		op = states.OperationApply
	}
	// Who ran it, from which commit and with which mailplan is not known
	// here.
	e := &states.HistoryEntry{ID: la.ID, Operation: op, Workspace: s.workspace, Started: la.Started.UTC(),
		Status: "interrupted", Changes: historyChanges(la)}
	if !la.Open() {
		e.Status, e.Finished = la.Status, la.Finished
	}
	return e
}

// recordRollback records a rollback of undone (the entry of the run it
// undid, taken before it started); a run that never recorded itself is
// recorded first.
func (s *Session) recordRollback(ctx context.Context, undone *states.HistoryEntry, started time.Time, runErr error, ui UI) {
	h, ok := s.Backend.(states.Historian)
	if !ok || undone == nil {
		return
	}
	if past, err := h.History(ctx); err == nil && !hasEntry(past, undone.ID) {
		s.record(ctx, undone, ui)
	}
	e := s.historyEntry(randomID(), "rollback", started)
	e.Undid = undone.ID
	e.Finished = time.Now().UTC()
	if la := s.State.LastApply; la != nil {
		e.Status = la.Status
		for _, c := range la.Changes {
			if c.Restored {
				e.Changes = append(e.Changes, states.HistoryChange{Address: c.Addr, Action: string(c.Action), Outcome: "restored"})
			}
		}
	}
	if runErr != nil {
		e.Error = runErr.Error()
	}
	s.record(ctx, e, ui)
}

func hasEntry(past []states.HistoryEntry, id string) bool {
	for _, e := range past {
		if e.ID == id {
			return true
		}
	}
	return false
}

func (s *Session) historyEntry(id, op string, started time.Time) *states.HistoryEntry {
	if op == "" {
		op = states.OperationApply
	}
	return &states.HistoryEntry{
		ID: id, Operation: op, Workspace: s.workspace, Who: whoami(), Commit: gitCommit(s.dir()),
		Version: VersionString(), Started: started.UTC(), Status: states.StatusRunning,
	}
}

func historyChanges(la *states.Apply) []states.HistoryChange {
	var out []states.HistoryChange
	for _, c := range la.Changes {
		if c.Action == states.ActionAdopt || c.Action == states.ActionCheck {
			continue
		}
		outcome := "pending"
		switch {
		case c.Restored:
			outcome = "restored"
		case c.Done:
			outcome = "done"
		}
		out = append(out, states.HistoryChange{Address: c.Addr, Action: string(c.Action), Outcome: outcome})
	}
	return out
}

// record stores e; a backend that cannot is a warning, not a failure:
// the hosts have changed either way.
func (s *Session) record(ctx context.Context, e *states.HistoryEntry, ui UI) {
	h, ok := s.Backend.(states.Historian)
	if !ok {
		return
	}
	if err := h.RecordHistory(context.WithoutCancel(ctx), e); err != nil {
		ui.Notice("\nWarning: the audit trail could not record this " + e.Operation + ": " + err.Error() + "\n")
	}
}

// planDigest is the SHA-256 of the plan carried out.
func planDigest(p *plans.Plan) string {
	if p == nil {
		return ""
	}
	b, err := json.Marshal(p)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// gitCommit is the commit of the git work tree dir is in, with "+dirty"
// when it has uncommitted changes; "" outside one or without git.
func gitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--verify", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		commit += "+dirty"
	}
	return commit
}

// History is the audit trail of the plan directory's backend, oldest
// first: every workspace, or only workspace when it is not "".
func (e *Engine) History(ctx context.Context, opts Options, workspace string) ([]states.HistoryEntry, hcl.Diagnostics) {
	s, c, diags := e.workspaceSession(opts)
	if diags.HasErrors() {
		return nil, diags
	}
	store, err := s.openStore(ctx, c, DefaultWorkspace)
	if err != nil {
		return nil, hcl.Diagnostics{errDiag("Cannot open the state", err)}
	}
	defer closeStore(store)
	h, ok := store.(states.Historian)
	if !ok {
		return nil, hcl.Diagnostics{errDiag("No audit trail", fmt.Errorf("the %s backend keeps no audit trail", c.typ))}
	}
	all, err := h.History(ctx)
	if err != nil {
		return nil, hcl.Diagnostics{errDiag("Cannot read the audit trail", err)}
	}
	if workspace == "" {
		return all, nil
	}
	var out []states.HistoryEntry
	for _, e := range all {
		if e.Workspace == workspace {
			out = append(out, e)
		}
	}
	return out, nil
}
