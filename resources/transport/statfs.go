package transport

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// InodeStater is implemented by hosts that can also report the free
// inodes of a filesystem (statvfs(3) f_favail): local, SSH over SFTP
// (statvfs@openssh.com) and SSH with sudo (df -P -i). A copy of many small
// files — one Maildir message is one file — can run out of inodes with
// bytes to spare. Like FSStater it is optional; callers treat its absence
// as "unknown".
type InodeStater interface {
	// StatInodes returns the inodes available to an unprivileged user on
	// the filesystem holding path. known is false when the filesystem has
	// no fixed number of inodes (btrfs, ZFS and others report 0 total):
	// then free means nothing.
	StatInodes(ctx context.Context, path string) (free uint64, known bool, err error)
}

// FSStats is an FSStater that also counts inodes: what Stats returns, for
// wrappers of a host that pass its filesystem statistics on.
type FSStats interface {
	FSStater
	InodeStater
}

// Stats returns h's filesystem statistics when h is an FSStater: h itself
// when it also counts inodes, else h with inodes unknown.
func Stats(h Host) (FSStats, bool) {
	st, ok := h.(FSStater)
	if !ok {
		return nil, false
	}
	if s, ok := st.(FSStats); ok {
		return s, true
	}
	return noInodes{st}, true
}

type noInodes struct{ FSStater }

func (noInodes) StatInodes(context.Context, string) (uint64, bool, error) { return 0, false, nil }

// NoSpaceError is a write that failed because the filesystem is full: of
// bytes or of inodes. Transports whose protocol hides the cause (SFTP's
// SSH_FX_FAILURE) find it with a statvfs after the failure.
type NoSpaceError struct {
	// Op is the operation that failed; Path the directory it wrote in,
	// whose filesystem is full. Err names the file.
	Op, Host, Path string
	// FreeBytes and FreeInodes are what the filesystem had left just
	// after the failure; InodesKnown is false when it has no inode count.
	FreeBytes, FreeInodes uint64
	InodesKnown           bool
	Err                   error
}

func (e *NoSpaceError) Error() string {
	inodes := "inodes not counted"
	if e.InodesKnown {
		inodes = fmt.Sprintf("%d inodes free", e.FreeInodes)
	}
	return fmt.Sprintf("no space left on %s:%s (%d bytes / %s): %v", e.Host, e.Path, e.FreeBytes, inodes, e.Err)
}

// Unwrap lets errors.Is(err, syscall.ENOSPC) match.
func (e *NoSpaceError) Unwrap() []error { return []error{syscall.ENOSPC, e.Err} }

// FullAfter tells whether a write of size bytes (one new file when newFile)
// that failed with err failed because the filesystem holding path is full,
// by asking st right after the failure; it returns a *NoSpaceError then,
// else err unchanged. Space a little above zero counts as full: filesystems
// keep blocks back, and the failed write needed some.
func FullAfter(ctx context.Context, st FSStats, host, op, path string, size int64, newFile bool, err error) error {
	if err == nil || st == nil {
		return err
	}
	var ns *NoSpaceError
	if errors.As(err, &ns) {
		return err
	}
	free, serr := st.StatFS(ctx, path)
	if serr != nil {
		return err
	}
	inodes, known, ierr := st.StatInodes(ctx, path)
	if ierr != nil {
		known = false
	}
	const slack = 64 << 10
	full := errors.Is(err, syscall.ENOSPC) || free < uint64(size)+slack || (newFile && known && inodes == 0)
	if !full {
		return err
	}
	return &NoSpaceError{Op: op, Host: host, Path: path, FreeBytes: free, FreeInodes: inodes, InodesKnown: known, Err: err}
}
