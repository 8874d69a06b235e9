// Package file is the `file` resource type: one regular file on a host,
// with its content, permission bits and, optionally, owner and group
// (SPEC §3). It is written atomically through transport.Host.WriteFile; its
// snapshot keeps the exact earlier bytes, mode and numeric owner, so that
// rollback and destroy put them back, or remove the file if there was none.
//
// It manages regular files only: a directory, a symbolic link or a special
// file at the path is an error, never replaced. It does not create missing
// parent directories.
package file
