package exec

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/resource"
)

// CheckPlan runs the plan-wide checks of the types that have them
// (resource.PlanChecker) on a plan whose instances all planned: once per
// type with instances in the plan, in order of type name, each seeing
// every instance. Their problems are diagnostics on the instance (on the
// attribute, for an *AttrError); any error means the plan must not be
// applied.
func (r *Runner) CheckPlan(ctx context.Context, p *Planned) hcl.Diagnostics {
	if p == nil || len(p.items) == 0 {
		return nil
	}
	var insts []resource.PlannedInstance
	checkers := map[string]resource.PlanChecker{}
	for _, addr := range sortedKeys(p.items) {
		it := p.items[addr]
		if it.typ == nil || it.change == nil {
			continue
		}
		name := it.typ.Name()
		if c, ok := it.typ.(resource.PlanChecker); ok {
			checkers[name] = c
		}
		planned := it.planned
		if planned == cty.NilVal {
			planned = cty.NullVal(it.typ.Schema().ImpliedType())
		}
		insts = append(insts, resource.PlannedInstance{Addr: addr, Type: name, Config: it.config, Current: it.current, Planned: planned, Deps: it.deps})
	}
	names := make([]string, 0, len(checkers))
	for n := range checkers {
		names = append(names, n)
	}
	sort.Strings(names)
	var diags hcl.Diagnostics
	log := r.logger().Named("plan")
	for _, n := range names {
		for _, pr := range checkers[n].CheckPlan(ctx, resource.CheckPlanRequest{Instances: insts, Logger: log.With("type", n)}) {
			diags = append(diags, problemDiags(p.items[pr.Addr], pr)...)
		}
	}
	return diags
}

// problemDiags turns a plan-wide problem into diagnostics on its
// instance's source.
func problemDiags(it *item, pr resource.PlanProblem) hcl.Diagnostics {
	if it != nil && it.inst != nil {
		switch pr.Err.(type) {
		case *resource.AttrError, resource.AttrErrors:
			return lang.AttrDiagnostics(it.inst, pr.Err)
		}
	}
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot plan " + pr.Addr, Detail: fmt.Sprint(pr.Err)}
	if it != nil && it.inst != nil {
		d.Subject = it.inst.DeclRange.Ptr()
	}
	return hcl.Diagnostics{d}
}
