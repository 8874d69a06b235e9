package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/mailplan/mailplan/engine/resource"
)

// Getter gives the connection to a host block, shared by every resource
// that reaches that host; *pool.Pool is one. Resource types take a Getter,
// so tests can give them anything.
type Getter interface {
	Get(ctx context.Context, h resource.Host) (Host, error)
}

// Host is a connection to one host. Implementations are safe for concurrent
// use.
type Host interface {
	// Name is how the host is named in messages, e.g. `host "old"`.
	Name() string

	// Run runs argv on the host and waits for it. A command that ran and
	// exited non-zero is not an error: look at Result.ExitCode. An error
	// means the command could not be run (connection lost, not found).
	// With sudo configured the command runs under `sudo -n`.
	Run(ctx context.Context, argv []string, opts RunOptions) (Result, error)

	// Stat describes path without following a final symlink (lstat).
	// A missing path gives an error for which errors.Is(err, fs.ErrNotExist).
	Stat(ctx context.Context, path string) (FileInfo, error)
	// ReadFile returns the whole content of a regular file.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// Open opens a regular file for streaming reads.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// ReadDir lists a directory (lstat of each entry), sorted by name.
	ReadDir(ctx context.Context, path string) ([]FileInfo, error)

	// WriteFile replaces path atomically: it writes a temporary file in the
	// same directory, fsyncs it, sets mode and ownership, renames it over
	// path and fsyncs the directory. Readers see the old or the new content,
	// never a mix; a crash leaves at most a stray temporary file.
	WriteFile(ctx context.Context, path string, data []byte, opts WriteOptions) error
	// Create opens a new file for streaming writes (O_CREATE|O_EXCL); the
	// caller renames it into place when complete.
	Create(ctx context.Context, path string, mode fs.FileMode) (io.WriteCloser, error)
	// Rename renames oldpath to newpath, replacing newpath.
	Rename(ctx context.Context, oldpath, newpath string) error
	// Remove removes a file or an empty directory; a missing path is not
	// an error.
	Remove(ctx context.Context, path string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(ctx context.Context, path string, mode fs.FileMode) error
	// Chown sets numeric ownership; -1 leaves that id unchanged.
	Chown(ctx context.Context, path string, uid, gid int) error
	// Chmod sets permission bits.
	Chmod(ctx context.Context, path string, mode fs.FileMode) error
	// Chtimes sets the modification (and access) time.
	Chtimes(ctx context.Context, path string, mtime time.Time) error
	// LookupUser returns the uid of a user name, or of a numeric string.
	LookupUser(ctx context.Context, name string) (int, error)
	// LookupGroup returns the gid of a group name, or of a numeric string.
	LookupGroup(ctx context.Context, name string) (int, error)
	// UserName and GroupName map ids back to names ("" when unknown).
	UserName(ctx context.Context, uid int) (string, error)
	GroupName(ctx context.Context, gid int) (string, error)
}

// FSStater is implemented by hosts that can report the free space of a
// filesystem (statvfs(3)): local, SSH over SFTP (statvfs@openssh.com) and
// SSH with sudo (df -P). It is separate from Host so that wrappers and fakes
// need not implement it; callers treat its absence as "unknown".
type FSStater interface {
	// StatFS returns the bytes available to an unprivileged user on the
	// filesystem holding path (f_bavail × f_frsize).
	StatFS(ctx context.Context, path string) (free uint64, err error)
}

// FSSyncer is implemented by hosts that can flush a whole filesystem to
// disk at once (syncfs(2)): a copy of many files can then write them all
// and make them durable with one call instead of one fsync each.
type FSSyncer interface {
	// SyncFS flushes the filesystem holding path.
	SyncFS(ctx context.Context, path string) error
}

// RunOptions are the optional inputs of Run.
type RunOptions struct {
	Stdin io.Reader
	// Env adds environment variables (NAME=value) for the command.
	Env []string
	// Stdout, when set, also receives the command's output as it comes
	// (Result.Stdout still has all of it), for commands that say
	// something before they end.
	Stdout io.Writer
}

// Result is what a command printed and how it exited.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Err returns nil when the command exited 0, else an error quoting the
// command and the end of its stderr.
func (r Result) Err(argv []string) error {
	if r.ExitCode == 0 {
		return nil
	}
	msg := strings.TrimSpace(string(r.Stderr))
	if msg == "" {
		msg = strings.TrimSpace(string(r.Stdout))
	}
	if len(msg) > 2000 {
		msg = "…" + msg[len(msg)-2000:]
	}
	return &ExitError{Argv: argv, Code: r.ExitCode, Output: msg}
}

// ExitError is a command that exited non-zero.
type ExitError struct {
	Argv   []string
	Code   int
	Output string
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("%s exited %d", strings.Join(e.Argv, " "), e.Code)
	if e.Output != "" {
		s += ": " + e.Output
	}
	return s
}

// FileInfo describes a file on a host.
type FileInfo struct {
	Name    string
	Size    int64
	Mode    fs.FileMode // type bits and permission bits, as io/fs
	ModTime time.Time
	UID     int
	GID     int
}

// IsDir reports whether the file is a directory.
func (fi FileInfo) IsDir() bool { return fi.Mode.IsDir() }

// IsRegular reports whether the file is a regular file.
func (fi FileInfo) IsRegular() bool { return fi.Mode.IsRegular() }

// IsSymlink reports whether the file is a symbolic link.
func (fi FileInfo) IsSymlink() bool { return fi.Mode&fs.ModeSymlink != 0 }

// WriteOptions are the attributes of a file WriteFile writes.
type WriteOptions struct {
	Mode fs.FileMode
	// UID and GID set ownership; -1 keeps the writer's (or, when the file
	// exists, use the existing file's by passing its ids).
	UID, GID int
}

// FileModeOf turns the octal chmod(1) form of a mode (0o4755) into the
// permission and set-id/sticky bits of an fs.FileMode.
func FileModeOf(n uint32) fs.FileMode {
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// OctalMode is the octal chmod(1) form of m's permission and
// set-id/sticky bits: FileModeOf's inverse.
func OctalMode(m fs.FileMode) uint32 {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return n
}

// ErrHostKey is wrapped by errors about unknown or changed SSH host keys.
var ErrHostKey = errors.New("host key not trusted")
