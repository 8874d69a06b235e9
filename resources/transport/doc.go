// Package transport reaches hosts: it runs commands (argv lists, never shell
// strings) and reads and writes files, on this machine (local/) or over SSH
// and SFTP (ssh/). A Pool shares one connection per host between every
// resource of a run.
//
// It knows nothing of resource types; resource packages use it.
package transport
