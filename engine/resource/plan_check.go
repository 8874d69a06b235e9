package resource

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"
)

// PlanChecker is implemented by types with rules that only the whole plan
// can decide, or checks worth making once per plan rather than once per
// instance: an MX record must not point at a CNAME that another instance
// of the same plan creates; a DNS server's TSIG key is verified once, not
// before every record.
//
// The engine guarantees:
//   - CheckPlan is called once per plan for each type that has at least
//     one instance in it, after every instance's Read and Plan succeeded,
//     and before the plan is shown, saved or applied. No host has been
//     changed by the run yet.
//   - Instances lists every instance of the plan, of every type, sorted by
//     address, so a type can see what others create or delete.
//
// The implementation must:
//   - Change nothing on any host (it may read, and may query a server).
//   - Report each problem against the instance it concerns (PlanProblem);
//     an *AttrError or AttrErrors becomes a diagnostic on the attribute.
//     Any problem fails the plan.
type PlanChecker interface {
	CheckPlan(ctx context.Context, req CheckPlanRequest) []PlanProblem
}

// CheckPlanRequest is the plan a PlanChecker checks.
type CheckPlanRequest struct {
	Instances []PlannedInstance
	Logger    hclog.Logger
}

// PlannedInstance is one instance of a plan.
type PlannedInstance struct {
	Addr string
	// Type is the type's name, e.g. "dns_record".
	Type string
	// Config is the instance's configuration; for an instance the plan
	// deletes, the one the state recorded, with the live secrets.
	Config cty.Value
	// Current is what Read saw (null: absent); Planned is what the plan
	// reaches (null: the plan deletes it, or no longer manages it).
	Current cty.Value
	Planned cty.Value
	// Deps are the addresses of the instances it depends on.
	Deps []string
}

// PlanProblem is a problem a PlanChecker found with one instance.
type PlanProblem struct {
	// Addr is the instance's address (PlannedInstance.Addr).
	Addr string
	Err  error
}
