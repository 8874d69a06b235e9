package mailbox

import (
	"context"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

var _ resource.PlanChecker = (*Copy)(nil)

// CheckPlan implements resource.PlanChecker: on each destination host a
// planned copy writes to, the SSH user can use sudo, or else write the
// destination (or, when it is not there yet, the directory it is made in)
// (transport.CheckPlanAccess); found now, not after the apply changed
// other hosts. Copies with nothing to do are not checked.
func (c *Copy) CheckPlan(ctx context.Context, req resource.CheckPlanRequest) []resource.PlanProblem {
	return transport.CheckPlanAccess(ctx, c.hosts, transport.NeedsOf(req, "mailbox_copy", func(in resource.PlannedInstance) (transport.AccessNeed, bool) {
		cfg, err := decode(in.Config)
		return transport.AccessNeed{Addr: in.Addr, Host: cfg.To, HostAttr: "to",
			Dirs: []transport.AccessDir{{Attr: "destination", Path: cfg.Destination}}}, err == nil
	}))
}
