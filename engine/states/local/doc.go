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
// It does not know the file format (states/statefile) or decide when to
// lock or write (engine/exec and the CLI do).
package local
