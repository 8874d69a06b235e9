package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"
)

// mailplan runs as root on hosts where others (the mail user, above all)
// can write parts of the tree it writes to. A symbolic link planted there
// would redirect a root write anywhere: a Maildir linked to /etc, a
// snapshot store linked to a directory its owner can read. So every path a
// resource writes belongs to a root (the destination of a mailbox copy, a
// table's directory, a file's directory) and is checked on its way down:
//
//   - At or above the root, a link is followed only when nobody but root
//     (or the account mailplan writes as) could have made it: the link and
//     its directory are owned by uid 0 (or that account) and the directory
//     is writable by neither group nor others, unless it is sticky. System
//     layouts such as /var/run -> /run pass; a link in a mail user's home
//     does not.
//   - Below the root, no link is followed at all, the last component
//     included.
//
// Resolve makes this check with Host.Stat (lstat) and returns the real
// path, on which claims are made. Confine wraps a host so that every write
// through it is checked; the local transport does it without a race
// (openat with O_NOFOLLOW, see Confiner), the others check each component
// right before each operation, which leaves a window in which a link
// swapped in is followed (docs/troubleshooting.md says which).

// ErrSymlink is wrapped by every refusal of a symbolic link (LinkError).
var ErrSymlink = errors.New("symbolic link on the way")

// LinkError is a path refused because of a symbolic link on its way.
type LinkError struct {
	// Op is what mailplan was about to do: "write" or "read".
	Op string
	// Path is the path it was about to write (or read).
	Path string
	// Link is the symbolic link found on the way, and Target what it
	// points to ("" when the host cannot read links).
	Link, Target string
	// Root is the configured root the link is below; "" for a link above
	// it that someone other than root could have made, in Dir, owned by
	// Owner.
	Root  string
	Dir   string
	Owner int
}

func (e *LinkError) Error() string {
	op := e.Op
	if op == "" {
		op = "write"
	}
	link := e.Link + " is a symbolic link"
	if e.Target != "" {
		link += fmt.Sprintf(" (to %s)", e.Target)
	}
	if e.Root != "" {
		return fmt.Sprintf("refusing to %s %s: %s, planted below %s; mailplan never follows a link where it writes as root",
			op, e.Path, link, e.Root)
	}
	return fmt.Sprintf("refusing to %s %s: %s that someone other than root could have made (link owned by uid %d, in %s); "+
		"mailplan follows a link on the way to where it writes only when the link and its directory belong to root "+
		"and no one else can write that directory; give the real path instead", op, e.Path, link, e.Owner, e.Dir)
}

// Is makes errors.Is(err, ErrSymlink) hold.
func (e *LinkError) Is(target error) bool { return target == ErrSymlink }

// LinkReader is implemented by hosts that can read where a symbolic link
// points (readlink(2)): local, SFTP, and sudo (readlink). Without it, a
// link above a root cannot be followed, and a refusal names no target.
type LinkReader interface {
	Readlink(ctx context.Context, path string) (string, error)
}

// Identity is implemented by hosts that know the uid their file
// operations run as (0 with sudo, the login user over plain SFTP). Links
// that uid owns are trusted like root's. Without it, only root's are.
type Identity interface {
	WriterUID(ctx context.Context) (int, error)
}

// Confiner is implemented by hosts that confine writes to roots without a
// race: they walk every path with openat(2) and O_NOFOLLOW, so a link
// swapped in between a check and a write cannot be followed. Confine uses
// it when the host has it.
type Confiner interface {
	Confine(roots []string) Host
}

// Resolve returns the real path of p on h (links above root followed, see
// the top of this file), or a *LinkError naming the link it refuses. p must
// be root or below it. A part of p that does not exist yet is returned as
// written: nothing there can be a link.
func Resolve(ctx context.Context, h Host, root, p string) (string, error) {
	r := newResolver(h, 0)
	return r.resolve(ctx, "write", root, p, true)
}

// Within reports whether p is root or below it (both clean and absolute).
func Within(root, p string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

// RootOf returns the longest of roots that p is within.
func RootOf(roots []string, p string) (string, bool) {
	best, ok := "", false
	for _, r := range roots {
		if Within(r, p) && (!ok || len(r) > len(best)) {
			best, ok = r, true
		}
	}
	return best, ok
}

// maxLinks bounds the links followed on one path, as the kernel does
// (MAXSYMLINKS).
const maxLinks = 40

// resolver walks paths with Host.Stat. With ttl > 0 it remembers the
// directories it saw for that long, so that a copy of many files into one
// directory does not lstat its whole way for each file.
type resolver struct {
	h   Host
	ttl time.Duration

	once   sync.Once
	writer int // the uid writes run as; -1 unknown

	mu   sync.Mutex
	dirs map[string]seenDir
	// reals are the real paths of the roots walked to: the way to a root
	// is checked once per resolver (one Read, Apply or Restore of a
	// resource), the way below it at every operation.
	reals map[string]string
}

type seenDir struct {
	fi FileInfo
	at time.Time
}

func newResolver(h Host, ttl time.Duration) *resolver {
	return &resolver{h: h, ttl: ttl, writer: -1, dirs: map[string]seenDir{}, reals: map[string]string{}}
}

func (r *resolver) writerUID(ctx context.Context) int {
	r.once.Do(func() {
		if id, ok := r.h.(Identity); ok {
			if uid, err := id.WriterUID(ctx); err == nil {
				r.writer = uid
			}
		}
	})
	return r.writer
}

// stat is h.Stat, answered from the directories seen within ttl.
func (r *resolver) stat(ctx context.Context, p string, fresh bool) (FileInfo, error) {
	if r.ttl > 0 && !fresh {
		r.mu.Lock()
		s, ok := r.dirs[p]
		r.mu.Unlock()
		if ok && time.Since(s.at) < r.ttl {
			return s.fi, nil
		}
	}
	fi, err := r.h.Stat(ctx, p)
	if err == nil && r.ttl > 0 && fi.IsDir() {
		r.mu.Lock()
		r.dirs[p] = seenDir{fi: fi, at: time.Now()}
		r.mu.Unlock()
	}
	return fi, err
}

// statResult is the answer to one lstat.
type statResult struct {
	fi  FileInfo
	err error
}

// prefetch lstats, all at once, each path from cur down through names
// that stat would not answer from the directories remembered: one round
// trip to a remote host instead of one per name. The walk takes the
// answers in order, as it would have asked, as long as it follows no
// link; a path it reaches another way it lstats itself. An answer a few
// milliseconds old is no older than a remembered directory's.
func (r *resolver) prefetch(ctx context.Context, cur string, names []string, fresh bool) map[string]statResult {
	var paths []string
	for _, n := range names {
		cur = path.Join(cur, n)
		if r.ttl > 0 && !fresh {
			r.mu.Lock()
			s, ok := r.dirs[cur]
			r.mu.Unlock()
			if ok && time.Since(s.at) < r.ttl {
				continue
			}
		}
		paths = append(paths, cur)
	}
	if len(paths) < 2 {
		return nil
	}
	out := make([]statResult, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].fi, out[i].err = r.stat(ctx, p, true)
		}()
	}
	wg.Wait()
	pre := make(map[string]statResult, len(paths))
	for i, p := range paths {
		pre[p] = out[i]
	}
	return pre
}

func (r *resolver) readlink(ctx context.Context, p string) string {
	if lr, ok := r.h.(LinkReader); ok {
		if t, err := lr.Readlink(ctx, p); err == nil {
			return t
		}
	}
	return ""
}

// trusted reports whether link, in the directory dir, can only have been
// made by root or by the account mailplan writes as.
func trusted(writer int, link, dir FileInfo) bool {
	own := func(uid int) bool { return uid == 0 || (writer >= 0 && uid == writer) }
	return own(link.UID) && own(dir.UID) && (dir.Mode.Perm()&0o022 == 0 || dir.Mode&fs.ModeSticky != 0)
}

func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// resolve walks p from "/". With last false, the last component is not
// looked at (an lstat or a removal of it cannot be redirected). fresh
// bypasses the directories remembered.
func (r *resolver) resolve(ctx context.Context, op, root, p string, last bool) (string, error) {
	return r.walk(ctx, op, root, p, last, false)
}

func (r *resolver) walk(ctx context.Context, op, root, p string, last, fresh bool) (string, error) {
	if !path.IsAbs(p) || path.Clean(p) != p || !Within(root, p) {
		return "", fmt.Errorf("%s %s on %s: not a clean absolute path within %s", op, p, r.h.Name(), root)
	}
	nRoot := len(split(root))
	names := split(p)
	var tail string
	if !last && len(names) > 0 {
		tail, names = names[len(names)-1], names[:len(names)-1]
	}
	w := NewWalk(names, nRoot)
	cur, links := "/", 0
	var curFI *FileInfo
	r.mu.Lock()
	real, known := r.reals[root]
	r.mu.Unlock()
	if known && w.skipRoot() {
		cur = real
	}
	pre := r.prefetch(ctx, cur, w.Rest(), fresh)
	for {
		if !known && r.ttl > 0 && w.atRoot() {
			known = true
			r.mu.Lock()
			r.reals[root] = cur
			r.mu.Unlock()
		}
		name, below, ok := w.Next()
		if !ok {
			break
		}
		switch name {
		case ".":
			continue
		case "..":
			cur, curFI = path.Dir(cur), nil
			continue
		}
		next := path.Join(cur, name)
		var fi FileInfo
		var err error
		if st, ok := pre[next]; ok {
			fi, err = st.fi, st.err
		} else {
			fi, err = r.stat(ctx, next, fresh)
		}
		if errors.Is(err, fs.ErrNotExist) {
			rest := append([]string{next}, w.Rest()...)
			return path.Join(append(rest, tail)...), nil
		}
		if err != nil {
			return "", fmt.Errorf("%s %s on %s: %w", op, p, r.h.Name(), err)
		}
		if fi.IsSymlink() {
			target := r.readlink(ctx, next)
			if below {
				return "", &LinkError{Op: op, Path: p, Link: next, Target: target, Root: root}
			}
			if curFI == nil {
				dfi, err := r.stat(ctx, cur, fresh)
				if err != nil {
					return "", fmt.Errorf("%s %s on %s: %w", op, p, r.h.Name(), err)
				}
				curFI = &dfi
			}
			if !trusted(r.writerUID(ctx), fi, *curFI) {
				return "", &LinkError{Op: op, Path: p, Link: next, Target: target, Dir: cur, Owner: fi.UID}
			}
			if links++; links > maxLinks || target == "" {
				return "", fmt.Errorf("%s %s on %s: cannot follow the link %s", op, p, r.h.Name(), next)
			}
			if path.IsAbs(target) {
				cur, curFI = "/", nil
			}
			w.Follow(split(target))
			continue
		}
		if w.left() > 0 && !fi.IsDir() {
			return "", fmt.Errorf("%s %s on %s: %s is not a directory", op, p, r.h.Name(), next)
		}
		cur, curFI = next, &fi
	}
	return path.Join(cur, tail), nil
}
