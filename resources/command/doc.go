// Package command is the `command` resource type: one step no other type
// models (`newaliases`, `doveadm force-resync`, powering the old server
// off), run once on a host as an argv list, never through a shell.
//
// The object is "the command has run". Read cannot see that on a host,
// except through the optional check argv (exit 0: done, anything else:
// not done); without a check, the state is all there is
// (resource.StateKept): Read reports nothing seen, and the engine gives
// Plan the state's record, so a command that ran in an earlier apply is
// no change and never runs again just because it is in the plan again.
// Only a change of command or host replaces it: the old command's undo
// runs first (it is destroyed), then the new command.
//
// Apply records a journal entry before it starts the command (the
// command may have run as soon as it started: a rollback then runs undo),
// runs it through transport.Host.Run with the timeout and the
// environment, and fails on a non-zero exit with the host, the argv, the
// exit status and the last lines of its output. What the command prints
// goes to the log (and, on failure, into the error), never into the
// state: the state keeps only when it ran (ApplyResponse.Private).
//
// Restore runs undo when the command may have run: after a journal entry
// (rollback), or, for a destroy, when the state's Private says it ran.
// It never runs the command itself, so neither the rollback of a destroy
// nor that of a replace runs a command again; and a command without undo
// cannot be taken back. Restore may run twice (the engine retries a
// failed rollback), so undo must be idempotent, like `systemctl start`
// or `rm -f`.
//
// With confirm = true the type asks the engine to ask the user once more
// just before the command runs (resource.Confirmer).
//
// The package does not interpret what a command does, and imports no
// other resource package.
package command
