// Package states holds the state model (what mailplan manages, what was there
// before it, the journal of the last apply) and the interfaces of state
// storage: Manager to read and write a State, Locker to hold the lock for the
// whole of a plan or apply, and the optional Journaler (cheap durable steps)
// and DigestKeyer (the key of the state's digests, kept beside the state,
// never in it). Backends live in subpackages (local/, later pg/);
// statefile/ is the versioned JSON encoding they share.
//
// The words of the apply journal are defined here and only here: the
// record operations (Op: OpBegin, OpChange, OpEntry, OpDone, …), what a
// change did (ChangeAction), a run's Status and Operation. They are
// written to disk as they are, so none may change its value; Replay folds
// one record into a State, for a backend reading its journal and for the
// engine recording a step.
//
// It knows no resource type: attributes are stored as JSON of cty values and
// snapshots as opaque bytes.
package states
