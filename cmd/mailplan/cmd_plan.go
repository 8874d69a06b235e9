package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/render"
	"github.com/mailplan/mailplan/engine/states"
)

func cmdPlan(c *cli, args []string) int {
	fs := newFlagSet(c, "plan")
	var pf planFlags
	pf.register(fs)
	out := fs.String("out", "", "save the plan to this file, for apply")
	destroy := fs.Bool("destroy", false, "plan to destroy everything managed")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when there are changes")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		c.errorf("Too many arguments", "plan takes no arguments; the plan directory is the current one (or -chdir).")
		return 1
	}
	opts := pf.finish(c, "plan")
	opts.Destroy = *destroy
	e, done := c.newEngine()
	defer done()
	s, diags := e.Open(c.ctx, opts)
	defer s.Close()
	if c.diags(diags, s.Files()) {
		return 1
	}
	p, diags := s.Plan(c.ctx)
	if c.diags(diags, s.Files()) {
		return 1
	}
	if *asJSON {
		b, err := render.PlanJSON(p.Plan)
		if err != nil {
			c.errorf("Cannot render the plan", "%s", err)
			return 1
		}
		fmt.Fprintln(c.stdout, string(b))
	} else {
		render.PlanText(c.stdout, p.Plan, render.TextOptions{Color: c.color})
	}
	if *out != "" {
		if err := savePlan(s, p, *out); err != nil {
			c.errorf("Cannot save the plan", "%s", err)
			return 1
		}
		if !*asJSON {
			fmt.Fprintf(c.stdout, "\nSaved the plan to: %s\n\nTo perform exactly these actions, run:\n    mailplan apply %q\n", *out, *out)
		}
	}
	if *detailed && p.Plan.NeedsApply() {
		return 2
	}
	return 0
}

func savePlan(s *engine.Session, p *exec.Planned, path string) error {
	f := s.PlanFile(p)
	var text strings.Builder
	render.PlanText(&text, p.Plan, render.TextOptions{})
	f.Text = text.String()
	j, err := render.PlanJSON(p.Plan)
	if err != nil {
		return err
	}
	f.JSON = j
	return plans.WriteFile(path, f)
}

func cmdApply(c *cli, args []string) int   { return applyLike(c, args, false) }
func cmdDestroy(c *cli, args []string) int { return applyLike(c, args, true) }

func applyLike(c *cli, args []string, destroy bool) int {
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
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	opts := pf.finish(c, name)
	opts.Destroy = destroy
	opts.NoRollback = *noRollback
	opts.MaxWait = *maxWait

	var saved *plans.File
	if fs.NArg() > 1 {
		c.errorf("Too many arguments", "%s takes at most one argument, a saved plan file.", name)
		return 1
	}
	if fs.NArg() == 1 {
		if destroy {
			c.errorf("Unexpected argument", "destroy does not take a plan file; use `mailplan plan -destroy -out=FILE` and `mailplan apply FILE`.")
			return 1
		}
		f, err := plans.ReadFile(fs.Arg(0))
		if err != nil {
			c.errorf("Cannot read the saved plan", "%s", err)
			return 1
		}
		saved = f
		// The plan's own settings win; sensitive variables must be given
		// again, as they were never saved.
		opts.Vars = append(engine.SavedVars(f), opts.Vars...)
		opts.Targets = f.Basis.Targets
		opts.Excludes = f.Basis.Excludes
		opts.Destroy = f.Destroy
		destroy = f.Destroy
	}

	e, done := c.newEngine()
	defer done()
	s, diags := e.Open(c.ctx, opts)
	defer s.Close()
	if c.diags(diags, s.Files()) {
		return 1
	}
	// Refuse before reading a host or asking anything.
	if err := s.CheckApplicable(); err != nil {
		c.errorf("Cannot "+name, "%s", err)
		return 1
	}
	p, diags := s.Plan(c.ctx)
	if c.diags(diags, s.Files()) {
		return 1
	}
	if saved != nil {
		if err := s.CheckSaved(saved, p); err != nil {
			c.errorf("Saved plan is stale", "%s", err)
			return 1
		}
	} else {
		render.PlanText(c.stdout, p.Plan, render.TextOptions{Color: c.color})
	}
	if !p.Plan.NeedsApply() {
		if saved != nil {
			fmt.Fprintln(c.stdout, "No changes. Your servers match the plan.")
		}
		return 0
	}
	if saved == nil && !*autoApprove {
		ok, err := confirm(c, name)
		if err != nil {
			c.errorf("No confirmation", "%s", err)
			return 1
		}
		if !ok {
			fmt.Fprintf(c.stdout, "\n%s cancelled. Nothing was changed.\n", map[bool]string{false: "Apply", true: "Destroy"}[destroy])
			return 1
		}
	}
	if !c.startChanges() {
		fmt.Fprintf(c.stderr, "\n%s stopped by an interrupt before changing anything.\n", map[bool]string{false: "Apply", true: "Destroy"}[destroy])
		return 1
	}
	fmt.Fprintln(c.stdout)
	rep, err := s.Apply(c.ctx, p)
	return reportApply(c, rep, err, destroy)
}

func confirm(c *cli, op string) (bool, error) {
	if f, ok := c.stdin.(*os.File); !ok || !isTerminalFile(f) {
		hint := "run again with -auto-approve"
		if op == "apply" {
			hint += ", or apply a saved plan file"
		}
		return false, fmt.Errorf("%s asks for confirmation, and there is no terminal on standard input to ask on. Review what it will do and %s", op, hint)
	}
	switch op {
	case "rollback":
		fmt.Fprint(c.stdout, "\nDo you want to undo these changes?\n  mailplan will put back what was there before the last apply.\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ")
	case "destroy":
		fmt.Fprint(c.stdout, "\nDo you really want to destroy all resources?\n  mailplan will put back what was there before it first changed each one.\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ")
	default:
		fmt.Fprint(c.stdout, "\nDo you want to perform these actions?\n  mailplan will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	}
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	return strings.TrimSpace(line) == "yes", nil
}

func reportApply(c *cli, rep *exec.ApplyReport, err error, destroy bool) int {
	if err == nil {
		if destroy {
			fmt.Fprintf(c.stdout, "\nDestroy complete! Resources: %d destroyed.\n", rep.Destroyed)
		} else {
			render.ApplyComplete(c.stdout, rep.Added, rep.Changed, rep.Destroyed)
		}
		if len(rep.Waiting) > 0 {
			last := rep.Waiting[0].Until
			for _, w := range rep.Waiting {
				if w.Until.After(last) {
					last = w.Until
				}
			}
			sort.Slice(rep.Waiting, func(i, j int) bool { return rep.Waiting[i].Addr < rep.Waiting[j].Addr })
			noun := "resources"
			if len(rep.Waiting) == 1 {
				noun = "resource"
			}
			fmt.Fprintf(c.stdout, "\n%d %s waiting until %s; run apply again then.\n", len(rep.Waiting), noun, last.Local().Format(time.RFC3339))
			for _, w := range rep.Waiting {
				fmt.Fprintf(c.stdout, "  # %s waits until %s (%s)\n", w.Addr, w.Until.Local().Format(time.RFC3339), w.Reason)
			}
		}
		return 0
	}
	var locked *states.LockedError
	if errors.As(err, &locked) {
		c.errorf("State locked", "%s", err)
		return 1
	}
	op := "apply"
	if destroy {
		op = "destroy"
	}
	var b strings.Builder
	for _, f := range rep.Failed {
		fmt.Fprintf(&b, "%s: %s\n", f.Addr, f.Err)
	}
	if rep.Interrupted && len(rep.Failed) == 0 {
		fmt.Fprintf(&b, "The %s was interrupted.\n", op)
	}
	if len(rep.RolledBack) > 0 {
		fmt.Fprintf(&b, "\nRolled back, newest first: %s.\n", strings.Join(rep.RolledBack, ", "))
	}
	for _, f := range rep.RollbackErrors {
		fmt.Fprintf(&b, "Could not roll back %s: %s\n", f.Addr, f.Err)
	}
	if len(rep.Left) > 0 {
		fmt.Fprintf(&b, "\nLeft as they are:\n")
		for _, f := range rep.Left {
			fmt.Fprintf(&b, "  %s: %s\n", f.Addr, f.Err)
		}
	}
	switch {
	case destroy && rep.Destroyed > 0:
		fmt.Fprintf(&b, "\n%d destroyed; what was taken back stays so. Fix the cause and run `mailplan destroy` again to finish the rest.\n", rep.Destroyed)
	case destroy:
		b.WriteString("\nNothing was destroyed. Fix the cause and run `mailplan destroy` again.\n")
	case len(rep.RollbackErrors) > 0 || len(rep.Left) > 0:
		b.WriteString("\nSome changes could not be undone; the state records which were. Fix the cause (a host down, say) and run `mailplan rollback`, with the same -var and -var-file arguments: it undoes only what is left, without -force.\n")
	}
	b.WriteString("\n" + err.Error())
	summary := "Apply failed"
	if destroy {
		summary = "Destroy incomplete"
	}
	c.errorf(summary, "%s", strings.TrimSpace(b.String()))
	return 1
}
