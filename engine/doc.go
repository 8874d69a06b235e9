// Package engine is the facade the CLI calls: it loads a plan directory,
// evaluates it, opens and locks the state, and runs validate, plan, apply,
// rollback and destroy through engine/exec. It never names a resource type:
// the caller gives it a registry, and a runner for hooks.
//
// The path of one `mailplan apply` is told in docs/architecture.md.
package engine
