package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailplan/mailplan/resources/transport"
)

// This file confines the local host's writes to roots without a race (see
// transport.Confine): every path is opened one component at a time with
// openat(2) and O_NOFOLLOW from "/", so the directory an operation acts in
// is the one that was checked, whatever is renamed meanwhile; the
// operation itself is the *at(2) call on that directory's descriptor.

var (
	_ transport.LinkReader = (*Host)(nil)
	_ transport.Identity   = (*Host)(nil)
	_ transport.Confiner   = (*Host)(nil)
)

// Readlink implements transport.LinkReader.
func (h *Host) Readlink(ctx context.Context, p string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return os.Readlink(p)
}

// WriterUID implements transport.Identity: this process's effective uid.
func (h *Host) WriterUID(context.Context) (int, error) { return os.Geteuid(), nil }

// Confine implements transport.Confiner.
func (h *Host) Confine(roots []string) transport.Host {
	return &confined{Host: h, roots: roots}
}

// confined is the local host with its operations below roots done on
// descriptors opened without following links.
type confined struct {
	*Host
	roots []string
}

func (c *confined) rootOf(p string) (string, bool) {
	return transport.RootOf(c.roots, path.Clean(p))
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// openDir opens the directory dir, which is root, below it or above it
// (the root of p, for messages), following a link only above root and
// only a trusted one (see transport.Resolve). With mkdir, missing
// directories are made with mode.
func (c *confined) openDir(op, root, p, dir string, mkdir bool, mode fs.FileMode) (int, error) {
	fd, err := unix.Open("/", dirFlags, 0)
	if err != nil {
		return -1, &fs.PathError{Op: op, Path: "/", Err: err}
	}
	w := transport.NewWalk(splitPath(dir), len(splitPath(root)))
	cur, links := "/", 0
	for {
		name, below, ok := w.Next()
		if !ok {
			break
		}
		next := path.Join(cur, name)
		nfd, err := unix.Openat(fd, name, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) && mkdir {
			if err = unix.Mkdirat(fd, name, uint32(mode.Perm())); err == nil || errors.Is(err, unix.EEXIST) {
				nfd, err = unix.Openat(fd, name, dirFlags, 0)
			}
		}
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			var st unix.Stat_t
			if serr := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				target := readlinkat(fd, name)
				if below {
					unix.Close(fd)
					return -1, &transport.LinkError{Op: op, Path: p, Link: next, Target: target, Root: root}
				}
				var dst unix.Stat_t
				if serr := unix.Fstat(fd, &dst); serr != nil {
					unix.Close(fd)
					return -1, &fs.PathError{Op: op, Path: cur, Err: serr}
				}
				if !trustedLink(&st, &dst) {
					unix.Close(fd)
					return -1, &transport.LinkError{Op: op, Path: p, Link: next, Target: target, Dir: cur, Owner: int(st.Uid)}
				}
				if links++; links > 40 || target == "" {
					unix.Close(fd)
					return -1, &fs.PathError{Op: op, Path: next, Err: unix.ELOOP}
				}
				if path.IsAbs(target) {
					unix.Close(fd)
					if fd, err = unix.Open("/", dirFlags, 0); err != nil {
						return -1, &fs.PathError{Op: op, Path: "/", Err: err}
					}
					cur = "/"
				}
				w.Follow(splitPath(target))
				continue
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, &fs.PathError{Op: op, Path: next, Err: err}
		}
		fd, cur = nfd, next
	}
	return fd, nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

// trustedLink is transport's rule for a link above a root: it and its
// directory belong to root or to this process, and the directory is not
// writable by others (unless sticky).
func trustedLink(link, dir *unix.Stat_t) bool {
	me := uint32(os.Geteuid())
	own := func(uid uint32) bool { return uid == 0 || uid == me }
	return own(link.Uid) && own(dir.Uid) && (dir.Mode&0o022 == 0 || dir.Mode&unix.S_ISVTX != 0)
}

func readlinkat(dirfd int, name string) string {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// parent opens the directory holding p and returns it with p's last
// component. ok is false when p is below no root: the caller then does
// what the unconfined host does (reads) or refuses (writes).
func (c *confined) parent(op, p string) (fd int, base string, ok bool, err error) {
	p = path.Clean(p)
	root, ok := c.rootOf(p)
	if !ok {
		return -1, "", false, nil
	}
	fd, err = c.openDir(op, root, p, path.Dir(p), false, 0)
	return fd, path.Base(p), true, err
}

func (c *confined) outside(op, p string) error {
	return fmt.Errorf("%s %s on %s: outside %v, where mailplan was told to write", op, p, c.Name(), c.roots)
}

// linkAt returns the LinkError for a final component that is a link, or
// nil when it is none.
func (c *confined) linkAt(op, p string, dirfd int, base string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return nil
	}
	root, _ := c.rootOf(p)
	return &transport.LinkError{Op: op, Path: p, Link: path.Clean(p), Target: readlinkat(dirfd, base), Root: root}
}

// openAt opens base in dirfd with flags|O_NOFOLLOW, turning ELOOP into
// the LinkError naming it.
func (c *confined) openAt(op, p string, dirfd int, base string, flags int, perm uint32) (*os.File, error) {
	fd, err := unix.Openat(dirfd, base, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if errors.Is(err, unix.ELOOP) {
		if lerr := c.linkAt(op, p, dirfd, base); lerr != nil {
			return nil, lerr
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// Stat implements transport.Host.
func (c *confined) Stat(ctx context.Context, p string) (transport.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return transport.FileInfo{}, err
	}
	dirfd, base, ok, err := c.parent("stat", p)
	if !ok {
		return c.Host.Stat(ctx, p)
	}
	if err != nil {
		return transport.FileInfo{}, fmt.Errorf("stat: %w", err)
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return transport.FileInfo{}, fmt.Errorf("stat: %w", &fs.PathError{Op: "lstat", Path: p, Err: err})
	}
	return statInfo(base, &st), nil
}

// statInfo is the FileInfo of a stat(2) result, as os.Lstat would give.
func statInfo(name string, st *unix.Stat_t) transport.FileInfo {
	mode := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if st.Mode&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return transport.FileInfo{
		Name: name, Size: st.Size, Mode: mode,
		ModTime: time.Unix(st.Mtim.Unix()),
		UID:     int(st.Uid), GID: int(st.Gid),
	}
}

// ReadFile implements transport.Host.
func (c *confined) ReadFile(ctx context.Context, p string) ([]byte, error) {
	f, err := c.open(ctx, p)
	if err != nil || f == nil {
		if err == nil {
			return c.Host.ReadFile(ctx, p)
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return b, nil
}

// Open implements transport.Host.
func (c *confined) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	f, err := c.open(ctx, p)
	if err == nil && f == nil {
		return c.Host.Open(ctx, p)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// open opens p for reading below its root; nil, nil when p is below none.
func (c *confined) open(ctx context.Context, p string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dirfd, base, ok, err := c.parent("read", p)
	if !ok {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer unix.Close(dirfd)
	f, err := c.openAt("read", p, dirfd, base, unix.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return f, nil
}

// ReadDir implements transport.Host.
func (c *confined) ReadDir(ctx context.Context, p string) ([]transport.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p = path.Clean(p)
	root, ok := c.rootOf(p)
	if !ok {
		return c.Host.ReadDir(ctx, p)
	}
	fd, err := c.openDir("read", root, p, p, false, 0)
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	d := os.NewFile(uintptr(fd), p)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", p, err)
	}
	out := make([]transport.FileInfo, 0, len(names))
	for _, n := range names {
		var st unix.Stat_t
		err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue // removed while listing
		}
		if err != nil {
			return nil, fmt.Errorf("read directory %s: %w", p, &fs.PathError{Op: "lstat", Path: path.Join(p, n), Err: err})
		}
		out = append(out, statInfo(n, &st))
	}
	sortInfos(out)
	return out, nil
}

func sortInfos(fis []transport.FileInfo) {
	sort.Slice(fis, func(i, j int) bool { return fis[i].Name < fis[j].Name })
}
