// Package render turns the engine's results into what a user reads: the
// human plan (PlanText: Terraform's shape, with +, ~, - and -/+ markers,
// heredoc line diffs and "(sensitive value)" in place of secrets), the
// -json plan in the shape of `terraform show -json` (PlanJSON, and the
// full document of a saved plan with planned_values, prior_state and
// configuration: ShowPlanJSON),
// diagnostics with their source lines (Diagnostics), the dependency graph
// in Graphviz's DOT language (DOT), the closing line of an apply
// (ApplyComplete), and the -json message stream of plan, apply, destroy
// and rollback (Stream and the *Message builders; docs/json-format.md). TextOptions says whether the output goes to a terminal:
// colours, and wrapping of diagnostic details.
//
// It owns presentation only. It never evaluates, plans or applies anything,
// never decides an exit code, and never writes a sensitive value: a value or
// any part of it carrying the lang.Sensitive mark is shown as
// "(sensitive value)" in text and as null (with *_sensitive set) in JSON.
// Its output is deterministic, so that golden tests and reviewers can rely
// on it.
package render
