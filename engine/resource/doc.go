// Package resource is the contract between the engine and every resource
// type, and the small set of values both sides share.
//
// A type implements Type. Name and Schema describe its block. Read reports
// what is on the host now, with an opaque Snapshot from which Restore can
// put it back exactly. Plan computes, without side effects, the value Apply
// would reach (with an optional Summary line and a Pending step not yet
// due). Apply makes the change, recording an undo entry in the Journal
// before each step the snapshot alone could not undo, and may return a Wait
// to be called again once its time has come. Restore replays the journal
// newest-first, then the snapshot, and may run any number of times. Every
// call takes a request struct and returns a response struct, so that a
// field can be added without breaking a type; the guarantees on each side
// are written on Type.
//
// Optional behaviour is a separate interface, which the engine finds by type
// assertion:
//
//   - Validator: rules the schema cannot express, checked without a host.
//   - Claimer: named parts of a host one instance owns (one main.cf
//     parameter), so that two owners are refused at plan time.
//   - PlanChecker: rules only the whole plan can decide, checked once per
//     plan before it is shown, saved or applied.
//   - Adopter: secures an object the engine adopts as it is, without Apply.
//   - Checker: a gate that changes nothing but must hold at apply time, in
//     dependency order.
//   - Windower: holds something on a host (a service stopped) while the
//     instances its block lists in `during` apply, and lets go after.
//   - OriginalMerger: what destroy puts back when a later apply reaches
//     parts of the host the first did not.
//   - Fingerprinter: the part of the real state that makes a saved plan
//     stale.
//   - StateKept: an object only the state knows of (a command that ran),
//     which Read cannot see on the host.
//   - Confirmer: a change to ask the user about once more, just before it
//     is made.
//
// What both sides share:
//
//   - Schema and Attribute, from which the engine decodes, validates and
//     diffs configuration, so that no type re-implements diffing. An
//     attribute's Kind says whether it is a plain value or a reference to a
//     host or dns_server block; Identity marks what names the object (never
//     kept by ignore_changes), ShowUnchanged what a plan always shows.
//   - Decode, DecodeAttr and CheckStruct: a type decodes its configuration
//     into a struct by its cty tags, and its tests check that the struct
//     and the schema name the same attributes. Known tells a Validator
//     whether a value can be checked yet; Absent is the ReadResponse of an
//     object that is not there.
//   - Host.Key, the one identity of a host's target, for claims and locks.
//   - Host and DNSServer, the decoded host and dns_server blocks (HostType
//     and DNSServerType are their values in expressions; HostFromValue and
//     DNSServerFromValue decode them).
//   - AttrError and AttrErrors, by which a type reports problems by
//     attribute path; the engine turns them into diagnostics at the
//     attribute's source.
//   - DigestKey, carried by the context (WithDigestKey, DigestKeyFrom): the
//     key of the digests a type writes into snapshots and journal entries,
//     so that the state never holds a plain hash of a secret.
//   - The lock timeout a type waits for another run's lock on a host
//     (WithLockTimeout, LockTimeout).
//   - Registry, the resource types a run knows, built once by the caller
//     (resources/all); a name registered twice panics.
//
// It names no resource type and does not know how hosts are reached: types
// reach them through resources/transport. It imports nothing from mailplan.
package resource
