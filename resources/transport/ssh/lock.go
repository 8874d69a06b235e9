package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.Locker = (*Host)(nil)

// lockScript runs under flock(1) once it holds the lock: it says
// "locked" and holds the lock until its standard input closes, which
// Lock's release does, and which a lost connection does too. The run's
// description follows transport.LockArgMarker among flock's arguments,
// never in the script, for DescribeLockHolder.
const lockScript = `echo locked; exec cat >/dev/null`

// lockTimedOut is flock(1)'s exit status when the wait ran out (-E).
const lockTimedOut = 75

// Lock implements transport.Locker: flock(1) on the host holds the lock
// for as long as a session of this connection keeps it open (with sudo
// when the host uses sudo). It is the same lock a local run on that host
// takes.
func (h *Host) Lock(ctx context.Context, path, holder string, wait time.Duration) (func(), error) {
	argv := []string{"flock", "-w", fmt.Sprintf("%.3f", wait.Seconds()), "-E", fmt.Sprint(lockTimedOut), path,
		"sh", "-c", lockScript, transport.LockArgMarker, holder}
	// The session outlives the caller's context: once taken, the lock is
	// held until release, so that an interrupt never lets another run in
	// half way through an edit. Waiting stops with ctx.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stdin, hold := io.Pipe()
	locked := &lineWatch{want: "locked", seen: make(chan struct{})}
	type ended struct {
		res transport.Result
		err error
	}
	done := make(chan ended, 1)
	start := time.Now()
	go func() {
		res, err := h.Run(sctx, argv, transport.RunOptions{Stdin: stdin, Stdout: locked})
		done <- ended{res, err}
	}()
	stop := func() {
		hold.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	}
	select {
	case <-locked.seen:
		h.log.Debug("host lock taken", "path", path, "waited", time.Since(start))
		var once sync.Once
		return func() { once.Do(stop) }, nil
	case e := <-done:
		hold.Close()
		cancel()
		if e.err != nil {
			return nil, fmt.Errorf("lock %s on %s: %w", path, h.Name(), e.err)
		}
		if e.res.ExitCode == lockTimedOut {
			who := transport.DescribeLockHolder(context.WithoutCancel(ctx), h, path)
			return nil, &transport.LockedError{Host: h.Name(), Path: path, Holder: who, Waited: time.Since(start)}
		}
		err := e.res.Err(argv[:1])
		if e.res.ExitCode == 127 {
			err = errors.Join(err, errors.New("flock(1), from util-linux, must be installed on the host"))
		}
		return nil, fmt.Errorf("lock %s on %s: %w", path, h.Name(), err)
	case <-ctx.Done():
		cancel()
		hold.Close()
		<-done
		return nil, fmt.Errorf("waiting for the lock %s on %s: %w", path, h.Name(), ctx.Err())
	}
}

// lineWatch closes seen once a whole line equal to want was written.
type lineWatch struct {
	want string
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	seen chan struct{}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if line == w.want {
			w.once.Do(func() { close(w.seen) })
		}
	}
	return len(p), nil
}
