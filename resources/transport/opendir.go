package transport

import (
	"context"
	"io"
	"io/fs"
	"time"
)

// DirOpener is implemented by hosts that can open a directory once and
// then create, rename and remove the files in it by name, each with one
// system call on the directory's descriptor: a copy of many files into a
// few directories then walks the way to each directory once, not once per
// file and operation. The confined local host is one; a confined host
// opens a directory as its other operations check a path (no link below
// its roots followed), and a name in it is never followed when it is a
// link.
type DirOpener interface {
	// OpenDir opens the directory p. Its operations act on that directory
	// whatever is renamed meanwhile, until Close.
	OpenDir(ctx context.Context, p string) (Dir, error)
}

// Dir is a directory opened by a DirOpener. Every name is one path
// component. Safe for concurrent use.
type Dir interface {
	// Path is the path the directory was opened as.
	Path() string
	// Create creates the file name (O_CREAT|O_EXCL) with mode and opens
	// it for writing.
	Create(name string, mode fs.FileMode) (io.WriteCloser, error)
	// Rename renames name to newname in to, a Dir of the same host,
	// replacing newname.
	Rename(name string, to Dir, newname string) error
	// Remove removes the file name; a missing one is no error.
	Remove(name string) error
	// Chown sets numeric ownership of name; -1 leaves that id unchanged.
	Chown(name string, uid, gid int) error
	// Chtimes sets the modification (and access) time of name.
	Chtimes(name string, mtime time.Time) error
	// Close releases the directory.
	Close() error
}
