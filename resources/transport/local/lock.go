package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.Locker = (*Host)(nil)

// lockPoll is how often a waiting Lock tries again.
const lockPoll = 50 * time.Millisecond

// Lock implements transport.Locker with flock(2) on path, an existing
// directory or file, opened read-only. The lock is the same one flock(1)
// takes, so runs over SSH and local runs exclude each other.
func (h *Host) Lock(ctx context.Context, path, holder string, wait time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s on %s: %w", path, h.Name(), err)
	}
	start := time.Now()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, fmt.Errorf("lock %s on %s: %w", path, h.Name(), err)
		}
		if time.Since(start) >= wait {
			f.Close()
			who := transport.DescribeLockHolder(context.WithoutCancel(ctx), h, path)
			return nil, &transport.LockedError{Host: h.Name(), Path: path, Holder: who, Waited: time.Since(start)}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s on %s: %w", path, h.Name(), ctx.Err())
		case <-time.After(min(lockPoll, max(wait-time.Since(start), time.Millisecond))):
		}
	}
	h.log.Debug("host lock taken", "path", path, "holder", holder, "waited", time.Since(start))
	var once sync.Once
	return func() {
		once.Do(func() {
			err := errors.Join(unix.Flock(int(f.Fd()), unix.LOCK_UN), f.Close())
			if err != nil {
				h.log.Warn("host lock release", "path", path, "error", err)
			}
		})
	}, nil
}
