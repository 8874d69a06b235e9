package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/statefile"
)

func cmdState(c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, "Usage: mailplan state list | show ADDR | rm ADDR... | mv [-dry-run] SOURCE DESTINATION | pull | push [-force] FILE")
		return 1
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet(c, "state "+sub)
	force := fs.Bool("force", false, "push: replace a state of another lineage or a newer serial")
	dryRun := fs.Bool("dry-run", false, "mv: say what would move, change nothing")
	if code, stop := parseFlags(fs, rest); stop {
		return code
	}
	if sub == "mv" {
		return stateMove(c, fs.Args(), *dryRun)
	}
	lock := sub == "rm" || sub == "push"
	e, done := c.newEngine()
	defer done()
	s, diags := e.OpenState(c.ctx, engine.Options{Dir: ".", Operation: "state " + sub}, lock)
	if c.diags(diags, nil) {
		return 1
	}
	defer s.Close()
	st := s.State
	switch sub {
	case "list":
		for _, a := range sortedAddrs(st) {
			if fs.NArg() > 0 && !hasPrefixAny(a, fs.Args()) {
				continue
			}
			fmt.Fprintln(c.stdout, a)
		}
		return 0
	case "show":
		if fs.NArg() != 1 {
			c.errorf("Missing address", "state show takes one resource address, e.g. mailplan state show file.aliases.")
			return 1
		}
		r, ok := st.Resources[fs.Arg(0)]
		if !ok {
			c.errorf("No such resource", "The state has no resource %s. `mailplan state list` shows what it has.", fs.Arg(0))
			return 1
		}
		printResource(c, r)
		return 0
	case "rm":
		if fs.NArg() == 0 {
			c.errorf("Missing address", "state rm takes one or more resource addresses.")
			return 1
		}
		for _, a := range fs.Args() {
			if _, ok := st.Resources[a]; !ok {
				c.errorf("No such resource", "The state has no resource %s; nothing was removed.", a)
				return 1
			}
		}
		for _, a := range fs.Args() {
			delete(st.Resources, a)
		}
		if err := s.Backend.Write(c.ctx, st); err != nil {
			c.errorf("Cannot write the state", "%s", err)
			return 1
		}
		for _, a := range fs.Args() {
			fmt.Fprintf(c.stdout, "Removed %s\n", a)
		}
		fmt.Fprintf(c.stdout, "Successfully removed %d resource instance(s). mailplan no longer manages them; nothing on the servers changed.\n", fs.NArg())
		return 0
	case "pull":
		// The state as mailplan sees it: the file with the journal of an
		// unfinished apply replayed.
		b, err := statefile.Encode(st)
		if err != nil {
			c.errorf("Cannot encode the state", "%s", err)
			return 1
		}
		c.stdout.Write(b)
		return 0
	case "push":
		if fs.NArg() != 1 {
			c.errorf("Missing file", "state push takes one file (or - for standard input).")
			return 1
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
			return 1
		}
		ns, err := statefile.Decode(b)
		if err != nil {
			c.errorf("Invalid state file", "%s", err)
			return 1
		}
		if err := s.Backend.Push(c.ctx, ns, *force); err != nil {
			c.errorf("State push refused", "%s", err)
			return 1
		}
		fmt.Fprintf(c.stdout, "Pushed the state (lineage %s, %d resources).\n", ns.Lineage, len(ns.Resources))
		return 0
	}
	c.errorf("Unknown state command", "%q is not a state command; use list, show, rm, mv, pull or push.", sub)
	return 1
}

// stateMove is `mailplan state mv [-dry-run] SOURCE DESTINATION`.
func stateMove(c *cli, args []string, dryRun bool) int {
	if len(args) != 2 {
		c.errorf("Wrong number of arguments", "state mv takes a source and a destination address, e.g. mailplan state mv file.aliases file.etc_aliases.")
		return 1
	}
	e, done := c.newEngine()
	defer done()
	moves, diags := e.StateMove(c.ctx, engine.Options{Dir: ".", Operation: "state mv"}, args[0], args[1], dryRun)
	if c.diags(diags, nil) {
		return 1
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
		return 0
	}
	fmt.Fprintf(c.stdout, "Successfully moved %d resource instance(s). Nothing on the servers changed.\n", len(moves))
	return 0
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func sortedAddrs(st *states.State) []string {
	out := make([]string, 0, len(st.Resources))
	for a := range st.Resources {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func printResource(c *cli, r *states.Resource) {
	fmt.Fprintf(c.stdout, "# %s:\n", r.Addr)
	fmt.Fprintf(c.stdout, "resource %q %q {\n", r.Type, lastName(r.Addr))
	var m map[string]json.RawMessage
	_ = json.Unmarshal(r.Result, &m)
	keys := make([]string, 0, len(m))
	width := 0
	for k := range m {
		keys = append(keys, k)
		if len(k) > width {
			width = len(k)
		}
	}
	sort.Strings(keys)
	sens := map[string]bool{}
	for _, s := range r.Sensitive {
		sens[s] = true
	}
	for _, k := range keys {
		v := string(m[k])
		if sens[k] {
			v = "(sensitive value)"
		}
		if v == "null" {
			continue
		}
		fmt.Fprintf(c.stdout, "    %-*s = %s\n", width, k, v)
	}
	fmt.Fprintln(c.stdout, "}")
	if r.Wait != nil {
		fmt.Fprintf(c.stdout, "# waiting until %s: %s\n", r.Wait.Until.Local().Format("2006-01-02 15:04:05 MST"), r.Wait.Reason)
	}
	fmt.Fprintln(c.stdout)
}

func lastName(addr string) string {
	s := addr
	if i := strings.LastIndex(s, "["); i > 0 && strings.HasSuffix(s, "]") {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "."); i >= 0 {
		return s[i+1:]
	}
	return s
}
