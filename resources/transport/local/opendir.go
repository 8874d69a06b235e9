package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.DirOpener = (*confined)(nil)

// OpenDir implements transport.DirOpener: the directory is opened as a
// write's directory is (nofollow.go), and each operation is one *at(2)
// call on its descriptor that follows no link in the name.
func (c *confined) OpenDir(ctx context.Context, p string) (transport.Dir, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p = path.Clean(p)
	root, ok := c.rootOf(p)
	if !ok {
		return nil, c.outside("open", p)
	}
	fd, err := c.openDir("open", root, p, p, false, 0)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return &dir{c: c, fd: fd, p: p}, nil
}

// dir is a directory the confined host opened.
type dir struct {
	c  *confined
	fd int
	p  string
}

func (d *dir) Path() string { return d.p }

func (d *dir) Create(name string, mode fs.FileMode) (io.WriteCloser, error) {
	f, err := d.c.openAt("create", path.Join(d.p, name), d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, uint32(mode.Perm()))
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return f, nil
}

func (d *dir) Rename(name string, to transport.Dir, newname string) error {
	t, ok := to.(*dir)
	if !ok {
		return fmt.Errorf("rename %s: %s is not a directory of %s", path.Join(d.p, name), to.Path(), d.c.Name())
	}
	// renameat(2) replaces a link at newname and moves a link at name
	// without following either.
	if err := unix.Renameat(d.fd, name, t.fd, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: path.Join(d.p, name), New: path.Join(t.p, newname), Err: err}
	}
	return nil
}

func (d *dir) Remove(name string) error {
	err := unix.Unlinkat(d.fd, name, 0)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove: %w", &fs.PathError{Op: "remove", Path: path.Join(d.p, name), Err: err})
	}
	return nil
}

func (d *dir) Chown(name string, uid, gid int) error {
	if uid < 0 && gid < 0 {
		return nil
	}
	if err := unix.Fchownat(d.fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", &fs.PathError{Op: "chown", Path: path.Join(d.p, name), Err: err})
	}
	return nil
}

func (d *dir) Chtimes(name string, mtime time.Time) error {
	ts := unix.NsecToTimespec(mtime.UnixNano())
	if err := unix.UtimesNanoAt(d.fd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chtimes: %w", &fs.PathError{Op: "chtimes", Path: path.Join(d.p, name), Err: err})
	}
	return nil
}

func (d *dir) Close() error { return unix.Close(d.fd) }
