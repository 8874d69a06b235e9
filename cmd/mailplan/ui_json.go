package main

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/render"
)

// jsonUI implements engine.UI for plan, apply, destroy and rollback with
// -json: every line on the standard output is one message of the stream
// docs/json-format.md specifies (render.Stream), errors included; it asks
// nothing, draws no bar and uses no colour.
//
// The engine reports a resource's steps as the status lines the terminal
// prints (exec.UI.Status); jsonUI recognises those lines and turns them
// into typed messages, and tells apply_errored and gate failures from the
// operation's report, at the first rollback step or at the end.
type jsonUI struct {
	c   *cli
	s   *render.Stream
	now func() time.Time
	// op is the operation running: plan, apply, destroy or rollback.
	op string
	// progressEvery is how often a step in flight gets an apply_progress;
	// copyEvery how often a resource's progress sink may write.
	progressEvery time.Duration
	copyEvery     time.Duration

	mu    sync.Mutex
	steps map[string]*jsonStep // in flight, by address
	// told are the addresses whose failure has been reported; actions
	// the action of each change started.
	told    map[string]bool
	actions map[string]string
}

// jsonStep is a resource's step in flight: a change, a gate's check, or
// a rollback.
type jsonStep struct {
	action  string
	start   time.Time
	gate    bool
	stopped bool
}

var _ engine.UI = (*jsonUI)(nil)

// jsonUI starts the message stream of op on the standard output with its
// version message.
func (c *cli) jsonUI(op string) *jsonUI {
	u := &jsonUI{
		c: c, now: time.Now, op: op,
		progressEvery: 10 * time.Second, copyEvery: 2 * time.Second,
		steps: map[string]*jsonStep{}, told: map[string]bool{}, actions: map[string]string{},
	}
	u.s = render.NewStream(c.stdout, func() time.Time { return u.now() })
	u.emit(render.VersionMessage(engine.Version))
	return u
}

// emit writes m. A write error (a closed pipe) is not reported: the
// reader is gone, and the operation must still finish its work and its
// state.
func (u *jsonUI) emit(m render.Message) { _ = u.s.Emit(m) }

func (u *jsonUI) Diagnostics(d hcl.Diagnostics, files map[string]*hcl.File) {
	for _, diag := range d {
		u.emit(render.DiagnosticMessage(diag, files))
	}
}

// errorf reports an error that is not about a file.
func (u *jsonUI) errorf(summary, detail string) {
	u.Diagnostics(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}, nil)
}

func (u *jsonUI) Plan(p *engine.Plan) error {
	for _, m := range render.PlanMessages(p) {
		u.emit(m)
	}
	return nil
}

func (u *jsonUI) Rollback(p engine.RollbackPreview) {
	u.emit(render.RollbackPlanMessage(p.Operation, p.Started, p.Changes, p.Drifted))
}

// errNoPrompt is why -json never asks; the commands refuse earlier, so
// this is only a safety net.
var errNoPrompt = errors.New("with -json mailplan asks nothing; run again with -auto-approve")

func (u *jsonUI) Confirm(string) (bool, error) { return false, errNoPrompt }

// ConfirmChange implements engine.ConfirmUI: -json asks nothing, so a
// resource that asks just before it changes needs -force.
func (u *jsonUI) ConfirmChange(string, string) (bool, error) {
	return false, errors.New("with -json mailplan asks nothing")
}

func (u *jsonUI) Proceed() bool { return u.c.startChanges() }

func (u *jsonUI) Say(text string) {
	if t := strings.TrimSpace(text); t != "" {
		u.emit(render.LogMessage(render.LevelInfo, t))
	}
}

func (u *jsonUI) Notice(text string) {
	if t := strings.TrimSpace(text); t != "" {
		u.emit(render.LogMessage(render.LevelWarn, t))
	}
}

// Status shows a step that has no type of its own.
func (u *jsonUI) Status(addr, msg string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.emit(render.ResourceStatusMessage(addr, msg))
}

// Event implements the engine's typed steps (engine.EventUI): the stream
// does not depend on the text the terminal shows.
func (u *jsonUI) Event(addr string, ev engine.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	errText := ""
	if ev.Err != nil {
		errText = ev.Err.Error()
	}
	switch ev.Kind {
	case engine.EventStart:
		u.begin(addr, &jsonStep{action: ev.Action})
		u.emit(render.HookMessage(render.MsgApplyStart, addr, ev.Action, 0, ""))
	case engine.EventComplete:
		u.end(addr)
		u.emit(render.HookMessage(render.MsgApplyComplete, addr, ev.Action, ev.Elapsed, ""))
	case engine.EventWaiting:
		// A wait longer than -max-wait, kept in the state: the step ends
		// here, and a later apply goes on.
		u.end(addr)
		u.emit(render.WaitMessage(addr, ev.Until, ev.Reason, false))
	case engine.EventFailed, engine.EventCheckFailed:
		if !u.told[addr] {
			u.fail(addr, errText)
		}
	case engine.EventCheck:
		u.begin(addr, &jsonStep{gate: true})
		u.emit(render.GateMessage(addr, render.GateChecking, ""))
	case engine.EventCheckPassed:
		u.end(addr)
		u.emit(render.GateMessage(addr, render.GatePassed, ""))
	case engine.EventRollbackStart:
		u.failInFlight()
		u.begin(addr, &jsonStep{action: "rollback"})
		u.emit(render.HookMessage(render.MsgRollbackStart, addr, "", 0, ""))
	case engine.EventRollbackComplete:
		u.emit(render.HookMessage(render.MsgRollbackComplete, addr, "", u.endRollback(addr), ""))
	case engine.EventRollbackFailed:
		u.emit(render.HookMessage(render.MsgRollbackErrored, addr, "", u.endRollback(addr), errText))
	default:
		if ev.Text != "" {
			u.emit(render.ResourceStatusMessage(addr, ev.Text))
		}
	}
}

// begin records a step in flight; a change gets an apply_progress every
// progressEvery until it ends. u.mu is held.
func (u *jsonUI) begin(addr string, st *jsonStep) {
	st.start = u.now()
	u.steps[addr] = st
	if st.action != "rollback" && !st.gate {
		u.actions[addr] = st.action
	}
	if st.gate || st.action == "rollback" || u.progressEvery <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(u.progressEvery)
		defer t.Stop()
		for range t.C {
			u.mu.Lock()
			stopped := st.stopped
			if !stopped {
				u.emit(render.HookMessage(render.MsgApplyProgress, addr, st.action, u.now().Sub(st.start), ""))
			}
			u.mu.Unlock()
			if stopped {
				return
			}
		}
	}()
}

// end forgets the step of addr and stops its apply_progress. u.mu is
// held.
func (u *jsonUI) end(addr string) *jsonStep {
	st := u.steps[addr]
	if st != nil {
		st.stopped = true
		delete(u.steps, addr)
	}
	return st
}

// endRollback ends the rollback step of addr, returning how long it took.
func (u *jsonUI) endRollback(addr string) time.Duration {
	if st := u.end(addr); st != nil && st.action == "rollback" {
		return u.now().Sub(st.start)
	}
	return 0
}

// failInFlight reports, when an apply or destroy starts rolling back,
// the steps still in flight as failed: the walk stops at the first
// failure and lets the others finish before it undoes anything, so what
// has not finished by then did not succeed. Why is only in the report,
// at the end. u.mu is held.
func (u *jsonUI) failInFlight() {
	if u.op == "rollback" {
		return
	}
	var failed []string
	for addr, st := range u.steps {
		if st.action != "rollback" {
			failed = append(failed, addr)
		}
	}
	sort.Strings(failed)
	for _, addr := range failed {
		u.fail(addr, "")
	}
}

func (u *jsonUI) Waiting(addr string, until time.Time, reason string) {
	u.emit(render.WaitMessage(addr, until, reason, true))
}

func (u *jsonUI) Progress(addr string) engine.Progress {
	return &jsonProgress{u: u, addr: addr}
}

// jsonProgress is a resource's progress as copy_progress messages: one
// when the total is known, then at most one every copyEvery, and one
// when done reaches the total.
type jsonProgress struct {
	u    *jsonUI
	addr string
	mu   sync.Mutex
	unit string
	done int64
	tot  int64
	last time.Time
}

var _ engine.Progress = (*jsonProgress)(nil)

func (p *jsonProgress) Total(units int64, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tot, p.unit, p.last = units, what, p.u.now()
	p.u.emit(render.ProgressMessage(p.addr, p.unit, p.done, p.tot))
}

func (p *jsonProgress) Add(units int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += units
	now := p.u.now()
	finished := p.tot > 0 && p.done >= p.tot
	if !finished && now.Sub(p.last) < p.u.copyEvery {
		return
	}
	p.last = now
	p.u.emit(render.ProgressMessage(p.addr, p.unit, p.done, p.tot))
}

// finish ends the stream of an apply, destroy or rollback with what the
// result says: the failures not yet reported and the error, or the
// summary and, after an apply, the outputs.
func (u *jsonUI) finish(res *engine.Result) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if res.Report != nil && res.Err != nil {
		rep := res.Report
		if res.Operation == "rollback" {
			u.endAll()
			summary, detail := render.RollbackFailed(rep, res.Err, res.Hint)
			u.errorf(summary, detail)
			return
		}
		for _, f := range rep.Failed {
			if !u.told[f.Addr] {
				u.fail(f.Addr, f.Err.Error())
			}
		}
		u.endAll()
		summary, detail := render.ApplyFailed(res.Operation, rep, res.Err)
		u.errorf(summary, detail)
		return
	}
	u.endAll()
	if res.Report != nil {
		u.emit(render.SummaryMessage(res.Operation, res.Report))
	}
	if res.Operation == "apply" && res.Status != engine.Failed && res.Plan != nil && len(res.Plan.Outputs) > 0 {
		m, err := render.OutputsMessage(res.Plan)
		if err != nil {
			u.errorf("Cannot show the outputs", err.Error())
			return
		}
		u.emit(m)
	}
}

// fail reports the failure of addr: a gate that failed its check, or a
// change that errored (errText "" when the report does not say why yet).
// u.mu is held.
func (u *jsonUI) fail(addr, errText string) {
	u.told[addr] = true
	st := u.end(addr)
	if st != nil && st.gate {
		u.emit(render.GateMessage(addr, render.GateFailed, errText))
		return
	}
	var elapsed time.Duration
	if st != nil {
		elapsed = u.now().Sub(st.start)
	}
	u.emit(render.HookMessage(render.MsgApplyErrored, addr, u.actions[addr], elapsed, errText))
}

// endAll stops what is still in flight. u.mu is held.
func (u *jsonUI) endAll() {
	for addr := range u.steps {
		u.end(addr)
	}
}
