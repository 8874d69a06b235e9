// Package ssh is the transport.Host of a remote machine reached over SSH
// (golang.org/x/crypto/ssh) with files over SFTP (github.com/pkg/sftp).
//
// One Host is one SSH connection; every command is a session on it and every
// file operation goes through one SFTP client on it. Host keys are always
// checked against a known_hosts file; an unknown or changed key is an error
// wrapping transport.ErrHostKey that says how to trust the key.
//
// Commands are argv lists, quoted argument by argument for the remote POSIX
// shell (OpenSSH always hands the command line to the login shell). With
// sudo, commands run under `sudo -n`, and since SFTP would run as the login
// user, file operations are done by commands too (find, readlink, cat,
// mktemp, dd, chown, chmod, mv, sync from GNU coreutils and findutils).
//
// It does not pool connections (../pool does) nor know resource types.
package ssh
