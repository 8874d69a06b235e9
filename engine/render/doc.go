// Package render turns the engine's results into what a user reads: the
// human plan (Terraform's shape, with +, ~, - and -/+ markers, heredoc line
// diffs and "(sensitive value)" in place of secrets), the -json plan in the
// shape of `terraform show -json`, diagnostics with their source lines, the
// dependency graph in DOT, and the closing lines of apply and rollback.
//
// It owns presentation only. It never evaluates, plans or applies anything,
// never decides an exit code, and never writes a sensitive value: a value or
// any part of it carrying the lang.Sensitive mark is shown as
// "(sensitive value)" in text and as null (with *_sensitive set) in JSON.
// Its output is deterministic, so that golden tests and reviewers can rely
// on it.
package render
