package render

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/states"
)

// ApplyDone prints the end of an apply or destroy that finished: its
// counts, and the resources left waiting with the time to run apply
// again.
func ApplyDone(w io.Writer, op string, rep *exec.ApplyReport) {
	if op == "destroy" {
		fmt.Fprintf(w, "\nDestroy complete! Resources: %d destroyed.\n", rep.Destroyed)
	} else {
		ApplyComplete(w, rep.Added, rep.Changed, rep.Destroyed)
	}
	if len(rep.Waiting) == 0 {
		return
	}
	last := rep.Waiting[0].Until
	for _, wt := range rep.Waiting {
		if wt.Until.After(last) {
			last = wt.Until
		}
	}
	sort.Slice(rep.Waiting, func(i, j int) bool { return rep.Waiting[i].Addr < rep.Waiting[j].Addr })
	fmt.Fprintf(w, "\n%d %s waiting until %s; run apply again then.\n", len(rep.Waiting), plural(len(rep.Waiting), "resource"), last.Local().Format(time.RFC3339))
	for _, wt := range rep.Waiting {
		fmt.Fprintf(w, "  # %s waits until %s (%s)\n", wt.Addr, wt.Until.Local().Format(time.RFC3339), wt.Reason)
	}
}

// ApplyFailed is the error of an apply or destroy that did not finish:
// what failed, what was rolled back or left, and what to run next.
func ApplyFailed(op string, rep *exec.ApplyReport, err error) (summary, detail string) {
	var locked *states.LockedError
	if errors.As(err, &locked) {
		return "State locked", err.Error()
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
	left(&b, rep)
	destroy := op == "destroy"
	switch {
	case destroy && rep.Destroyed > 0:
		fmt.Fprintf(&b, "\n%d destroyed; what was taken back stays so. Fix the cause and run `mailplan destroy` again to finish the rest.\n", rep.Destroyed)
	case destroy:
		b.WriteString("\nNothing was destroyed. Fix the cause and run `mailplan destroy` again.\n")
	case len(rep.RollbackErrors) > 0 || len(rep.Left) > 0:
		b.WriteString("\nSome changes could not be undone; the state records which were. Fix the cause (a host down, say) and run `mailplan rollback`, with the same -var and -var-file arguments: it undoes only what is left, without -force.\n")
	}
	b.WriteString("\n" + err.Error())
	summary = "Apply failed"
	if destroy {
		summary = "Destroy incomplete"
	}
	return summary, strings.TrimSpace(b.String())
}

// RollbackPlan prints what a rollback is about to undo, newest change
// first, and what changed on its host since.
func RollbackPlan(w io.Writer, op string, started time.Time, changes, drifted []string) {
	fmt.Fprintf(w, "mailplan will undo the most recent %s (started %s), newest change first:\n\n", op, started.Local().Format("2006-01-02 15:04:05"))
	for _, ch := range changes {
		fmt.Fprintf(w, "  - undo %s\n", ch)
	}
	if len(drifted) > 0 {
		fmt.Fprintf(w, "\nThese changed on their hosts since the apply: %s\n", strings.Join(drifted, ", "))
	}
}

// RollbackDone prints the end of a rollback that finished.
func RollbackDone(w io.Writer, rep *exec.ApplyReport) {
	fmt.Fprintf(w, "\nRollback complete! Resources: %d restored.\n", len(rep.RolledBack))
}

// RollbackFailed is the error of a rollback that did not finish; hint
// says why it may have failed when it worked from the state alone.
func RollbackFailed(rep *exec.ApplyReport, err error, hint string) (summary, detail string) {
	var b strings.Builder
	for _, f := range rep.RollbackErrors {
		fmt.Fprintf(&b, "%s: %s\n", f.Addr, f.Err)
	}
	if len(rep.RolledBack) > 0 {
		fmt.Fprintf(&b, "\nRolled back, newest first: %s.\n", strings.Join(rep.RolledBack, ", "))
	}
	left(&b, rep)
	if len(rep.RollbackErrors) > 0 || len(rep.Left) > 0 {
		b.WriteString("\nWhat was rolled back stays so, and the state records it. Fix the cause and run `mailplan rollback` again: it undoes only what is left.\n")
	}
	b.WriteString("\n" + err.Error())
	return "Rollback incomplete", strings.TrimSpace(b.String()) + hint
}

// left lists what a destroy or rollback did not take back, and why.
func left(b *strings.Builder, rep *exec.ApplyReport) {
	if len(rep.Left) == 0 {
		return
	}
	b.WriteString("\nLeft as they are:\n")
	for _, f := range rep.Left {
		fmt.Fprintf(b, "  %s: %s\n", f.Addr, f.Err)
	}
}
