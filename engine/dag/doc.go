// Package dag is a generic dependency graph: nodes, "depends on" edges,
// cycle detection, a deterministic topological order, and Walk, the
// bounded-parallel walk in dependency order.
//
// Build a Graph with New, Add and Connect; query it with Has, HasEdge,
// Nodes, Deps, Ancestors and Descendants. Cycles returns its strongly
// connected components and CycleFrom one loop through a node, so that a
// message can show how blocks refer to each other; TopoOrder and Walk
// refuse a graph with cycles with a *CycleError. lang orders a module's
// blocks with TopoOrder and reports their cycles; exec narrows a plan to
// -target and -exclude with Ancestors and Descendants, and applies and
// destroys resource instances with Walk.
//
// Walk runs a WalkFunc for each node once everything it depends on (or,
// with WalkOptions.Reverse, everything that depends on it) has completed. A
// failure stops new nodes from starting, or with KeepGoing skips only the
// nodes that wait for the failed one; a WalkFunc returning an error that
// wraps ErrDeferred defers its node and skips its dependents without
// failing the walk; a panic is recovered and recorded as a *PanicError.
// The Report says what became of every node: completed, deferred, failed or
// skipped, and why (SkipReason).
//
// It owns only the graph algorithms. It knows nothing of addresses,
// resources, state or plans: the caller chooses the key type, builds the
// graph and decides what a node does. It is a leaf package and imports
// nothing from mailplan.
//
// Orders are deterministic: keys are cmp.Ordered and wherever several nodes
// could come next, the smallest comes first. A Graph is not safe for
// concurrent mutation, and must not be changed while a walk of it runs;
// reading it (from a WalkFunc too) is fine.
package dag
