// Package mailbox implements the mailbox_copy resource type: every Maildir
// under a root on one host copied to the same relative place on another,
// over the hosts' transports (SFTP for SSH hosts).
//
// A message is known by its base name (before ":2,"), in new/ or cur/.
// Read lists both trees — one ReadDir per directory, many in flight, no
// message body read — and reports counts: messages and bytes to copy, flag
// changes (a base name at both ends under another name: a rename at the
// destination, never a second copy), Dovecot metadata files to copy, and
// conflicts. Current holds only these counts (Planned: zeros), so plan
// diffs stay short; the Fingerprint leaves out everything but the
// conflicts, so that new mail at a live source never makes a saved plan
// stale. Plan checks the destination's free space and inodes (statvfs),
// and CheckPlan (resource.PlanChecker) that the SSH user may write there.
//
// Apply lists again and copies what is missing then. Each message is
// streamed to the destination's tmp/ as NAME.mailplan-PID-RANDOM, verified
// (size, or SHA-256 of the bytes read at the source against the file read
// back at the destination) and given owner/group and the source's
// modification time. A batch of such files is made durable with one
// syncfs(2) (transport.FSSyncer; else an fsync per file), then renamed into
// cur/ or new/ under their source names: no reader ever sees a partial
// message, nor one whose bytes a power loss could still take away. Before
// each batch the destination paths about to be created or renamed are
// journalled, so Restore removes exactly what this apply created, undoes
// its renames and puts back the metadata files it replaced (kept with
// package keep). Leftover temporary files of a killed apply are removed by
// the next one; a re-run copies only what is still missing, so nothing is
// copied twice.
//
// Speed (apply_dirs.go, apply_stream.go): at the destination each Maildir's
// tmp/, cur/ and new/ are opened once (transport.DirOpener), so a message
// costs one system call per step, not a walk of its path; from an SSH
// source with GNU tar a large batch (4096 messages, eight journal
// entries) comes over up to four tar streams (transport.Streamer) instead
// of an SFTP open, read and close per message, and what they do not bring
// goes over SFTP; the flush and renames of a batch overlap the transfer of
// the next.
//
// Re-runs (scan_skip.go): a completed apply records, beside the
// destination (mailbox_copy-dirs.json in its store), the inode and times
// of each cur/, new/ and tmp/ it left in step with the source; the next
// scan lists an SSH source with one command that does not descend into a
// cur/ or new/ unchanged since (transport.StatTreeLister), lstats the
// destination's (transport.DirStater), and lists at the source only the
// directories that changed at either end; the destination's are listed
// on every run and their names and sizes checked against the record (a
// message rewritten in place changes no directory). A stat is recorded only when the directory
// is older than its listing by more than the filesystem's timestamp
// granularity (git's racy-clean rule); any doubt, and mirror or shadow,
// list everything.
//
// Conflict policy: a base name at the destination with another size (or
// not a regular file) is never overwritten. The whole apply is refused
// before it changes anything, listing the conflicts; plan shows them in
// the summary and as a non-zero "conflicts". With preserve_uids, the
// Dovecot files (dovecot-uidlist, dovecot-keywords, subscriptions,
// maildirfolder; never dovecot.index*) follow the source as long as the
// destination has none, the same bytes, or still the bytes mailplan wrote
// last time (their keyed digests, keep.Sum, are recorded in
// .mailplan-snapshots/ of the destination mailbox, since Apply does not
// see the state's private data);
// otherwise Dovecot on the new server has used the mailbox, and that is a
// conflict whose message says to run the final sync with IMAP stopped there.
// Metadata is written after the messages of the mailbox.
//
// Flags: when a message's name differs at the two ends, the source's name
// wins (the destination is renamed); the final sync is meant to run with
// the new server's IMAP stopped.
//
// The manifest (manifest.go): every apply records, in delta files in the
// destination mailbox's store, which messages it put there and under
// which name, before they are in place. Any later copy of the destination
// (a migration's final pass is another resource) reads it to tell
// mailplan's copies from mail the new server got by itself. With dedupe
// (identity.go, on by default) a source message not at the destination
// by base name is matched with such mail of the same mailbox by
// Message-ID (or size and header block), reading header blocks only
// where both sides have candidates, and not copied. With mirror
// (match.go, mirror.go) a copy the destination still has as copied
// follows the source: removed when the source deleted it (moved into the
// store, journalled, so that Restore moves it back), renamed when the
// source's flags changed; a copy changed at both ends keeps the
// destination's change. With shadow_header and shadow_match (shadow.go)
// a matched destination message that a shadow copy delivered is moved
// aside the same way and the source's copied in its stead.
//
// once = true makes the copy one-shot for its selection: Apply returns
// {"completed":true} as ApplyResponse.Private, and a later Plan that finds
// a completed record in Prior (and the same source, destination, include
// and exclude in Prior.Config) plans no change, so that re-applying a
// finished migration plan never copies back what users deleted on the new
// server nor resets their flags. Read cannot skip its listing for it: the
// engine gives Read no Prior.
//
// Symbolic links in the source are reported (plan summary, warning log)
// and skipped, never followed. At the destination none is followed
// either: the destination host is confined to the destination
// (transport.Confine), so a link planted by whoever can write the mail
// tree fails the plan or the apply, naming it. Every other name is copied
// byte for byte or refused with a message quoting it (names.go says which,
// from what Dovecot shows); the summary's counts add up to what is there.
// A panic on one of the package's goroutines is an error of the Read or
// Apply (panic.go). The source is never written. Destroy does not delete
// copied mail.
//
// Deployment: run mailplan on the new server (to = a local host) pulling
// from the old one over SSH, so the bytes cross the network once. With
// both ends remote, every byte passes through the machine running
// mailplan.
package mailbox
