package main

import (
	"fmt"

	"github.com/mailplan/mailplan/engine"
)

func cmdInit(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "init")
	var req engine.InitRequest
	var backendConfig listFlag
	fs.Var(&backendConfig, "backend-config", "a backend setting KEY=VALUE, or an HCL file of them, kept out of the plan files (repeatable)")
	fs.BoolVar(&req.MigrateState, "migrate-state", false, "copy the state of every workspace from the backend used so far into the configured one")
	fs.BoolVar(&req.Upgrade, "upgrade", false, "resolve the refs of git modules again, moving the commits the lock file records")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	if fs.NArg() > 0 {
		c.errorf("Unexpected argument", "init takes no arguments; run it in the plan directory (or with -chdir).")
		return engine.Failed
	}
	req.Dir, req.Operation, req.BackendConfig = ".", "init", backendConfig
	e, done := c.newEngine()
	defer done()
	return e.Init(c.ctx, req, c.ui()).Status
}

func cmdForceUnlock(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "force-unlock")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	if fs.NArg() != 1 {
		c.errorf("Missing lock ID", "force-unlock takes the ID of the lock, as the refused run printed it.")
		return engine.Failed
	}
	e, done := c.newEngine()
	defer done()
	if c.diags(e.ForceUnlock(c.ctx, engine.Options{Dir: "."}, fs.Arg(0)), nil) {
		return engine.Failed
	}
	fmt.Fprintf(c.stdout, "The state lock %s was released. Another run can now take it.\n", fs.Arg(0))
	return engine.Done
}
