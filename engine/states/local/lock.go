package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailplan/mailplan/engine/states"
)

// Lock takes the lock or fails at once. When another process — or another
// Lock in this one: flock belongs to an open file, not to a process —
// holds it, the error is a *states.LockedError carrying the holder's
// LockInfo, with Path the lock file.
//
// Fields of info left empty are filled in: ID (random), PID, Host, Who
// (user@host) and Created (now). The caller sets Operation.
func (b *Backend) Lock(ctx context.Context, info states.LockInfo) (states.Unlocker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := b.LockPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state: %w", err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &states.LockedError{Holder: readHolder(f), Path: path}
		}
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	info.Fill()
	data, err := json.MarshalIndent(info, "", "  ")
	if err == nil {
		err = writeInfo(f, append(data, '\n'))
	}
	if err != nil {
		flock(f, unix.LOCK_UN)
		f.Close()
		return nil, fmt.Errorf("write lock info to %s: %w", path, err)
	}
	b.logger.Debug("locked state", "path", path, "operation", info.Operation, "id", info.ID)
	return &lock{f: f, b: b, id: info.ID}, nil
}

type lock struct {
	b    *Backend
	id   string
	once sync.Once
	f    *os.File
}

// Unlock clears the holder's info and releases the lock. Calling it again
// does nothing.
func (l *lock) Unlock() error {
	var err error
	l.once.Do(func() {
		path := l.f.Name()
		// Clear the info before releasing, so that nobody reads a holder
		// who has gone; the file itself stays (see the package doc).
		if terr := l.f.Truncate(0); terr != nil {
			err = fmt.Errorf("truncate %s: %w", path, terr)
		}
		if uerr := flock(l.f, unix.LOCK_UN); uerr != nil && err == nil {
			err = fmt.Errorf("unlock %s: %w", path, uerr)
		}
		if cerr := l.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
		l.b.logger.Debug("unlocked state", "path", path, "id", l.id)
	})
	return err
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

func writeInfo(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

// readHolder reads the holder's LockInfo. A holder that has just taken the
// lock may not have written it yet, so an empty or partial file is read
// again a few times, briefly: Lock must still fail at once.
func readHolder(f *os.File) states.LockInfo {
	var info states.LockInfo
	for range 10 {
		data, err := os.ReadFile(f.Name())
		if err == nil && json.Unmarshal(data, &info) == nil {
			return info
		}
		time.Sleep(10 * time.Millisecond)
	}
	return states.LockInfo{Who: "an unknown process", Operation: "an unknown operation"}
}
