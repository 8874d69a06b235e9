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
	asJSON := fs.Bool("json", false, "print JSON messages, one a line (docs/json-format.md)")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when there are changes")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	var ui engine.UI = c.ui()
	var ju *jsonUI
	if *asJSON {
		ju = c.jsonUI("plan")
		ui = ju
	}
	if fs.NArg() > 0 {
		refuse(c, ju, "Too many arguments", "plan takes no arguments; the plan directory is the current one (or -chdir).")
		return engine.Failed
	}
	req := engine.PlanRequest{Options: pf.finish(c, "plan"), Out: *out}
	req.Destroy = *destroy
	e, done := c.newEngine()
	defer done()
	res := e.Plan(c.ctx, req, ui)
	if res.Status == engine.Failed {
		return engine.Failed
	}
	switch {
	case *out != "" && ju != nil:
		ju.Say(fmt.Sprintf("Saved the plan to: %s", *out))
	case *out != "":
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
	force := fs.Bool("force", false, "do not ask again before a resource that asks just before it changes (a command with confirm = true)")
	noRollback := fs.Bool("no-rollback", false, "keep the changes made when a step fails")
	maxWait := fs.Duration("max-wait", 15*time.Minute, "longest wait done inline; longer waits are saved in the state")
	asJSON := fs.Bool("json", false, "print JSON messages, one a line, and ask nothing (docs/json-format.md)")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	var ju *jsonUI
	if *asJSON {
		ju = c.jsonUI(name)
	}
	req := engine.ApplyRequest{Options: pf.finish(c, name), AutoApprove: *autoApprove}
	req.NoRollback = *noRollback
	req.MaxWait = *maxWait
	req.Force = *force
	switch {
	case fs.NArg() > 1:
		refuse(c, ju, "Too many arguments", fmt.Sprintf("%s takes at most one argument, a saved plan file.", name))
		return engine.Failed
	case fs.NArg() == 1 && destroy:
		refuse(c, ju, "Unexpected argument", "destroy does not take a plan file; use `mailplan plan -destroy -out=FILE` and `mailplan apply FILE`.")
		return engine.Failed
	case fs.NArg() == 1:
		req.PlanFile = fs.Arg(0)
	}
	if ju != nil && !req.AutoApprove && req.PlanFile == "" {
		refuse(c, ju, "No confirmation with -json", noPromptDetail(name))
		return engine.Failed
	}
	e, done := c.newEngine()
	defer done()
	var ui engine.UI = c.ui()
	if ju != nil {
		ui = ju
	}
	var res *engine.Result
	if destroy {
		res = e.Destroy(c.ctx, req, ui)
	} else {
		res = e.Apply(c.ctx, req, ui)
	}
	switch {
	case ju != nil:
		ju.finish(res)
	case res.Report == nil:
	case res.Err == nil:
		render.ApplyDone(c.stdout, res.Operation, res.Report)
	default:
		summary, detail := render.ApplyFailed(res.Operation, res.Report, res.Err)
		c.errorf(summary, "%s", detail)
	}
	return res.Status
}

// refuse reports an error that is not about a file: as a diagnostic
// message with -json (ju not nil), else on the standard error.
func refuse(c *cli, ju *jsonUI, summary, detail string) {
	if ju != nil {
		ju.errorf(summary, detail)
		return
	}
	c.errorf(summary, "%s", detail)
}

// noPromptDetail says why op -json without -auto-approve is refused: as
// Terraform's -json, it never asks.
func noPromptDetail(op string) string {
	d := op + " -json prints only JSON messages and asks nothing, so it cannot ask for confirmation. Review the plan and run again with -auto-approve"
	if op == "apply" {
		d += ", or apply a saved plan file (mailplan plan -out=FILE, then mailplan apply -json FILE)"
	}
	return d + "."
}
