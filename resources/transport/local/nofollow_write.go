package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailplan/mailplan/resources/transport"
)

// The write operations of the confined local host (nofollow.go): each acts
// on the descriptor of the directory it writes in, opened without
// following a link below the root, and never follows a link in its last
// component either.

// writeParent opens the directory a write of p happens in.
func (c *confined) writeParent(op, p string) (int, string, error) {
	dirfd, base, ok, err := c.parent(op, p)
	if !ok {
		return -1, "", c.outside(op, p)
	}
	if err != nil {
		return -1, "", fmt.Errorf("%s: %w", op, err)
	}
	return dirfd, base, nil
}

// WriteFile implements transport.Host, as Host.WriteFile does.
func (c *confined) WriteFile(ctx context.Context, p string, data []byte, opts transport.WriteOptions) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	p = path.Clean(p)
	dirfd, base, err := c.writeParent("write", p)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := c.linkAt("write", p, dirfd, base); err != nil {
		return err
	}
	var f *os.File
	var tmp string
	for range 10 {
		tmp = path.Base(TempName(p))
		f, err = c.openAt("write", path.Join(path.Dir(p), tmp), dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: create temporary file: %w", p, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			if rerr := unix.Unlinkat(dirfd, tmp, 0); rerr != nil && !errors.Is(rerr, unix.ENOENT) {
				c.log.Warn("cannot remove temporary file", "path", path.Join(path.Dir(p), tmp), "error", rerr)
			}
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	// chown before chmod: chown clears the set-id bits.
	if opts.UID >= 0 || opts.GID >= 0 {
		if err = f.Chown(opts.UID, opts.GID); err != nil {
			return fmt.Errorf("chown %s: %w", f.Name(), err)
		}
	}
	if err = f.Chmod(opts.Mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err = unix.Renameat(dirfd, tmp, dirfd, base); err != nil {
		return fmt.Errorf("rename %s: %w", f.Name(), &fs.PathError{Op: "rename", Path: p, Err: err})
	}
	if err := unix.Fsync(dirfd); err != nil {
		// As Host.WriteFile: the file is in place.
		c.log.Warn("cannot fsync directory", "path", path.Dir(p), "error", err)
	}
	return nil
}

// Create implements transport.Host.
func (c *confined) Create(ctx context.Context, p string, mode fs.FileMode) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p = path.Clean(p)
	dirfd, base, err := c.writeParent("create", p)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirfd)
	f, err := c.openAt("create", p, dirfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, uint32(mode.Perm()))
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return f, nil
}

// Rename implements transport.Host.
func (c *confined) Rename(ctx context.Context, oldpath, newpath string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	oldpath, newpath = path.Clean(oldpath), path.Clean(newpath)
	ofd, obase, err := c.writeParent("rename", oldpath)
	if err != nil {
		return err
	}
	defer unix.Close(ofd)
	nfd, nbase, err := c.writeParent("rename", newpath)
	if err != nil {
		return err
	}
	defer unix.Close(nfd)
	if err := c.linkAt("rename", oldpath, ofd, obase); err != nil {
		return err
	}
	if err := c.linkAt("rename", newpath, nfd, nbase); err != nil {
		return err
	}
	if err := unix.Renameat(ofd, obase, nfd, nbase); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// Remove implements transport.Host. A link is removed, not followed.
func (c *confined) Remove(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p = path.Clean(p)
	dirfd, base, err := c.writeParent("remove", p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	err = unix.Unlinkat(dirfd, base, 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove: %w", &fs.PathError{Op: "remove", Path: p, Err: err})
	}
	return nil
}

// MkdirAll implements transport.Host.
func (c *confined) MkdirAll(ctx context.Context, p string, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p = path.Clean(p)
	root, ok := c.rootOf(p)
	if !ok {
		return c.outside("mkdir", p)
	}
	fd, err := c.openDir("mkdir", root, p, p, true, mode)
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	unix.Close(fd)
	return nil
}

// Chown implements transport.Host; a link in the last component is
// refused, not changed.
func (c *confined) Chown(ctx context.Context, p string, uid, gid int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p = path.Clean(p)
	dirfd, base, err := c.writeParent("chown", p)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := c.linkAt("chown", p, dirfd, base); err != nil {
		return err
	}
	if err := unix.Fchownat(dirfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", &fs.PathError{Op: "chown", Path: p, Err: err})
	}
	return nil
}

// Chmod implements transport.Host. chmod(2) follows links and Linux has
// no lchmod, so the file is opened with O_PATH|O_NOFOLLOW, checked, and
// changed through /proc/self/fd, as glibc's fchmodat(AT_SYMLINK_NOFOLLOW)
// does.
func (c *confined) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p = path.Clean(p)
	dirfd, base, err := c.writeParent("chmod", p)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat(dirfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("chmod: %w", &fs.PathError{Op: "chmod", Path: p, Err: err})
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("chmod: %w", &fs.PathError{Op: "chmod", Path: p, Err: err})
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		root, _ := c.rootOf(p)
		return &transport.LinkError{Op: "chmod", Path: p, Link: p, Target: readlinkat(dirfd, base), Root: root}
	}
	err = unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), transport.OctalMode(mode), 0)
	if errors.Is(err, unix.ENOENT) {
		// No /proc: the descriptor still pins the directory.
		err = unix.Fchmodat(dirfd, base, transport.OctalMode(mode), 0)
	}
	if err != nil {
		return fmt.Errorf("chmod: %w", &fs.PathError{Op: "chmod", Path: p, Err: err})
	}
	return nil
}

// Chtimes implements transport.Host.
func (c *confined) Chtimes(ctx context.Context, p string, mtime time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p = path.Clean(p)
	dirfd, base, err := c.writeParent("chtimes", p)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := c.linkAt("chtimes", p, dirfd, base); err != nil {
		return err
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	if err := unix.UtimesNanoAt(dirfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chtimes: %w", &fs.PathError{Op: "chtimes", Path: p, Err: err})
	}
	return nil
}
