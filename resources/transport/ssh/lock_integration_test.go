package ssh_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/local"
)

// TestHostLock: the host-side lock is one lock whichever way a run
// reaches the host — over SSH (flock(1) in a session, with and without
// sudo) or locally (flock(2)) — it names its holder to a run that waits in
// vain, and it dies with its holder's connection.
func TestHostLock(t *testing.T) {
	srv := testbed.SSHDWith(t, testbed.SSHDOptions{PathPrepend: []string{testbed.FakeSudo(t)}})
	lockFile := t.TempDir() // a directory, as Postfix's config_directory
	ctx := context.Background()
	loc := local.New("here", hclog.NewNullLogger())

	for _, sudo := range []bool{false, true} {
		name := "ssh"
		if sudo {
			name = "ssh with sudo"
		}
		t.Run(name, func(t *testing.T) {
			h := dial(t, srv, sudo)
			release, err := transport.HostLock(ctx, h, lockFile)
			if err != nil {
				t.Fatal(err)
			}
			// Held: a local run waits, then gives up naming the holder.
			start := time.Now()
			_, err = loc.Lock(ctx, lockFile, "the local run", 300*time.Millisecond)
			var le *transport.LockedError
			if !errors.As(err, &le) || !strings.Contains(le.Holder, "mailplan (pid ") || time.Since(start) < 300*time.Millisecond {
				t.Fatalf("local lock while the SSH run holds it: %v (holder %q)", err, holderOf(le))
			}
			t.Logf("refused: %v", err)
			// A second SSH connection (another machine's run) waits too.
			other := dial(t, srv, sudo)
			_, err = other.Lock(ctx, lockFile, "the other machine", 200*time.Millisecond)
			if !errors.As(err, &le) {
				t.Fatalf("second SSH lock while held: %v", err)
			}
			// Released: the local run gets it at once.
			release()
			rl, err := loc.Lock(ctx, lockFile, "the local run", 5*time.Second)
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			// And the SSH run waits for the local one.
			_, err = h.Lock(ctx, lockFile, "ssh", 200*time.Millisecond)
			if !errors.As(err, &le) || !strings.Contains(le.Holder, "process ") {
				t.Fatalf("SSH lock while the local run holds it: %v", err)
			}
			rl()
		})
	}

	t.Run("waiting ends with the context", func(t *testing.T) {
		release, err := loc.Lock(ctx, lockFile, "holder", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		h := dial(t, srv, false)
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = h.Lock(cctx, lockFile, "ssh", time.Hour)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
			t.Fatalf("cancelled wait: %v after %s", err, time.Since(start))
		}
	})

	t.Run("a dead holder's lock is free", func(t *testing.T) {
		h := dial(t, srv, false)
		if _, err := h.Lock(ctx, lockFile, "about to die", time.Second); err != nil {
			t.Fatal(err)
		}
		h.Close() // the connection drops, as when mailplan is killed
		rl, err := loc.Lock(ctx, lockFile, "next run", 10*time.Second)
		if err != nil {
			t.Fatalf("the dead holder's lock was not freed: %v", err)
		}
		rl()
	})

	t.Run("many runs at once take turns", func(t *testing.T) {
		var mu sync.Mutex
		inside, most := 0, 0
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var h transport.Host = loc
				if i%2 == 0 {
					h = dial(t, srv, i%4 == 0)
				}
				release, err := transport.HostLock(resource.WithLockTimeout(ctx, 30*time.Second), h, lockFile)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				inside++
				most = max(most, inside)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				inside--
				mu.Unlock()
				release()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if most != 1 {
			t.Errorf("%d runs held the lock at once", most)
		}
	})
}

func holderOf(le *transport.LockedError) string {
	if le == nil {
		return ""
	}
	return le.Holder
}

// The lock leaves the directory as it was: nothing is created in it.
func TestHostLockLeavesNothing(t *testing.T) {
	srv := testbed.SSHD(t)
	dir := t.TempDir()
	h := dial(t, srv, false)
	release, err := transport.HostLock(context.Background(), h, dir)
	if err != nil {
		t.Fatal(err)
	}
	release()
	rl, err := local.New("here", hclog.NewNullLogger()).Lock(context.Background(), dir, "x", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rl()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("the locked directory holds %v (%v), want nothing", entries, err)
	}
}
