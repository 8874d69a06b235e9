// Package dag is a generic dependency graph: nodes, "depends on" edges,
// cycle detection, deterministic topological orders, the subgraph and
// transitive-closure helpers that -target needs, DOT output for
// `mailplan graph`, and Walk, the bounded-parallel walk in dependency order
// that plan, apply and rollback run on.
//
// It owns only the graph algorithms. It knows nothing of addresses,
// resources, state or plans: the engine chooses the key type, builds the
// graph and decides what a node does when Walk calls it. It is a leaf
// package and imports nothing from mailplan.
//
// Orders are deterministic: keys are cmp.Ordered and wherever several nodes
// could come next, the smallest comes first. A Graph is not safe for
// concurrent mutation, and must not be changed while a walk of it runs;
// reading it (from a WalkFunc too) is fine.
package dag
