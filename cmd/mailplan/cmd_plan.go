package main

import (
	"fmt"
	"time"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/render"
)

func cmdPlan(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "plan")
	var pf planFlags
	pf.register(fs)
	out := fs.String("out", "", "save the plan to this file, for apply")
	destroy := fs.Bool("destroy", false, "plan to destroy everything managed")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when there are changes")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	if fs.NArg() > 0 {
		c.errorf("Too many arguments", "plan takes no arguments; the plan directory is the current one (or -chdir).")
		return engine.Failed
	}
	req := engine.PlanRequest{Options: pf.finish(c, "plan"), Out: *out}
	req.Destroy = *destroy
	e, done := c.newEngine()
	defer done()
	ui := c.ui()
	ui.json = *asJSON
	res := e.Plan(c.ctx, req, ui)
	if res.Status == engine.Failed {
		return engine.Failed
	}
	if *out != "" && !*asJSON {
		fmt.Fprintf(c.stdout, "\nSaved the plan to: %s\n\nTo perform exactly these actions, run:\n    mailplan apply %q\n", *out, *out)
	}
	if !*detailed && res.Status == engine.Changes {
		return engine.Done
	}
	return res.Status
}

func cmdApply(c *cli, args []string) engine.Status   { return applyLike(c, args, false) }
func cmdDestroy(c *cli, args []string) engine.Status { return applyLike(c, args, true) }

func applyLike(c *cli, args []string, destroy bool) engine.Status {
	name := "apply"
	if destroy {
		name = "destroy"
	}
	fs := newFlagSet(c, name)
	var pf planFlags
	pf.register(fs)
	autoApprove := fs.Bool("auto-approve", false, "do not ask for confirmation")
	noRollback := fs.Bool("no-rollback", false, "keep the changes made when a step fails")
	maxWait := fs.Duration("max-wait", 15*time.Minute, "longest wait done inline; longer waits are saved in the state")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	req := engine.ApplyRequest{Options: pf.finish(c, name), AutoApprove: *autoApprove}
	req.NoRollback = *noRollback
	req.MaxWait = *maxWait
	switch {
	case fs.NArg() > 1:
		c.errorf("Too many arguments", "%s takes at most one argument, a saved plan file.", name)
		return engine.Failed
	case fs.NArg() == 1 && destroy:
		c.errorf("Unexpected argument", "destroy does not take a plan file; use `mailplan plan -destroy -out=FILE` and `mailplan apply FILE`.")
		return engine.Failed
	case fs.NArg() == 1:
		req.PlanFile = fs.Arg(0)
	}
	e, done := c.newEngine()
	defer done()
	var res *engine.Result
	if destroy {
		res = e.Destroy(c.ctx, req, c.ui())
	} else {
		res = e.Apply(c.ctx, req, c.ui())
	}
	switch {
	case res.Report == nil:
	case res.Err == nil:
		render.ApplyDone(c.stdout, res.Operation, res.Report)
	default:
		summary, detail := render.ApplyFailed(res.Operation, res.Report, res.Err)
		c.errorf(summary, "%s", detail)
	}
	return res.Status
}
