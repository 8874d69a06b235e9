package transport

import (
	"context"
	"time"
)

// DirStat is what tells whether a directory's entries may have changed:
// adding, removing or renaming an entry sets the directory's
// modification and change times (nanoseconds since the epoch) to the
// moment of the change, and no one but the clock's owner can set the
// change time back; Ino tells one directory from another put in its
// place.
type DirStat struct {
	Ino   uint64 `json:"ino"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
}

// DirStater is implemented by hosts that can give a directory's DirStat.
type DirStater interface {
	// StatDir returns the DirStat of the directory p, following no
	// link at p itself; ok is false when p is not a directory.
	StatDir(ctx context.Context, p string) (st DirStat, ok bool, err error)
}

// StatTreeLister is implemented by hosts that can list a whole tree with
// one command (TreeLister) and give every directory's DirStat with it.
type StatTreeLister interface {
	// ListTreeStat is ListTree that also returns the DirStat of every
	// directory below root and the host's clock when the listing began.
	// A directory whose name is in skip and whose change time is before
	// unchangedSince is not descended into: it is in its parent's
	// entries and has its DirStat, but no entry of tree.
	ListTreeStat(ctx context.Context, root string, skip []string, unchangedSince time.Time) (tree map[string][]FileInfo, dirs map[string]DirStat, start time.Time, ok bool, err error)
}
