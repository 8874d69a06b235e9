package main

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/render"
)

func cmdVersion(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "version")
	asJSON := fs.Bool("json", false, "print the version as JSON")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	if *asJSON {
		b, _ := json.MarshalIndent(engine.ReadBuildInfo(), "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		return engine.Done
	}
	fmt.Fprintf(c.stdout, "mailplan %s\n", engine.VersionString())
	return engine.Done
}

func cmdHistory(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "history")
	asJSON := fs.Bool("json", false, "print the audit trail as JSON")
	workspace := fs.String("workspace", "", "only this workspace's runs")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	e, done := c.newEngine()
	defer done()
	entries, diags := e.History(c.ctx, engine.Options{Dir: "."}, *workspace)
	if c.diags(diags, nil) {
		return engine.Failed
	}
	if *asJSON {
		b, _ := json.MarshalIndent(render.HistoryJSON(entries), "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		return engine.Done
	}
	render.History(c.stdout, entries)
	return engine.Done
}

func cmdValidate(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "validate")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var vars []engine.VarArg
	fs.Var(varFlags{list: &vars}, "var", "set a variable")
	fs.Var(varFlags{list: &vars, file: true}, "var-file", "read variables from a file")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	e, done := c.newEngine()
	defer done()
	s, diags := e.Load(engine.Options{Dir: ".", Vars: vars, ValidateOnly: true})
	if *asJSON {
		b, _ := json.MarshalIndent(render.ValidateJSON(diags, s.Files()), "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		return failedIf(diags.HasErrors())
	}
	if c.diags(diags, s.Files()) {
		return engine.Failed
	}
	fmt.Fprintln(c.stdout, "Success! The plan is valid.")
	return engine.Done
}

func cmdFmt(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "fmt")
	var req engine.FmtRequest
	fs.BoolVar(&req.Check, "check", false, "exit 3 when a file is not formatted; change nothing")
	fs.BoolVar(&req.Diff, "diff", false, "print the changes")
	fs.BoolVar(&req.Recursive, "recursive", false, "also format subdirectories")
	fs.BoolVar(&req.Write, "write", true, "write the formatted files")
	fs.BoolVar(&req.List, "list", true, "list the files that change")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	req.Paths = fs.Args()
	e, done := c.newEngine()
	defer done()
	return e.Fmt(req, c.ui()).Status
}

func cmdGraph(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "graph")
	typ := fs.String("type", "plan", "plan, apply or rollback")
	var vars []engine.VarArg
	fs.Var(varFlags{list: &vars}, "var", "set a variable")
	fs.Var(varFlags{list: &vars, file: true}, "var-file", "read variables from a file")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	if !slices.Contains(engine.GraphTypes, *typ) {
		c.errorf("Invalid graph type", "-type must be plan, apply or rollback, not %q.", *typ)
		return engine.Failed
	}
	e, done := c.newEngine()
	defer done()
	g, files, diags := e.Graph(c.ctx, engine.Options{Dir: ".", Vars: vars}, *typ)
	if c.diags(diags, files) {
		return engine.Failed
	}
	render.DOT(c.stdout, g.Nodes, g.Edges)
	return engine.Done
}

func cmdShow(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "show")
	asJSON := fs.Bool("json", false, "print JSON")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	if fs.NArg() == 1 {
		f, err := engine.ReadPlanFile(fs.Arg(0))
		if err != nil {
			c.errorf("Cannot read the saved plan", "%s", err)
			return engine.Failed
		}
		if *asJSON {
			fmt.Fprintln(c.stdout, string(f.JSON))
		} else {
			fmt.Fprint(c.stdout, f.Text)
		}
		return engine.Done
	}
	st, ok := c.readState()
	if !ok {
		return engine.Failed
	}
	if *asJSON {
		b, _ := json.MarshalIndent(render.StateJSON(st), "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		return engine.Done
	}
	if len(st.Resources) == 0 {
		fmt.Fprintln(c.stdout, "The state is empty: mailplan manages nothing here yet.")
		return engine.Done
	}
	for _, addr := range render.SortedAddrs(st) {
		render.Resource(c.stdout, st.Resources[addr])
	}
	return engine.Done
}

func cmdOutput(c *cli, args []string) engine.Status {
	fs := newFlagSet(c, "output")
	asJSON := fs.Bool("json", false, "print JSON")
	if st, stop := parseFlags(fs, args); stop {
		return st
	}
	st, ok := c.readState()
	if !ok {
		return engine.Failed
	}
	if fs.NArg() == 1 {
		if summary, detail := render.Output(c.stdout, st.Outputs, fs.Arg(0), *asJSON); summary != "" {
			c.errorf(summary, "%s", detail)
			return engine.Failed
		}
		return engine.Done
	}
	render.Outputs(c.stdout, st.Outputs, *asJSON)
	return engine.Done
}

// readState reads the state of the plan in the working directory without
// locking it (show, output); ok is false when it printed why it could not.
func (c *cli) readState() (st *engine.State, ok bool) {
	e, done := c.newEngine()
	defer done()
	s, diags := e.OpenState(c.ctx, engine.Options{Dir: "."}, false)
	if c.diags(diags, nil) {
		return nil, false
	}
	return s.State, true
}

// failedIf is Failed when failed is true, else Done.
func failedIf(failed bool) engine.Status {
	if failed {
		return engine.Failed
	}
	return engine.Done
}
