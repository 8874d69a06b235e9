// Package file is the `file` resource type: one regular file on a host,
// with its content, permission bits and, optionally, owner and group. It is
// written atomically through transport.Host.WriteFile, confined to the
// file's directory (transport.Confine) so that no planted symbolic link is
// followed. Its snapshot records the earlier mode, numeric owner and the
// digest of the earlier bytes, which are kept on the host itself
// (resources/transport/keep), so that rollback and destroy put them back,
// or remove the file if there was none, without the content ever reaching
// the state.
//
// Beyond the Type it claims its path (resource.Claimer: one file on one
// host has one owner), checks the whole plan (resource.PlanChecker: two
// paths reaching one real file through a link conflict too, and the SSH
// user must be able to write there), and keeps a copy of a file it adopts
// unchanged (resource.Adopter), so that destroy can still put it back.
//
// It manages regular files only: a directory, a symbolic link or a special
// file at the path is an error, never replaced. It does not create missing
// parent directories.
package file
