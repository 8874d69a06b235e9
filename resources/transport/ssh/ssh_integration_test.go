package ssh_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/local"
	mpssh "github.com/mailplan/mailplan/resources/transport/ssh"
	"github.com/mailplan/mailplan/resources/transport/transporttest"
)

func dial(t *testing.T, srv *testbed.SSHServer, sudo bool) *mpssh.Host {
	t.Helper()
	cfg := srv.Host
	cfg.Sudo = sudo
	h, err := mpssh.Dial(context.Background(), cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestHost(t *testing.T) {
	srv := testbed.SSHD(t)
	transporttest.CheckHost(t, dial(t, srv, false), t.TempDir())
}

// TestHostSudo drives the command-based file operations used with sudo.
func TestHostSudo(t *testing.T) {
	srv := testbed.SSHDWith(t, testbed.SSHDOptions{PathPrepend: []string{testbed.FakeSudo(t)}})
	h := dial(t, srv, true)
	res, err := h.Run(context.Background(), []string{"sh", "-c", `printf %s "$MAILPLAN_FAKE_SUDO"`}, transport.RunOptions{})
	if err != nil || string(res.Stdout) != "1" {
		t.Fatalf("command did not run under sudo: %q, %v", res.Stdout, err)
	}
	transporttest.CheckHost(t, h, t.TempDir())
}

func TestHostKeyRefused(t *testing.T) {
	srv := testbed.SSHD(t)
	port := strconv.Itoa(srv.Host.Port)
	hostPattern := knownhosts.Normalize(net.JoinHostPort("127.0.0.1", port))
	other := testbed.NewKey(t)
	tests := []struct {
		name       string
		knownHosts string // content; "" means no file
		want       []string
	}{
		{"no file", "", []string{"does not exist", "ssh-keyscan -p " + port + " 127.0.0.1 >> "}},
		{"unknown", knownhosts.Line([]string{"[127.0.0.1]:1"}, other) + "\n",
			[]string{"is not in", "ssh-keyscan -p " + port + " 127.0.0.1 >> "}},
		{"changed", knownhosts.Line([]string{hostPattern}, other) + "\n",
			[]string{"CHANGED", ssh.FingerprintSHA256(other), "ssh-keygen -f", "ssh-keyscan -p " + port + " 127.0.0.1 >> "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := srv.Host
			cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			if tt.knownHosts != "" {
				if err := os.WriteFile(cfg.KnownHosts, []byte(tt.knownHosts), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h, err := mpssh.Dial(context.Background(), cfg, hclog.NewNullLogger())
			if err == nil {
				h.Close()
				t.Fatal("Dial succeeded with an untrusted host key")
			}
			t.Logf("the error a user sees: %v", err)
			if !errors.Is(err, transport.ErrHostKey) {
				t.Errorf("error does not wrap ErrHostKey: %v", err)
			}
			want := append(tt.want, ssh.FingerprintSHA256(srv.HostKey), cfg.KnownHosts)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestRunConcurrent(t *testing.T) {
	srv := testbed.SSHD(t)
	h := dial(t, srv, false)
	// More commands at once than sessions allowed per connection.
	errs := make(chan error, 30)
	for i := range 30 {
		go func() {
			res, err := h.Run(context.Background(), []string{"echo", strconv.Itoa(i)}, transport.RunOptions{})
			if err == nil && string(res.Stdout) != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("echo %d printed %q", i, res.Stdout)
			}
			errs <- err
		}()
	}
	for range 30 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestStatFSSyncFS drives the optional FSStater and FSSyncer over SFTP and
// with sudo (df -P, sync -f).
func TestStatFSSyncFS(t *testing.T) {
	for _, sudo := range []bool{false, true} {
		opts := testbed.SSHDOptions{}
		if sudo {
			opts.PathPrepend = []string{testbed.FakeSudo(t)}
		}
		h := dial(t, testbed.SSHDWith(t, opts), sudo)
		dir := t.TempDir()
		free, err := h.StatFS(context.Background(), dir)
		if err != nil || free == 0 {
			t.Errorf("sudo=%v: StatFS = %d, %v", sudo, free, err)
		}
		if _, err := h.StatFS(context.Background(), filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("sudo=%v: StatFS of a missing path: %v", sudo, err)
		}
		if err := h.SyncFS(context.Background(), dir); err != nil {
			t.Errorf("sudo=%v: SyncFS: %v", sudo, err)
		}
	}
}

// A destination full of inodes or of bytes, over SFTP, is named as such
// (SFTP itself says only SSH_FX_FAILURE); StatInodes works over SFTP and
// with sudo (df -P -i).
func TestNoSpaceSFTP(t *testing.T) {
	ctx := context.Background()
	srv := testbed.SSHD(t)
	for _, sudo := range []bool{false, true} {
		opts := testbed.SSHDOptions{}
		if sudo {
			opts.PathPrepend = []string{testbed.FakeSudo(t)}
		}
		h := dial(t, testbed.SSHDWith(t, opts), sudo)
		dir := testbed.SmallFS(t, "1m", 64)
		free, known, err := h.StatInodes(ctx, dir)
		if err != nil || !known || free == 0 || free > 64 {
			t.Errorf("sudo=%v: StatInodes = %d, %v, %v; want 1..64, known", sudo, free, known, err)
		}
		if _, ok := transport.Confine(h, dir).(transport.InodeStater); !ok {
			t.Errorf("sudo=%v: a confined SSH host does not count inodes", sudo)
		}
	}
	h := dial(t, srv, false)

	t.Run("inodes", func(t *testing.T) {
		dir := testbed.SmallFS(t, "1m", 64)
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			err = h.WriteFile(ctx, filepath.Join(dir, fmt.Sprintf("m%d", i)), []byte("x"), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1})
		}
		var ns *transport.NoSpaceError
		if !errors.As(err, &ns) || !ns.InodesKnown || ns.FreeInodes != 0 || !strings.Contains(err.Error(), "no space left on "+h.Name()+":"+dir) {
			t.Fatalf("writing 100 files on 64 inodes: %v, want no space left naming 0 inodes", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		dir := testbed.SmallFS(t, "1m", 64)
		err := h.WriteFile(ctx, filepath.Join(dir, "big"), make([]byte, 2<<20), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1})
		var ns *transport.NoSpaceError
		if !errors.As(err, &ns) || !strings.Contains(err.Error(), "no space left on") {
			t.Fatalf("writing 2 MiB on 1 MiB: %v, want no space left", err)
		}
		w, err := h.Create(ctx, filepath.Join(dir, "streamed"), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Write(make([]byte, 2<<20))
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if !errors.As(err, &ns) {
			t.Fatalf("streaming 2 MiB on 1 MiB: %v, want no space left", err)
		}
	})
}

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
