// Package postfix is the `postfix_map`, `postfix_config` and
// `postfix_queue` resource types, on any Postfix instance of any host:
// Map is a lookup table with the main.cf parameter that lists it; Config
// sets main.cf parameters themselves (resource.OriginalMerger: what
// destroy puts back grows with the parameters later applies manage); Queue
// is a gate (resource.Checker) that holds the apply until the instance's
// queue is empty, or empty for the recipients it names, and changes
// nothing. Map and Config check at plan time that the SSH user can write
// what they would change (resource.PlanChecker); Map's fingerprint leaves
// out what does not make a saved plan stale (resource.Fingerprinter).
//
// Every command goes through a small layer over Postfix's own tools, run
// as argv lists through transport.Host, always with `-c config_dir` so
// that multi-instance hosts work: postconf(1) -n to tell whether a
// parameter is set and to what, -h for the default a list edit starts
// from, -e to set, -X to remove, -m for the table types available;
// postmap(1) to compile hashed tables and, with -q on a candidate table
// given on standard input, to have the host's Postfix check a regexp or
// pcre table at plan time without writing anything; postfix(1) check,
// status and reload; postqueue(1) -j for the queue gate.
//
// main.cf edits are serialised per instance inside the package: the
// engine applies resources in parallel, postconf -e rewrites the whole
// file, and several maps may add themselves to one parameter. A map adds
// TYPE:PATH to its parameter keeping every other element; its restore
// takes out only its own table and, once nothing else added since is
// left, puts back the exact earlier state (set or not, and even its exact
// earlier formatting in main.cf, which postconf -e does not keep). What
// the other maps of the process added is remembered with the edit lock
// (map_shared.go), so that this holds whatever order the restores run in.
// The maps of one instance that apply at the same time share one edit,
// one postfix check and one reload (commit.go), and main.cf is backdated
// after each edit so that Postfix's commands need not wait for it to
// "cool down" (instance.coolDown).
//
// Table contents never reach the state: earlier bytes are kept on the
// host by resources/transport/keep, as for the file type. Compiled files
// (.db, .lmdb, .cdb) are rebuilt with postmap on restore, not kept.
//
// It does not start or stop Postfix (see the service types) and does not
// manage master.cf.
package postfix
