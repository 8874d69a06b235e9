package resourcetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// ErrInjected is wrapped by every failure the harness injects, in a host
// operation (Faults) or a journal record (Journal.FailAt). A type must
// pass it on wrapped (errors.Is), as it would a real one.
var ErrInjected = errors.New("injected failure")

// Faults counts the operations a resource type asks of its hosts and can
// fail one of them. Every method of transport.Host that reaches the host
// is one operation: Run, each file operation, each user or group lookup,
// closing a file opened with Create (its content reaches the host then),
// and StatFS and SyncFS where the host has them; Name is not. A type
// reaches its hosts through Getter (or Host), and through the DNS proxy
// of Proxy when it speaks DNS.
//
// With FailAt(n), the n-th operation counted from the last Reset fails
// with an error wrapping ErrInjected: before it reaches the host, or,
// with Mode After, once the host has done it (a connection lost before
// the answer came back). It is safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	count  int
	failAt int
	mode   Mode
	failed string   // the operation that failed, "" while none did
	ops    []string // every operation since Reset, in order
	writes []string // the operations among ops that change the host
}

// Mode says when an injected failure strikes.
type Mode int

const (
	// Before: the operation fails without reaching the host.
	Before Mode = iota
	// After: the host does the operation, then its caller gets the error.
	After
)

func (m Mode) String() string {
	if m == After {
		return "after"
	}
	return "before"
}

// NewFaults returns an injector that fails nothing yet.
func NewFaults() *Faults { return &Faults{} }

// Reset starts counting from zero, failing nothing.
func (f *Faults) Reset() { f.FailAt(0, Before) }

// FailAt starts counting from zero and fails the n-th operation as mode
// says; n = 0 fails nothing.
func (f *Faults) FailAt(n int, mode Mode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count, f.failAt, f.mode, f.failed, f.ops, f.writes = 0, n, mode, "", nil, nil
}

// Count is the number of operations since the last Reset or FailAt.
func (f *Faults) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Failed is the operation that was failed, or "" when none was.
func (f *Faults) Failed() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// Ops are the operations since the last Reset or FailAt, in order, e.g.
// "write /etc/postfix/main.cf" or "run postmap hash:/etc/postfix/transport".
func (f *Faults) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}

// Writes are the operations among Ops that change files on the host
// (Run is not among them: what a command does is not known here).
func (f *Faults) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

// op counts one operation. fail is the error the caller must return,
// before or after doing it, as the mode says; nil when it is not the one.
func (f *Faults) op(what string, write bool) (mode Mode, fail error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	f.ops = append(f.ops, what)
	if write {
		f.writes = append(f.writes, what)
	}
	if f.failAt > 0 && f.count == f.failAt {
		f.failed = what
		return f.mode, fmt.Errorf("%s: %w at operation %d (%s)", what, ErrInjected, f.count, f.mode)
	}
	return 0, nil
}

// do runs one operation through f.
func do(f *Faults, what string, write bool, fn func() error) error {
	mode, fail := f.op(what, write)
	if fail != nil && mode == Before {
		return fail
	}
	err := fn()
	if fail != nil {
		return fail
	}
	return err
}

// doValue is do for an operation that returns a value.
func doValue[T any](f *Faults, what string, write bool, fn func() (T, error)) (T, error) {
	var v T
	err := do(f, what, write, func() (err error) {
		v, err = fn()
		return err
	})
	return v, err
}

// Getter returns base with every host it gives wrapped by Host.
func (f *Faults) Getter(base transport.Getter) transport.Getter {
	return faultGetter{f: f, base: base}
}

type faultGetter struct {
	f    *Faults
	base transport.Getter
}

func (g faultGetter) Get(ctx context.Context, h resource.Host) (transport.Host, error) {
	th, err := g.base.Get(ctx, h)
	if err != nil {
		return nil, err
	}
	return g.f.Host(th), nil
}

// Host wraps h so that its operations are counted and can fail. The
// wrapper has StatFS and SyncFS when h has them, and only then: a type
// that looks for them sees the host as it is.
func (f *Faults) Host(h transport.Host) transport.Host {
	base := &faultHost{f: f, h: h}
	st, isStater := h.(transport.FSStater)
	sy, isSyncer := h.(transport.FSSyncer)
	switch {
	case isStater && isSyncer:
		return struct {
			*faultHost
			faultStatFS
			faultSyncFS
		}{base, faultStatFS{f, st}, faultSyncFS{f, sy}}
	case isStater:
		return struct {
			*faultHost
			faultStatFS
		}{base, faultStatFS{f, st}}
	case isSyncer:
		return struct {
			*faultHost
			faultSyncFS
		}{base, faultSyncFS{f, sy}}
	}
	return base
}

type faultHost struct {
	f *Faults
	h transport.Host
}

var _ transport.Host = (*faultHost)(nil)

func (h *faultHost) Name() string { return h.h.Name() }

// Unwrap gives transport.HostLock the host underneath: a lock is not an
// operation on the host's state, and is neither counted nor failed.
func (h *faultHost) Unwrap() transport.Host { return h.h }

func (h *faultHost) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	return doValue(h.f, "run "+strings.Join(argv, " "), false, func() (transport.Result, error) { return h.h.Run(ctx, argv, opts) })
}

func (h *faultHost) Stat(ctx context.Context, p string) (transport.FileInfo, error) {
	return doValue(h.f, "stat "+p, false, func() (transport.FileInfo, error) { return h.h.Stat(ctx, p) })
}

func (h *faultHost) ReadFile(ctx context.Context, p string) (data []byte, err error) {
	err = do(h.f, "read "+p, false, func() error {
		data, err = h.h.ReadFile(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

func (h *faultHost) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	var r io.ReadCloser
	err := do(h.f, "open "+p, false, func() (err error) {
		r, err = h.h.Open(ctx, p)
		return err
	})
	if err != nil {
		if r != nil {
			r.Close()
		}
		return nil, err
	}
	return r, nil
}

func (h *faultHost) ReadDir(ctx context.Context, p string) (fis []transport.FileInfo, err error) {
	err = do(h.f, "readdir "+p, false, func() error {
		fis, err = h.h.ReadDir(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return fis, nil
}

func (h *faultHost) WriteFile(ctx context.Context, p string, data []byte, opts transport.WriteOptions) error {
	return do(h.f, "write "+p, true, func() error { return h.h.WriteFile(ctx, p, data, opts) })
}

func (h *faultHost) Create(ctx context.Context, p string, mode fs.FileMode) (io.WriteCloser, error) {
	var w io.WriteCloser
	err := do(h.f, "create "+p, true, func() (err error) {
		w, err = h.h.Create(ctx, p, mode)
		return err
	})
	if err != nil {
		if w != nil {
			w.Close()
		}
		return nil, err
	}
	return &faultWriter{WriteCloser: w, f: h.f, path: p}, nil
}

// faultWriter counts the Close of a created file: its content is on the
// host from then on (over SFTP, the last writes may be acknowledged only
// at close). The file is closed whatever the mode, so that no descriptor
// leaks: a failure "before" is one that struck as the last bytes went out.
type faultWriter struct {
	io.WriteCloser
	f    *Faults
	path string
}

func (w *faultWriter) Close() error {
	_, fail := w.f.op("close "+w.path, true)
	err := w.WriteCloser.Close()
	if fail != nil {
		return fail
	}
	return err
}

func (h *faultHost) Rename(ctx context.Context, from, to string) error {
	return do(h.f, "rename "+from+" "+to, true, func() error { return h.h.Rename(ctx, from, to) })
}

func (h *faultHost) Remove(ctx context.Context, p string) error {
	return do(h.f, "remove "+p, true, func() error { return h.h.Remove(ctx, p) })
}

func (h *faultHost) MkdirAll(ctx context.Context, p string, mode fs.FileMode) error {
	return do(h.f, "mkdir "+p, true, func() error { return h.h.MkdirAll(ctx, p, mode) })
}

func (h *faultHost) Chown(ctx context.Context, p string, uid, gid int) error {
	return do(h.f, fmt.Sprintf("chown %d:%d %s", uid, gid, p), true, func() error { return h.h.Chown(ctx, p, uid, gid) })
}

func (h *faultHost) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	return do(h.f, fmt.Sprintf("chmod %v %s", mode, p), true, func() error { return h.h.Chmod(ctx, p, mode) })
}

func (h *faultHost) Chtimes(ctx context.Context, p string, mtime time.Time) error {
	return do(h.f, "chtimes "+p, true, func() error { return h.h.Chtimes(ctx, p, mtime) })
}

func (h *faultHost) LookupUser(ctx context.Context, name string) (int, error) {
	return doValue(h.f, "lookup user "+name, false, func() (int, error) { return h.h.LookupUser(ctx, name) })
}

func (h *faultHost) LookupGroup(ctx context.Context, name string) (int, error) {
	return doValue(h.f, "lookup group "+name, false, func() (int, error) { return h.h.LookupGroup(ctx, name) })
}

func (h *faultHost) UserName(ctx context.Context, uid int) (string, error) {
	return doValue(h.f, fmt.Sprintf("user name %d", uid), false, func() (string, error) { return h.h.UserName(ctx, uid) })
}

func (h *faultHost) GroupName(ctx context.Context, gid int) (string, error) {
	return doValue(h.f, fmt.Sprintf("group name %d", gid), false, func() (string, error) { return h.h.GroupName(ctx, gid) })
}

type faultStatFS struct {
	f *Faults
	h transport.FSStater
}

func (s faultStatFS) StatFS(ctx context.Context, p string) (uint64, error) {
	return doValue(s.f, "statfs "+p, false, func() (uint64, error) { return s.h.StatFS(ctx, p) })
}

type faultSyncFS struct {
	f *Faults
	h transport.FSSyncer
}

func (s faultSyncFS) SyncFS(ctx context.Context, p string) error {
	return do(s.f, "syncfs "+p, false, func() error { return s.h.SyncFS(ctx, p) })
}
