package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/render"
	"github.com/mailplan/mailplan/engine/states"
)

// The operations below are the engine's whole sequence for one command:
// load, open and lock the state, plan, show, confirm, change hosts. They
// talk to the user only through a UI and end with a Result, so that the
// CLI only parses flags, calls one of them and maps the Result to an exit
// code, and a test can run one without a subprocess.

// PlanRequest is what Plan needs.
type PlanRequest struct {
	Options
	// Out saves the plan to this file, for `apply FILE`.
	Out string
}

// Plan reads the real state of the hosts and shows (UI.Plan) what apply
// would change; with Out it saves the plan. Its Status is Changes when
// apply would change something.
func (e *Engine) Plan(ctx context.Context, req PlanRequest, ui UI) *Result {
	const op = "plan"
	s, ok := e.openFor(ctx, req.Options, ui)
	defer s.Close()
	if !ok {
		return failed(op)
	}
	p, diags := s.Plan(ctx)
	if ui.Diagnostics(diags, s.Files()); diags.HasErrors() {
		return failed(op)
	}
	if err := ui.Plan(p.Plan); err != nil {
		ui.Diagnostics(errorDiag("Cannot render the plan", err.Error()), nil)
		return failed(op)
	}
	if req.Out != "" {
		if err := s.savePlan(p, req.Out); err != nil {
			ui.Diagnostics(errorDiag("Cannot save the plan", err.Error()), nil)
			return failed(op)
		}
	}
	res := &Result{Operation: op, Plan: p.Plan}
	if p.Plan.NeedsApply() {
		res.Status = Changes
	}
	return res
}

// savePlan writes p with its text and its full JSON document (what
// `show -json PLANFILE` prints) to path.
func (s *Session) savePlan(p *exec.Planned, path string) error {
	f := s.PlanFile(p)
	var text strings.Builder
	render.PlanText(&text, p.Plan, render.TextOptions{})
	f.Text = text.String()
	j, err := render.ShowPlanJSON(render.ShowInput{
		Plan: p.Plan, Prior: s.State, Module: s.Module, Registry: s.e.Registry,
		Version: strings.TrimPrefix(ReadBuildInfo().Version, "v"),
	})
	if err != nil {
		return err
	}
	f.JSON = j
	return plans.WriteFile(path, f)
}

// ApplyRequest is what Apply and Destroy need.
type ApplyRequest struct {
	Options
	// PlanFile applies a saved plan (Apply only): its settings win, and a
	// fresh plan must match it.
	PlanFile string
	// AutoApprove skips the confirmation.
	AutoApprove bool
}

// Apply plans, shows the plan, asks for confirmation and makes the
// changes, rolling back what it did when a step fails (unless
// NoRollback).
func (e *Engine) Apply(ctx context.Context, req ApplyRequest, ui UI) *Result {
	req.Destroy = false
	return e.applyLike(ctx, req, ui)
}

// Destroy puts back what was there before mailplan, as Apply does with a
// plan to destroy everything managed.
func (e *Engine) Destroy(ctx context.Context, req ApplyRequest, ui UI) *Result {
	req.Destroy, req.PlanFile = true, ""
	return e.applyLike(ctx, req, ui)
}

func (e *Engine) applyLike(ctx context.Context, req ApplyRequest, ui UI) *Result {
	op := opName(req.Destroy)
	opts := req.Options
	opts.Destroy = req.Destroy
	if opts.Operation == "" {
		opts.Operation = op
	}
	var saved *plans.File
	if req.PlanFile != "" {
		f, err := plans.ReadFile(req.PlanFile)
		if err != nil {
			ui.Diagnostics(errorDiag("Cannot read the saved plan", err.Error()), nil)
			return failed(op)
		}
		saved = f
		// The plan's own settings win; sensitive variables must be given
		// again, as they were never saved.
		opts.Vars = append(SavedVars(f), opts.Vars...)
		opts.Targets = f.Basis.Targets
		opts.Excludes = f.Basis.Excludes
		opts.Destroy = f.Destroy
		op = opName(f.Destroy)
	}
	s, ok := e.openFor(ctx, opts, ui)
	defer s.Close()
	if !ok {
		return failed(op)
	}
	// Refuse before reading a host or asking anything.
	if err := s.CheckApplicable(); err != nil {
		ui.Diagnostics(errorDiag("Cannot "+op, err.Error()), nil)
		return failed(op)
	}
	p, diags := s.Plan(ctx)
	if ui.Diagnostics(diags, s.Files()); diags.HasErrors() {
		return failed(op)
	}
	res := &Result{Operation: op, Plan: p.Plan}
	if saved != nil {
		if err := s.CheckSaved(saved, p); err != nil {
			ui.Diagnostics(errorDiag("Saved plan is stale", err.Error()), nil)
			return failed(op)
		}
	} else if err := ui.Plan(p.Plan); err != nil {
		ui.Diagnostics(errorDiag("Cannot render the plan", err.Error()), nil)
		return failed(op)
	}
	if !p.Plan.NeedsApply() {
		if saved != nil {
			ui.Say("No changes. Your servers match the plan.\n")
		}
		return res
	}
	title := strings.ToUpper(op[:1]) + op[1:]
	if saved == nil && !req.AutoApprove {
		ok, err := ui.Confirm(op)
		if err != nil {
			ui.Diagnostics(errorDiag("No confirmation", err.Error()), nil)
			return failed(op)
		}
		if !ok {
			ui.Say(fmt.Sprintf("\n%s cancelled. Nothing was changed.\n", title))
			return failed(op)
		}
	}
	if !ui.Proceed() {
		ui.Notice(fmt.Sprintf("\n%s stopped by an interrupt before changing anything.\n", title))
		return failed(op)
	}
	ui.Say("\n")
	res.Report, res.Err = s.Apply(ctx, p)
	if res.Err != nil {
		res.Status = Failed
	}
	s.recordApply(ctx, p.Plan, res.Err, ui)
	return res
}

// RollbackRequest is what Rollback needs.
type RollbackRequest struct {
	Options
	// Force rolls back even what changed on its host since the apply.
	Force bool
	// AutoApprove skips the confirmation.
	AutoApprove bool
}

// Rollback undoes the most recent apply or destroy, newest change first.
// When the configuration no longer loads it works from the state alone.
func (e *Engine) Rollback(ctx context.Context, req RollbackRequest, ui UI) *Result {
	const op = "rollback"
	opts := req.Options
	opts.Operation = op
	eu := e.with(ui)
	s, diags := eu.Open(ctx, opts)
	res := &Result{Operation: op}
	if diags.HasErrors() {
		res.Hint = fmt.Sprintf("\n\nThe configuration did not load (%s), so the rollback works from the state alone, which keeps no secrets: a resource that needs one (a dns_server's tsig_secret, say) cannot reach its host. Give rollback the same -var, -var-file and MAILPLAN_VAR_ values as the apply.", firstSummary(diags))
		// Rollback works from the state alone when the configuration no
		// longer loads.
		s.Close()
		s2, d := eu.OpenState(ctx, Options{Dir: opts.Dir, Operation: op}, true)
		if d.HasErrors() {
			ui.Diagnostics(append(diags, d...), s.Files())
			return failed(op)
		}
		s = s2
	}
	defer s.Close()
	changes, drifted, err := s.CheckRollback(ctx)
	if errors.Is(err, exec.ErrNothingToRollBack) {
		ui.Say("Nothing to roll back: the last apply was already rolled back, or there was none.\n")
		return res
	}
	if err != nil {
		ui.Diagnostics(errorDiag("Cannot roll back", err.Error()+res.Hint), nil)
		return failed(op)
	}
	la := s.State.LastApply
	undone, started := s.runEntry(la), time.Now()
	if len(changes) == 0 {
		// Killed before its first change: nothing to undo, but the journal
		// must be closed, or apply and destroy would see it open forever.
		_, err := s.Rollback(ctx, false)
		s.recordRollback(ctx, undone, started, err, ui)
		if err != nil {
			ui.Diagnostics(errorDiag("Cannot roll back", err.Error()+res.Hint), nil)
			return failed(op)
		}
		ui.Say(fmt.Sprintf("The last %s (started %s) had changed nothing left to undo; its journal is closed.\n", la.Operation, la.Started.Local().Format("2006-01-02 15:04:05")))
		return res
	}
	ui.Rollback(RollbackPreview{Operation: la.Operation, Started: la.Started, Changes: changes, Drifted: drifted})
	if len(drifted) > 0 && !req.Force {
		ui.Diagnostics(errorDiag("Real state changed since the apply", fmt.Sprintf("Rolling back would overwrite changes someone made after the apply to %s. Look at them; run `mailplan rollback -force` to roll back anyway.", strings.Join(drifted, ", "))), nil)
		return failed(op)
	}
	if !req.AutoApprove {
		ok, err := ui.Confirm(op)
		if err != nil {
			ui.Diagnostics(errorDiag("No confirmation", err.Error()), nil)
			return failed(op)
		}
		if !ok {
			ui.Say("\nRollback cancelled. Nothing was changed.\n")
			return failed(op)
		}
	}
	if !ui.Proceed() {
		ui.Notice("\nRollback stopped by an interrupt before changing anything.\n")
		return failed(op)
	}
	ui.Say("\n")
	started = time.Now()
	res.Report, res.Err = s.Rollback(ctx, req.Force)
	if res.Err != nil {
		res.Status = Failed
	}
	s.recordRollback(ctx, undone, started, res.Err, ui)
	return res
}

// openFor opens and locks the state of a plan directory for an operation,
// showing what it found; ok is false when it could not.
func (e *Engine) openFor(ctx context.Context, opts Options, ui UI) (*Session, bool) {
	s, diags := e.with(ui).Open(ctx, opts)
	ui.Diagnostics(diags, s.Files())
	return s, !diags.HasErrors()
}

// with is the engine reporting progress to ui.
func (e *Engine) with(ui UI) *Engine {
	c := *e
	c.UI = ui
	return &c
}

func opName(destroy bool) string {
	if destroy {
		return states.OperationDestroy
	}
	return states.OperationApply
}
