// Package pg is the state backend for a PostgreSQL database, for teams
// that run mailplan from several machines (or from CI) on one state.
//
// One schema (Config.SchemaName, default "mailplan") holds every
// workspace: its tables are made by the first run that finds them
// missing (serialised by a transaction-level advisory lock, so that two
// first runs make them once), and never by a run that finds them there,
// so a role with only USAGE on the schema and SELECT, INSERT, UPDATE,
// DELETE on the tables can use a schema an administrator made.
//
//   - states: one row per workspace — the state as statefile encodes it
//     (json, so the stored bytes are what `state pull` returns), its
//     lineage and serial, and the previous version.
//   - journal: the apply's records between two writes of the state, one
//     row each. Append inserts one in a transaction of its own, committed
//     (synchronous_commit=on) before it returns: a record is durable
//     before the step it protects begins. Read replays a workspace's
//     records over its row as the local backend replays its journal file,
//     and stops with an error wrapping states.ErrJournalCorrupt at a
//     record it cannot read or replay. Write stores the new state and
//     deletes the folded records in one transaction, after SELECT ... FOR
//     UPDATE of the row shows the lineage and serial this Backend last
//     read or wrote (else states.ErrChanged).
//   - locks: who holds a workspace's lock (states.LockInfo) and the
//     backend PID of the holder's lock session.
//   - digest_key: the one key of the schema's digests (states.DigestKeyer),
//     made once and never replaced.
//   - history: the audit trail (states.Historian), one row per run.
//
// The lock is a session-level advisory lock (pg_try_advisory_lock) on a
// key hashed from the schema and workspace, taken on a connection of its
// own that stays open while the lock is held: the server releases it when
// that session ends, so a killed mailplan never leaves a stale lock. While
// it is held, this Backend reads and writes through that session, so that
// a write after the lock was lost (force-unlock ended the session, or the
// server restarted) fails with ErrLockLost instead of racing the new
// holder. ForceUnlock ends the holder's session with
// pg_terminate_backend.
//
// Secrets never reach the database: the state the engine gives Write has
// none, and the connection string (which may hold a password) is neither
// stored nor logged nor part of any message (Describe leaves the password
// out).
//
// Connection poolers that hand a session to several clients
// (PgBouncer in transaction mode) cannot hold a session-level lock: point
// conn_str at the server or at a session-mode pool.
package pg
