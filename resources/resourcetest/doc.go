// Package resourcetest is the conformance harness every resource type's
// tests run against a real server: it drives a resource.Type directly, as
// the engine would but without it, through create, a no-op re-plan, update,
// and restores that must put back the earlier real state byte for byte and
// be idempotent.
//
// It is imported by tests only. It knows no resource type; the caller says
// how to observe the real state (Case.Observe).
package resourcetest
