package transport

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/mailplan/mailplan/engine/resource"
)

// Locker is implemented by hosts that can take a lock held on the host
// itself: flock(2) on a file, the same lock every mailplan process that
// reaches the host takes, whichever machine it runs on and whichever
// transport it uses. A read-modify-write of a file several runs edit
// (main.cf) holds it from the read to the write.
type Locker interface {
	// Lock takes the exclusive lock of path, an existing directory (or
	// file) that the lock leaves as it is: nothing is created or written.
	// It waits up to wait while another process holds it, then fails with
	// a *LockedError naming the holder (DescribeLockHolder). holder
	// describes this run to whoever waits. release gives the lock back; a
	// holder that dies loses it with its process (or, over SSH, with its
	// connection), so no lock outlives a crash.
	Lock(ctx context.Context, path, holder string, wait time.Duration) (release func(), err error)
}

// Unwrapper is implemented by wrappers of a Host (tests' fault
// injectors): HostLock looks through them for the Locker underneath.
type Unwrapper interface {
	Unwrap() Host
}

// LockedError is a lock another process held for longer than the wait.
type LockedError struct {
	Host   string // the host's name in messages
	Path   string
	Holder string // who holds it, "" when that could not be told
	Waited time.Duration
}

func (e *LockedError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another process"
	}
	return fmt.Sprintf("%s: the lock %s is held by %s; gave up after waiting %s (raise -lock-timeout to wait longer)", e.Host, e.Path, holder, e.Waited.Round(time.Millisecond))
}

// HostLock takes the host-side lock of path on h, waiting as long as
// resource.LockTimeout(ctx) says. A host that cannot lock is an error:
// an edit that others may be making at the same time is never made
// unlocked.
func HostLock(ctx context.Context, h Host, path string) (release func(), err error) {
	name := h.Name()
	for {
		if l, ok := h.(Locker); ok {
			return l.Lock(ctx, path, Holder(), resource.LockTimeout(ctx))
		}
		u, ok := h.(Unwrapper)
		if !ok {
			return nil, fmt.Errorf("%s cannot take a lock on the host, so mailplan will not edit %s there", name, path)
		}
		h = u.Unwrap()
	}
}

var started = time.Now().UTC()

// Holder describes this process in a lock file: who, where, which
// process, since when.
func Holder() string {
	host, _ := os.Hostname()
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return fmt.Sprintf("mailplan (pid %d, %s@%s, running since %s)", os.Getpid(), name, host, started.Format(time.RFC3339))
}
