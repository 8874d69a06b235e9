// Package plans is the plan model: what a run would change, resource by
// resource (action, before and after values, summaries, waits), with what the
// plan was made from (configuration hash, variables, state serial, what was
// read), so that a saved plan can be applied exactly or refused as stale.
// planfile.go is its on-disk form; it never holds a sensitive value.
package plans
