package exec

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/dag"
	"github.com/mailplan/mailplan/engine/resource"
)

// PanicError is a panic in a resource type's method (or in the engine's
// work on one resource), caught so that it fails that resource like any
// other error: a plan reports it as a diagnostic, an apply rolls back, a
// rollback goes on with the other changes. A panic on a goroutine nobody
// recovers kills the process with a stack trace, and an apply killed that
// way leaves its journal open with nothing rolled back. The stack goes to
// the log, never into the message.
type PanicError struct {
	Addr  string
	Op    string // what was running: "read", "plan", "apply", "restore", …
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error: %s of %s panicked: %v. This is a bug in mailplan; please report it with the log of a run with MAILPLAN_LOG=debug", e.Op, e.Addr, e.Value)
}

// recovered, deferred directly, turns a panic of the goroutine into *errp
// as a *PanicError naming addr and op, and logs its stack. A nested
// PanicError (a deeper recovered already) is kept as it is.
func (r *Runner) recovered(addr, op string, errp *error) {
	v := recover()
	if v == nil {
		return
	}
	if pe, ok := v.(*PanicError); ok {
		*errp = pe
		return
	}
	pe := &PanicError{Addr: addr, Op: op, Value: v, Stack: debug.Stack()}
	r.logger().Error("panic", "addr", addr, "op", op, "value", fmt.Sprint(v), "stack", string(pe.Stack))
	*errp = pe
}

// The calls below are the engine's only way into a resource type's Read,
// Plan, Apply and Restore: each turns a panic into an error for the
// resource.

func (r *Runner) read(ctx context.Context, t resource.Type, req resource.ReadRequest) (resp resource.ReadResponse, err error) {
	defer r.recovered(req.Addr, "read", &err)
	return t.Read(ctx, req)
}

func (r *Runner) plan(ctx context.Context, t resource.Type, req resource.PlanRequest) (resp resource.PlanResponse, err error) {
	defer r.recovered(req.Addr, "plan", &err)
	return t.Plan(ctx, req)
}

func (r *Runner) apply(ctx context.Context, t resource.Type, req resource.ApplyRequest) (resp resource.ApplyResponse, err error) {
	defer r.recovered(req.Addr, "apply", &err)
	return t.Apply(ctx, req)
}

func (r *Runner) restore(ctx context.Context, t resource.Type, req resource.RestoreRequest) (err error) {
	defer r.recovered(req.Addr, "restore", &err)
	return t.Restore(ctx, req)
}

// walkPanic turns the panic dag.Walk recovered from the work on addr (a
// *dag.PanicError) into a *PanicError naming addr and op, and logs its
// stack; any other error is returned as it is. Walk is the one place a
// walk's goroutines recover: refresh and apply both run on it.
func (r *Runner) walkPanic(addr, op string, err error) error {
	var wp *dag.PanicError
	if !errors.As(err, &wp) {
		return err
	}
	if pe, ok := wp.Value.(*PanicError); ok {
		return pe
	}
	pe := &PanicError{Addr: addr, Op: op, Value: wp.Value, Stack: wp.Stack}
	r.logger().Error("panic", "addr", addr, "op", op, "value", fmt.Sprint(wp.Value), "stack", string(wp.Stack))
	return pe
}

// planPanicDiag is the diagnostic of a panic while planning it.
func planPanicDiag(it *item, err error) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot plan " + it.addr, Detail: err.Error()}
	if it.inst != nil {
		d.Subject = it.inst.DeclRange.Ptr()
	}
	return d
}

// planAgain plans the item once more during an apply (apply_replan.go,
// moved.go), on the goroutine of the apply walk: a panic is a diagnostic,
// as at plan time.
func (r *Runner) planAgain(ctx context.Context, it *item) (diags hcl.Diagnostics) {
	defer func() {
		if v := recover(); v != nil {
			diags = append(diags, planPanicDiag(it, r.walkPanic(it.addr, "plan", &dag.PanicError{Value: v, Stack: debug.Stack()})))
		}
	}()
	return r.planItem(ctx, it, PlanOptions{})
}
