// Package keep keeps the earlier contents of files on their own host, so
// that a resource can put them back on rollback or destroy without the
// bytes — which may be secrets — ever reaching mailplan's state or plan
// files. A copy is content-addressed (named by its digest) and lives in a
// hidden directory, Dir, beside the file: on the same filesystem, writable
// whenever the file is, private to its owner (MkdirStore makes it 0700 and
// refuses a symbolic link on the way; StorePath says where a copy goes).
// SaveIn and LoadIn keep the copies in another store, for files inside a
// Maildir, where a hidden directory would show as an IMAP folder.
//
// A resource's snapshot records the digest: Sum, keyed with the state's
// digest key from the context, so that the state does not reveal a short
// secret; Digest, the plain SHA-256, is what older states recorded, and
// Matches accepts either. Save runs in Apply before the file changes and
// refuses when the file no longer holds what was read; Load runs in
// Restore. Copies are never deleted by mailplan yet: they are small, and
// shared by every snapshot of the same bytes.
//
// The file, postfix_map and mailbox_copy types use it; it knows none of
// them.
package keep
