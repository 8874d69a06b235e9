package postfix

import (
	"context"
	"path"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

var (
	_ resource.PlanChecker = (*Map)(nil)
	_ resource.PlanChecker = (*Config)(nil)
)

// CheckPlan implements resource.PlanChecker: on each host a planned change
// of a table writes to, the SSH user can use sudo, or else write the
// table's directory and, when the table is listed in a parameter,
// config_dir (transport.CheckPlanAccess); found now, not half way through
// an apply. Instances without a change are not checked.
func (m *Map) CheckPlan(ctx context.Context, req resource.CheckPlanRequest) []resource.PlanProblem {
	return transport.CheckPlanAccess(ctx, m.hosts, transport.NeedsOf(req, "postfix_map", func(in resource.PlannedInstance) (transport.AccessNeed, bool) {
		c, err := decodeMap(in.Config)
		n := transport.AccessNeed{Addr: in.Addr, Host: c.Host, HostAttr: "host",
			Dirs: []transport.AccessDir{{Attr: "path", Path: path.Dir(c.Path)}}}
		if c.Parameter != "" {
			n.Dirs = append(n.Dirs, transport.AccessDir{Attr: "config_dir", Path: c.ConfigDir})
		}
		return n, err == nil
	}))
}

// CheckPlan implements resource.PlanChecker: on each host a planned change
// of main.cf writes to, the SSH user can use sudo, or else write
// config_dir (transport.CheckPlanAccess).
func (cf *Config) CheckPlan(ctx context.Context, req resource.CheckPlanRequest) []resource.PlanProblem {
	return transport.CheckPlanAccess(ctx, cf.hosts, transport.NeedsOf(req, "postfix_config", func(in resource.PlannedInstance) (transport.AccessNeed, bool) {
		c, err := decodeConfig(in.Config)
		return transport.AccessNeed{Addr: in.Addr, Host: c.Host, HostAttr: "host",
			Dirs: []transport.AccessDir{{Attr: "config_dir", Path: c.ConfigDir}}}, err == nil
	}))
}
