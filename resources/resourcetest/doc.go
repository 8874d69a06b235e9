// Package resourcetest is the conformance suite every resource type's
// tests run against a real server, as restic's backends run one test
// suite: Conformance drives a resource.Type directly, as the engine would
// but without it, through named subtests — Read and Plan change nothing,
// Restore with nothing applied is a no-op, Restore twice is idempotent,
// the lifecycle (create, no-op re-plan, update, rollback and destroy
// byte for byte), and a failure injected at every host operation and at
// every journal point of an apply, each followed by a Restore that must
// put back the earlier real state byte for byte.
//
// Faults injects the host failures: a transport.Getter (or Host) wrapper
// that counts every operation a type asks of a host and fails the n-th,
// and a DNS proxy (Faults.Proxy) for types that speak DNS. Journal is an
// in-memory resource.Journal that can fail its n-th Record.
//
// Config, HostValue and Logger build what a test hands a type: a
// configuration with the schema's defaults, a host block's value, a logger
// writing to the test's log.
//
// It is imported by tests only. It knows no resource type; the caller says
// how to observe the real state (Suite.Observe).
package resourcetest
