package transport

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"
)

// recheckAfter is how long a checked host trusts a directory it has
// lstat-checked: long enough that a copy of many messages into one
// Maildir does not walk the whole way for each, short enough that a check
// is always of the moment. A link swapped in within it is followed; see
// docs/troubleshooting.md.
const recheckAfter = time.Second

// Confine returns h with every write confined to roots (clean absolute
// paths): a path to write must be one of them or below one, and no
// symbolic link is followed on its way except above its root and trusted
// (see Resolve); a refusal is a *LinkError. Reads below a root are checked
// likewise, so that nothing is read through a planted link either; reads
// elsewhere pass through unchecked.
//
// A host that is a Confiner confines itself (local: without a race).
// Otherwise each operation is checked with lstat right before it, and the
// directories MkdirAll made are checked again after it. The result has
// StatFS and SyncFS when h has them, and only then.
func Confine(h Host, roots ...string) Host {
	clean := make([]string, len(roots))
	for i, r := range roots {
		clean[i] = path.Clean(r)
	}
	if c, ok := h.(Confiner); ok {
		return c.Confine(clean)
	}
	base := &checked{Host: h, roots: clean, r: newResolver(h, recheckAfter)}
	st, isStater := Stats(h) // with StatInodes when h has it
	sy, isSyncer := h.(FSSyncer)
	switch {
	case isStater && isSyncer:
		return struct {
			*checked
			FSStats
			FSSyncer
		}{base, st, sy}
	case isStater:
		return struct {
			*checked
			FSStats
		}{base, st}
	case isSyncer:
		return struct {
			*checked
			FSSyncer
		}{base, sy}
	}
	return base
}

// checked is a Host whose operations below its roots are lstat-checked
// first.
type checked struct {
	Host
	roots []string
	r     *resolver
}

// check refuses p when a link is on its way. With write, a p outside
// every root is refused too; a read there passes unchecked.
func (c *checked) check(ctx context.Context, op, p string, last, write bool) error {
	root, ok := RootOf(c.roots, path.Clean(p))
	if !ok {
		if write {
			return fmt.Errorf("%s %s on %s: outside %v, where mailplan was told to write", op, p, c.Name(), c.roots)
		}
		return nil
	}
	_, err := c.r.resolve(ctx, op, root, path.Clean(p), last)
	return err
}

func (c *checked) Stat(ctx context.Context, p string) (FileInfo, error) {
	if err := c.check(ctx, "read", p, false, false); err != nil {
		return FileInfo{}, err
	}
	return c.Host.Stat(ctx, p)
}

func (c *checked) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := c.check(ctx, "read", p, true, false); err != nil {
		return nil, err
	}
	return c.Host.ReadFile(ctx, p)
}

func (c *checked) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := c.check(ctx, "read", p, true, false); err != nil {
		return nil, err
	}
	return c.Host.Open(ctx, p)
}

func (c *checked) ReadDir(ctx context.Context, p string) ([]FileInfo, error) {
	if err := c.check(ctx, "read", p, true, false); err != nil {
		return nil, err
	}
	return c.Host.ReadDir(ctx, p)
}

func (c *checked) WriteFile(ctx context.Context, p string, data []byte, opts WriteOptions) error {
	if err := c.check(ctx, "write", p, true, true); err != nil {
		return err
	}
	return c.Host.WriteFile(ctx, p, data, opts)
}

func (c *checked) Create(ctx context.Context, p string, mode fs.FileMode) (io.WriteCloser, error) {
	if err := c.check(ctx, "write", p, true, true); err != nil {
		return nil, err
	}
	return c.Host.Create(ctx, p, mode)
}

func (c *checked) Rename(ctx context.Context, oldpath, newpath string) error {
	if err := c.check(ctx, "write", oldpath, true, true); err != nil {
		return err
	}
	if err := c.check(ctx, "write", newpath, true, true); err != nil {
		return err
	}
	return c.Host.Rename(ctx, oldpath, newpath)
}

// Remove checks the way to p but not p itself: removing a link removes
// the link.
func (c *checked) Remove(ctx context.Context, p string) error {
	if err := c.check(ctx, "write", p, false, true); err != nil {
		return err
	}
	return c.Host.Remove(ctx, p)
}

func (c *checked) MkdirAll(ctx context.Context, p string, mode fs.FileMode) error {
	if err := c.check(ctx, "write", p, true, true); err != nil {
		return err
	}
	if err := c.Host.MkdirAll(ctx, p, mode); err != nil {
		return err
	}
	// What the host made, it made through the way checked above; a link
	// swapped in meanwhile shows now, before anything is written there.
	root, _ := RootOf(c.roots, path.Clean(p))
	_, err := c.r.walk(ctx, "write", root, path.Clean(p), true, true)
	return err
}

func (c *checked) Chown(ctx context.Context, p string, uid, gid int) error {
	if err := c.check(ctx, "write", p, true, true); err != nil {
		return err
	}
	return c.Host.Chown(ctx, p, uid, gid)
}

func (c *checked) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	if err := c.check(ctx, "write", p, true, true); err != nil {
		return err
	}
	return c.Host.Chmod(ctx, p, mode)
}

func (c *checked) Chtimes(ctx context.Context, p string, mtime time.Time) error {
	if err := c.check(ctx, "write", p, true, true); err != nil {
		return err
	}
	return c.Host.Chtimes(ctx, p, mtime)
}
