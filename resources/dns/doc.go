// Package dns is the `dns_record` and `mx_record` resource types: one
// whole RRset of a zone, read from the zone's authoritative server and
// changed through RFC 2136 UPDATE signed with TSIG (RFC 8945). mx_record
// is dns_record with type MX and its records given as `exchanges`.
//
// Apply replaces an RRset with one UPDATE whose prerequisite is the RRset as
// read (package resources/transport/dnsclient), so there is never a window
// without the record, and a change someone made since the plan fails the
// apply instead of being overwritten.
//
// The heart of the package is the TTL transition (transition.go): with
// transition_ttl set below ttl, a change of records is made in steps —
// lower the TTL with the records unchanged and wait the old TTL out (a
// persisted wait), switch the records at the low TTL, optionally wait that
// out too (wait_after_change), hold the low TTL for transition_hold so that
// a rollback takes effect fast, and only then, in a later apply, raise the
// TTL. When the records switched is kept in the state through
// ApplyResponse.Private; Plan shows the hold as a pending step.
//
// Names are made fully qualified and lower case once, at decode; rdata is
// kept in the canonical form dnsclient.ParseRdata gives, sorted, so that a
// plan compares sets of records, as DNS does.
//
// Checks that need the whole plan are in plan_check.go (resource.
// PlanChecker): each dns_server's TSIG key verified once per plan with a
// signed query, and MX targets that another instance makes a CNAME. An
// update the server turns down for what the records say (BIND's
// check-integrity, max-records-per-type) is reported with that cause.
//
// It never holds the TSIG secret beyond a request: the engine strips it from
// the state and lends it back from the live configuration. Snapshots and
// journal entries are RRsets (name, type, TTL, records) only.
//
// It does not manage zones, SOA or NS records, nor DNSSEC signing (a server
// with inline-signing re-signs what the update changes).
package dns
