package main

import (
	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/render"
)

func cmdRollback(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "rollback")
	var req engine.RollbackRequest
	fs.Var(varFlags{list: &req.Vars}, "var", "set a variable: NAME=VALUE (repeatable)")
	fs.Var(varFlags{list: &req.Vars, file: true}, "var-file", "read variables from an HCL file (repeatable)")
	fs.BoolVar(&req.AutoApprove, "auto-approve", false, "do not ask for confirmation")
	fs.BoolVar(&req.Force, "force", false, "roll back even if the servers changed since the apply")
	asJSON := fs.Bool("json", false, "print JSON messages, one a line, and ask nothing (docs/json-format.md)")
	var lt lockTimeout
	lockTimeoutFlag(fs, &lt)
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	var ui engine.UI = c.ui()
	var ju *jsonUI
	if *asJSON {
		ju = c.jsonUI("rollback")
		ui = ju
		if !req.AutoApprove {
			ju.errorf("No confirmation with -json", noPromptDetail("rollback"))
			return engine.Failed
		}
	}
	req.Dir, req.Stop = ".", c.stop
	lt.apply(&req.Options)
	e, done := c.newEngine()
	defer done()
	res := e.Rollback(c.ctx, req, ui)
	switch {
	case ju != nil:
		ju.finish(res)
	case res.Report == nil:
	case res.Err == nil:
		render.RollbackDone(c.stdout, res.Report)
	default:
		summary, detail := render.RollbackFailed(res.Report, res.Err, res.Hint)
		c.errorf(summary, "%s", detail)
	}
	return res.Status
}
