package mailbox

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/mailplan/mailplan/resources/transport"
)

// dirCache holds the destination directories an apply writes messages in,
// each opened once (transport.DirOpener): a message then costs one system
// call per step (create, chown, set time, rename) instead of a walk of
// its whole path for each.
type dirCache struct {
	h  transport.DirOpener
	mu sync.Mutex
	m  map[string]*openDir
}

// openDir is one directory of the cache, opened by the first who needs it.
type openDir struct {
	once sync.Once
	d    transport.Dir
	err  error
}

// newDirCache returns a cache for h, or nil when h cannot open
// directories.
func newDirCache(h transport.Host) *dirCache {
	o, ok := h.(transport.DirOpener)
	if !ok {
		return nil
	}
	return &dirCache{h: o, m: map[string]*openDir{}}
}

func (c *dirCache) get(ctx context.Context, p string) (transport.Dir, error) {
	c.mu.Lock()
	od := c.m[p]
	if od == nil {
		od = &openDir{}
		c.m[p] = od
	}
	c.mu.Unlock()
	od.once.Do(func() { od.d, od.err = c.h.OpenDir(ctx, p) })
	return od.d, od.err
}

// close closes every directory opened.
func (c *dirCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, od := range c.m {
		od.once.Do(func() {})
		if od.d != nil {
			od.d.Close()
		}
		delete(c.m, p)
	}
}

// tmpFile is where stage writes one message: a name in the destination
// Maildir's tmp/, reached through its open directory when the host has
// one, else by path.
type tmpFile struct {
	a    *applier
	dir  transport.Dir // nil: by path
	path string
}

func (a *applier) tmpFile(ctx context.Context, op copyOp) (tmpFile, error) {
	t := tmpFile{a: a, path: join(a.cfg.Destination, op.mb.rel, "tmp", tmpName(baseName(op.f.name)))}
	if a.dirs != nil {
		d, err := a.dirs.get(ctx, path.Dir(t.path))
		if err != nil {
			return t, fmt.Errorf("open %s on %s: %w", path.Dir(t.path), a.dst.Name(), err)
		}
		t.dir = d
	}
	return t, nil
}

func (t tmpFile) create(ctx context.Context, mode fs.FileMode) (io.WriteCloser, error) {
	if t.dir != nil {
		return t.dir.Create(path.Base(t.path), mode)
	}
	return t.a.dst.Create(ctx, t.path, mode)
}

func (t tmpFile) remove(ctx context.Context) error {
	if t.dir != nil {
		return t.dir.Remove(path.Base(t.path))
	}
	return t.a.dst.Remove(ctx, t.path)
}

func (t tmpFile) chown(ctx context.Context) error {
	a := t.a
	if a.uid < 0 && a.gid < 0 {
		return nil
	}
	if t.dir == nil {
		return a.chown(ctx, t.path)
	}
	if err := t.dir.Chown(path.Base(t.path), a.uid, a.gid); err != nil {
		return fmt.Errorf("chown %s on %s: %w", t.path, a.dst.Name(), err)
	}
	return nil
}

func (t tmpFile) chtimes(ctx context.Context, mtime time.Time) error {
	var err error
	if t.dir != nil {
		err = t.dir.Chtimes(path.Base(t.path), mtime)
	} else {
		err = t.a.dst.Chtimes(ctx, t.path, mtime)
	}
	if err != nil {
		return fmt.Errorf("set time of %s on %s: %w", t.path, t.a.dst.Name(), err)
	}
	return nil
}

// rename moves the staged file to its place final (in cur/ or new/ of
// the same Maildir).
func (a *applier) renameStaged(ctx context.Context, staged, final string) error {
	var err error
	if a.dirs == nil {
		err = a.dst.Rename(ctx, staged, final)
	} else {
		var from, to transport.Dir
		if from, err = a.dirs.get(ctx, path.Dir(staged)); err == nil {
			if to, err = a.dirs.get(ctx, path.Dir(final)); err == nil {
				err = from.Rename(path.Base(staged), to, path.Base(final))
			}
		}
	}
	if err != nil {
		return fmt.Errorf("rename %s on %s: %w", staged, a.dst.Name(), err)
	}
	return nil
}
