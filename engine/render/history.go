package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/mailplan/mailplan/engine/states"
)

// HistoryJSON is `history -json`: the format version and the entries.
func HistoryJSON(entries []states.HistoryEntry) any {
	if entries == nil {
		entries = []states.HistoryEntry{}
	}
	return struct {
		FormatVersion string                `json:"format_version"`
		Runs          []states.HistoryEntry `json:"runs"`
	}{"1.0", entries}
}

// History prints the audit trail, oldest first, one paragraph a run.
func History(w io.Writer, entries []states.HistoryEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "No runs recorded yet.")
		return
	}
	for _, e := range entries {
		when := e.Started.Local().Format("2006-01-02 15:04:05")
		fmt.Fprintf(w, "%s  %-8s  %-16s  workspace %s  %s\n", when, e.Operation, e.Status, e.Workspace, e.ID)
		var who []string
		if e.Who != "" {
			who = append(who, "by "+e.Who)
		}
		if e.Commit != "" {
			who = append(who, "commit "+e.Commit)
		}
		if e.Version != "" {
			who = append(who, "mailplan "+e.Version)
		}
		if len(who) > 0 {
			fmt.Fprintf(w, "    %s\n", strings.Join(who, ", "))
		}
		if e.Undid != "" {
			fmt.Fprintf(w, "    undid %s\n", e.Undid)
		}
		if !e.Finished.IsZero() {
			fmt.Fprintf(w, "    took %s\n", e.Finished.Sub(e.Started).Round(100*1e6))
		}
		for _, c := range e.Changes {
			fmt.Fprintf(w, "    %-8s %s (%s)\n", c.Action, c.Address, c.Outcome)
		}
		if e.Error != "" {
			fmt.Fprintf(w, "    error: %s\n", firstLine(e.Error))
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
