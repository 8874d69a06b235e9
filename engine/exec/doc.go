// Package exec runs the walks of a configuration against real hosts:
// refresh and plan, apply with a durable journal, inline and persisted waits,
// hooks, automatic rollback on failure or interrupt, `mailplan rollback`, and
// destroy. It works on evaluated configurations (engine/lang) and a state
// backend (engine/states), and reaches resources only through the
// resource.Type contract.
package exec
