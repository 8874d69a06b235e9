package main

import (
	"fmt"

	"github.com/mailplan/mailplan/engine"
)

func cmdWorkspace(c *cli, args []string) engine.Status {
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, "Usage: mailplan workspace list | show | new NAME | select [-or-create] NAME | delete [-force] NAME")
		return engine.Failed
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet(c, "workspace "+sub)
	force := fs.Bool("force", false, "delete: delete a workspace that still tracks resources (mailplan forgets them; nothing on the hosts changes)")
	orCreate := fs.Bool("or-create", false, "select: make the workspace first when it does not exist")
	if st, stop := parseFlags(fs, rest); stop {
		return st
	}
	opts := engine.Options{Dir: ".", Operation: "workspace " + sub}
	e, done := c.newEngine()
	defer done()
	name := func() (string, bool) {
		if fs.NArg() != 1 {
			c.errorf("Missing workspace name", "workspace %s takes one workspace name.", sub)
			return "", false
		}
		return fs.Arg(0), true
	}
	switch sub {
	case "list", "show":
		list, diags := e.Workspaces(c.ctx, opts)
		if c.diags(diags, nil) {
			return engine.Failed
		}
		if sub == "show" {
			fmt.Fprintln(c.stdout, list.Current)
			return engine.Done
		}
		for _, n := range list.Names {
			mark := "  "
			if n == list.Current {
				mark = "* "
			}
			fmt.Fprintln(c.stdout, mark+n)
		}
		return engine.Done
	case "new":
		n, ok := name()
		if !ok || c.diags(e.NewWorkspace(c.ctx, opts, n), nil) {
			return engine.Failed
		}
		fmt.Fprintf(c.stdout, "Created and switched to workspace %q.\n", n)
	case "select":
		n, ok := name()
		if !ok || c.diags(e.SelectWorkspace(c.ctx, opts, n, *orCreate), nil) {
			return engine.Failed
		}
		fmt.Fprintf(c.stdout, "Switched to workspace %q.\n", n)
	case "delete":
		n, ok := name()
		if !ok || c.diags(e.DeleteWorkspace(c.ctx, opts, n, *force), nil) {
			return engine.Failed
		}
		fmt.Fprintf(c.stdout, "Deleted workspace %q.\n", n)
	default:
		c.errorf("Unknown workspace command", "%q is not a workspace command; use list, show, new, select or delete.", sub)
		return engine.Failed
	}
	return engine.Done
}
