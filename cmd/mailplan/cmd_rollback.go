package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/exec"
)

func cmdRollback(c *cli, args []string) int {
	fs := newFlagSet(c, "rollback")
	var opts engine.Options
	fs.Var(varFlags{list: &opts.Vars}, "var", "set a variable: NAME=VALUE (repeatable)")
	fs.Var(varFlags{list: &opts.Vars, file: true}, "var-file", "read variables from an HCL file (repeatable)")
	autoApprove := fs.Bool("auto-approve", false, "do not ask for confirmation")
	force := fs.Bool("force", false, "roll back even if the servers changed since the apply")
	var lockTimeout time.Duration
	lockTimeoutFlag(fs, &lockTimeout)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	opts.Dir, opts.Operation, opts.Stop = ".", "rollback", c.stop
	opts.LockTimeout = &lockTimeout
	e, done := c.newEngine()
	defer done()
	s, diags := e.Open(c.ctx, opts)
	// hint explains a failure of a rollback from the state alone.
	hint := ""
	if diags.HasErrors() {
		hint = fmt.Sprintf("\n\nThe configuration did not load (%s), so the rollback works from the state alone, which keeps no secrets: a resource that needs one (a dns_server's tsig_secret, say) cannot reach its host. Give rollback the same -var, -var-file and MAILPLAN_VAR_ values as the apply.", firstSummary(diags))
		// Rollback works from the state alone when the configuration no
		// longer loads.
		s.Close()
		s2, d := e.OpenState(c.ctx, engine.Options{Dir: ".", Operation: "rollback"}, true)
		if d.HasErrors() {
			c.diags(append(diags, d...), s.Files())
			return 1
		}
		s = s2
	}
	defer s.Close()
	changes, drifted, err := s.CheckRollback(c.ctx)
	if errors.Is(err, exec.ErrNothingToRollBack) {
		fmt.Fprintln(c.stdout, "Nothing to roll back: the last apply was already rolled back, or there was none.")
		return 0
	}
	if err != nil {
		c.errorf("Cannot roll back", "%s%s", err, hint)
		return 1
	}
	if len(changes) == 0 {
		// Killed before its first change: nothing to undo, but the journal
		// must be closed, or apply and destroy would see it open forever.
		if _, err := s.Rollback(c.ctx, false); err != nil {
			c.errorf("Cannot roll back", "%s%s", err, hint)
			return 1
		}
		fmt.Fprintf(c.stdout, "The last %s (started %s) had changed nothing left to undo; its journal is closed.\n", s.State.LastApply.Operation, s.State.LastApply.Started.Local().Format("2006-01-02 15:04:05"))
		return 0
	}
	fmt.Fprintf(c.stdout, "mailplan will undo the most recent %s (started %s), newest change first:\n\n", s.State.LastApply.Operation, s.State.LastApply.Started.Local().Format("2006-01-02 15:04:05"))
	for _, ch := range changes {
		fmt.Fprintf(c.stdout, "  - undo %s\n", ch)
	}
	if len(drifted) > 0 {
		fmt.Fprintf(c.stdout, "\nThese changed on their hosts since the apply: %s\n", strings.Join(drifted, ", "))
		if !*force {
			c.errorf("Real state changed since the apply", "Rolling back would overwrite changes someone made after the apply to %s. Look at them; run `mailplan rollback -force` to roll back anyway.", strings.Join(drifted, ", "))
			return 1
		}
	}
	if !*autoApprove {
		ok, err := confirm(c, "rollback")
		if err != nil {
			c.errorf("No confirmation", "%s", err)
			return 1
		}
		if !ok {
			fmt.Fprintln(c.stdout, "\nRollback cancelled. Nothing was changed.")
			return 1
		}
	}
	if !c.startChanges() {
		fmt.Fprintln(c.stderr, "\nRollback stopped by an interrupt before changing anything.")
		return 1
	}
	fmt.Fprintln(c.stdout)
	rep, err := s.Rollback(c.ctx, *force)
	if err != nil {
		var b strings.Builder
		for _, f := range rep.RollbackErrors {
			fmt.Fprintf(&b, "%s: %s\n", f.Addr, f.Err)
		}
		if len(rep.RolledBack) > 0 {
			fmt.Fprintf(&b, "\nRolled back, newest first: %s.\n", strings.Join(rep.RolledBack, ", "))
		}
		if len(rep.Left) > 0 {
			b.WriteString("\nLeft as they are:\n")
			for _, f := range rep.Left {
				fmt.Fprintf(&b, "  %s: %s\n", f.Addr, f.Err)
			}
		}
		if len(rep.RollbackErrors) > 0 || len(rep.Left) > 0 {
			b.WriteString("\nWhat was rolled back stays so, and the state records it. Fix the cause and run `mailplan rollback` again: it undoes only what is left.\n")
		}
		b.WriteString("\n" + err.Error())
		c.errorf("Rollback incomplete", "%s%s", strings.TrimSpace(b.String()), hint)
		return 1
	}
	fmt.Fprintf(c.stdout, "\nRollback complete! Resources: %d restored.\n", len(rep.RolledBack))
	return 0
}

// firstSummary is the first error's summary and detail, for a hint.
func firstSummary(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			if d.Detail != "" {
				return d.Summary + ": " + d.Detail
			}
			return d.Summary
		}
	}
	return ""
}
