// Package plans is the plan model. A Plan is what a run would do, resource
// instance by resource instance: each Change has its Action, the values
// before and after (marked where sensitive), the type's summary and
// pending step, why a replace or delete happens, and what it waits for or
// takes over; around them are the outputs, the resources to adopt, the
// moves to record and the waits not over yet. Basis is what the plan was
// made from (configuration hash, variables, state lineage and serial,
// fingerprints of what was read, -target and -exclude), so that a saved
// plan can be applied exactly or refused as stale.
//
// File is a plan's saved form, written and read with WriteFile and
// ReadFile (a versioned JSON document, mode 0600, written atomically). It
// holds no sensitive value: planned values are digests, sensitive
// variables salted hashes, and the stored renderings (the text plan and,
// from FileVersion 2, the full `show -json` document) hide secrets.
//
// It is a model only: exec makes plans, the engine compares a saved plan
// with a fresh one, and render shows them. It imports nothing from
// mailplan.
package plans
