// Package local is the state backend for a file on this machine, the
// default: .mailplan/state.json in the plan directory.
//
// It owns the file's life: reading it (a missing file is a new, empty
// state with a fresh lineage), writing it atomically (temp file in the same
// directory, fsync, rename, fsync of the directory) with mode 0600 and the
// previous version kept as path+".backup", refusing to write over a file
// that changed since it was read, `state pull`/`state push`, and the lock.
//
// The lock is flock(2) on path+".lock": the kernel drops it when its holder
// exits, so a crashed mailplan never leaves a stale lock behind and there
// is no force-unlock. The holder writes its states.LockInfo into the file
// so that a second mailplan can say who holds it and since when. The lock
// file is truncated, never removed, on unlock: removing it would let two
// processes lock two different files of the same name.
//
// The journal, path+".journal", is the apply's log between two writes of
// the state: one JSON record a line, appended and fsynced before the step
// it records begins, replayed by Read and emptied by Write. Read drops
// only a torn last line (no '\n', does not decode: an append a crash cut
// short), which Append cuts off before it writes the next record; any
// other record it cannot read or replay is an error wrapping
// ErrJournalCorrupt that names the file, the line and its byte offset.
// Read never skips past it: the records after it may be the undo entries a
// rollback needs.
//
// The digest key, digest.key in the state file's directory, is 32 random
// bytes in hex, mode 0600 (states.DigestKeyer): made once by the first run
// that asks for it with create (the engine's locked runs), linked into place
// so that racing runs end with one key, and never replaced — a damaged key
// is an error, since digests made with it would no longer match.
//
// It does not know the file format (states/statefile) or decide when to
// lock or write (the engine and engine/exec do).
package local
