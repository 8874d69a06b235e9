package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/render"
)

func cmdState(c *cli, args []string) engine.Status {
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, "Usage: mailplan state list | show ADDR | rm ADDR... | mv [-dry-run] SOURCE DESTINATION | pull | push [-force] FILE")
		return engine.Failed
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet(c, "state "+sub)
	force := fs.Bool("force", false, "push: replace a state of another lineage or a newer serial")
	dryRun := fs.Bool("dry-run", false, "mv: say what would move, change nothing")
	if st, stop := parseFlags(fs, rest); stop {
		return st
	}
	opts := engine.Options{Dir: ".", Operation: "state " + sub}
	e, done := c.newEngine()
	defer done()
	switch sub {
	case "mv":
		return stateMove(c, e, fs.Args(), *dryRun)
	case "rm":
		if fs.NArg() == 0 {
			c.errorf("Missing address", "state rm takes one or more resource addresses.")
			return engine.Failed
		}
		if c.diags(e.StateRemove(c.ctx, opts, fs.Args()), nil) {
			return engine.Failed
		}
		for _, a := range fs.Args() {
			fmt.Fprintf(c.stdout, "Removed %s\n", a)
		}
		fmt.Fprintf(c.stdout, "Successfully removed %d resource instance(s). mailplan no longer manages them; nothing on the servers changed.\n", fs.NArg())
		return engine.Done
	case "push":
		if fs.NArg() != 1 {
			c.errorf("Missing file", "state push takes one file (or - for standard input).")
			return engine.Failed
		}
		var b []byte
		var err error
		if fs.Arg(0) == "-" {
			b, err = io.ReadAll(c.stdin)
		} else {
			b, err = os.ReadFile(fs.Arg(0))
		}
		if err != nil {
			c.errorf("Cannot read the state to push", "%s", err)
			return engine.Failed
		}
		lineage, n, diags := e.StatePush(c.ctx, opts, b, *force)
		if c.diags(diags, nil) {
			return engine.Failed
		}
		fmt.Fprintf(c.stdout, "Pushed the state (lineage %s, %d resources).\n", lineage, n)
		return engine.Done
	case "list", "show", "pull":
	default:
		c.errorf("Unknown state command", "%q is not a state command; use list, show, rm, mv, pull or push.", sub)
		return engine.Failed
	}
	s, diags := e.OpenState(c.ctx, opts, false)
	if c.diags(diags, nil) {
		return engine.Failed
	}
	defer s.Close()
	st := s.State
	switch sub {
	case "list":
		for _, a := range render.SortedAddrs(st) {
			if fs.NArg() > 0 && !hasPrefixAny(a, fs.Args()) {
				continue
			}
			fmt.Fprintln(c.stdout, a)
		}
	case "show":
		if fs.NArg() != 1 {
			c.errorf("Missing address", "state show takes one resource address, e.g. mailplan state show file.aliases.")
			return engine.Failed
		}
		r, ok := st.Resources[fs.Arg(0)]
		if !ok {
			c.errorf("No such resource", "The state has no resource %s. `mailplan state list` shows what it has.", fs.Arg(0))
			return engine.Failed
		}
		render.Resource(c.stdout, r)
	case "pull":
		b, err := s.Pull()
		if err != nil {
			c.errorf("Cannot encode the state", "%s", err)
			return engine.Failed
		}
		c.stdout.Write(b)
	}
	return engine.Done
}

// stateMove is `mailplan state mv [-dry-run] SOURCE DESTINATION`.
func stateMove(c *cli, e *engine.Engine, args []string, dryRun bool) engine.Status {
	if len(args) != 2 {
		c.errorf("Wrong number of arguments", "state mv takes a source and a destination address, e.g. mailplan state mv file.aliases file.etc_aliases.")
		return engine.Failed
	}
	moves, diags := e.StateMove(c.ctx, engine.Options{Dir: ".", Operation: "state mv"}, args[0], args[1], dryRun)
	if c.diags(diags, nil) {
		return engine.Failed
	}
	verb := "Move"
	if dryRun {
		verb = "Would move"
	}
	for _, m := range moves {
		fmt.Fprintf(c.stdout, "%s %q to %q\n", verb, m.From, m.To)
	}
	if dryRun {
		fmt.Fprintf(c.stdout, "Would have moved %d resource instance(s); the state was not changed (-dry-run).\n", len(moves))
		return engine.Done
	}
	fmt.Fprintf(c.stdout, "Successfully moved %d resource instance(s). Nothing on the servers changed.\n", len(moves))
	return engine.Done
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
