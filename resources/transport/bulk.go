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

// Streamer is implemented by hosts that can read many files in one stream
// (over SSH: one tar(1) command), without a request and its answer per
// file.
type Streamer interface {
	// StreamFiles reads the files at paths (absolute), in order, and calls
	// fn with the index of each regular file it read, its size and its
	// content, which fn reads to the end or not. A path that is a symbolic
	// link is not followed, and not read. A path it did not read (missing, not a regular file,
	// unreadable) is not passed to fn: the caller reads it on its own,
	// which tells why. An error of fn ends the stream and is returned.
	// ok is false when the host has no way to stream (and nothing was
	// read).
	StreamFiles(ctx context.Context, paths []string, fn func(i int, size int64, r io.Reader) error) (ok bool, err error)
}

// TreeLister is implemented by hosts that can list a whole tree with one
// command (over SSH: find(1)) instead of a request per directory.
type TreeLister interface {
	// ListTree lists root and every directory below it, following no
	// symbolic link: each directory's path (root, or root joined with
	// the names below it) to its entries as ReadDir gives them, sorted
	// by name. ok is false, with nothing listed, when the host cannot
	// (no such command) or could not list all of it (a directory it may
	// not read): the caller then lists with ReadDir, which says why.
	ListTree(ctx context.Context, root string) (tree map[string][]FileInfo, ok bool, err error)
}
