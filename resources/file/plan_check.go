package file

import (
	"context"
	"path"
	"sync"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

var _ resource.PlanChecker = (*File)(nil)

// resolveParallelism is how many paths CheckPlan resolves at once.
const resolveParallelism = 16

// CheckPlan implements resource.PlanChecker: the claims on the real path,
// and, on each host a planned change writes to, that the SSH user can use
// sudo or else write the file's directory (transport.CheckPlanAccess).
//
// Claims checks the paths as written, with no host; two paths that reach
// one file through a symbolic link (one the link rules of
// transport.Resolve let mailplan follow) pass it, and the last writer
// would win. Here each path is resolved on its host and two instances
// reaching the same real file conflict like two claims on one path.
func (f *File) CheckPlan(ctx context.Context, req resource.CheckPlanRequest) []resource.PlanProblem {
	type owner struct {
		addr, path string
		host       resource.Host
	}
	owners := map[string]owner{}
	var probs []resource.PlanProblem
	var needs []transport.AccessNeed
	type check struct {
		addr string
		c    config
		h    transport.Host
	}
	var checks []check
	for _, in := range req.Instances {
		if in.Type != "file" {
			continue
		}
		c, err := decode(in.Config)
		if err != nil {
			continue // Plan reported it
		}
		if transport.Changes(in) {
			needs = append(needs, transport.AccessNeed{Addr: in.Addr, Host: c.Host, HostAttr: "host",
				Dirs: []transport.AccessDir{{Attr: "path", Path: path.Dir(c.Path)}}})
		}
		if pv := resource.Unmarked(in.Planned); pv.IsNull() {
			continue // deleted: it writes nothing new
		}
		h, err := f.hosts.Get(ctx, c.Host)
		if err != nil {
			continue // Read reported it
		}
		checks = append(checks, check{addr: in.Addr, c: c, h: h})
	}
	// Each resolve is a walk of lstat calls, a round trip each over SSH:
	// they run side by side, and are judged in order after.
	reals := make([]string, len(checks))
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, resolveParallelism)
	for i, ck := range checks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			reals[i], errs[i] = transport.Resolve(ctx, ck.h, path.Dir(ck.c.Path), ck.c.Path)
		})
	}
	wg.Wait()
	for i, ck := range checks {
		if errs[i] != nil {
			probs = append(probs, resource.PlanProblem{Addr: ck.addr, Err: errs[i]})
			continue
		}
		c, real := ck.c, reals[i]
		key := claimKey(c.Host, real)
		prev, dup := owners[key]
		if !dup {
			owners[key] = owner{addr: ck.addr, path: c.Path, host: c.Host}
			continue
		}
		probs = append(probs, resource.PlanProblem{Addr: ck.addr, Err: resource.Errorf("path", "Two resources manage the same thing",
			"%s and %s both manage the file %s on %s: %s and %s are the same file (symbolic links resolved). "+
				"Only one resource may own it; move the setting into one of them.",
			prev.addr, ck.addr, real, c.Host.String(), prev.path, c.Path)})
	}
	return append(probs, transport.CheckPlanAccess(ctx, f.hosts, needs)...)
}
