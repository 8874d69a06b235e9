// Package local is the transport.Host of the machine mailplan runs on: it runs
// commands with os/exec (argv, never a shell) and works on files with the os
// package, writing them atomically (temp file in the same directory, fsync,
// chown, chmod, rename, fsync of the directory).
//
// It does not elevate privileges: a host block with transport = "local"
// reaches files as the user running mailplan, and its sudo setting is not
// used. Connections to other machines are ../ssh.
package local
