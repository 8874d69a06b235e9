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
	var needs []transport.AccessNeed
	for _, in := range req.Instances {
		if in.Type != "postfix_map" || !transport.Changes(in) {
			continue
		}
		c, err := decodeMap(in.Config)
		if err != nil {
			continue // Plan reported it
		}
		n := transport.AccessNeed{Addr: in.Addr, Host: c.Host, HostAttr: "host",
			Dirs: []transport.AccessDir{{Attr: "path", Path: path.Dir(c.Path)}}}
		if c.Parameter != "" {
			n.Dirs = append(n.Dirs, transport.AccessDir{Attr: "config_dir", Path: c.ConfigDir})
		}
		needs = append(needs, n)
	}
	return transport.CheckPlanAccess(ctx, m.hosts, needs)
}

// CheckPlan implements resource.PlanChecker: on each host a planned change
// of main.cf writes to, the SSH user can use sudo, or else write
// config_dir (transport.CheckPlanAccess).
func (cf *Config) CheckPlan(ctx context.Context, req resource.CheckPlanRequest) []resource.PlanProblem {
	var needs []transport.AccessNeed
	for _, in := range req.Instances {
		if in.Type != "postfix_config" || !transport.Changes(in) {
			continue
		}
		c, err := decodeConfig(in.Config)
		if err != nil {
			continue // Plan reported it
		}
		needs = append(needs, transport.AccessNeed{Addr: in.Addr, Host: c.Host, HostAttr: "host",
			Dirs: []transport.AccessDir{{Attr: "config_dir", Path: c.ConfigDir}}})
	}
	return transport.CheckPlanAccess(ctx, cf.hosts, needs)
}
