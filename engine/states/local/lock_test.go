package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mailplan/mailplan/engine/states"
)

// helperEnv makes the test binary, re-executed, hold the lock on the state
// file it names: it prints "locked", then waits for its stdin to close.
const helperEnv = "MAILPLAN_TEST_LOCK_HOLDER"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(holdLock(path))
	}
	os.Exit(m.Run())
}

func holdLock(path string) int {
	u, err := New(path, nil).Lock(context.Background(), states.LockInfo{Operation: "apply"})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	if err := u.Unlock(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

// startHolder runs a second process that takes the lock.
func startHolder(t *testing.T, path string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return cmd, stdin
}

func lockedBy(t *testing.T, err error) states.LockInfo {
	t.Helper()
	var le *states.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *states.LockedError", err)
	}
	return le.Holder
}

func TestLockInProcess(t *testing.T) {
	b := newBackend(t)
	u, err := b.Lock(ctx, states.LockInfo{Operation: "plan"})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()

	// Another backend on the same file, and the same backend again: both
	// must fail at once, naming the holder.
	for _, other := range []*Backend{New(b.Path(), nil), b} {
		start := time.Now()
		_, err := other.Lock(ctx, states.LockInfo{Operation: "apply"})
		if d := time.Since(start); d > time.Second {
			t.Errorf("Lock took %v to fail", d)
		}
		holder := lockedBy(t, err)
		want := states.LockInfo{Operation: "plan", PID: os.Getpid(), Host: host}
		if diff := cmp.Diff(want, holder, cmpopts.IgnoreFields(states.LockInfo{}, "ID", "Who", "Created")); diff != "" {
			t.Errorf("holder (-want +got):\n%s", diff)
		}
		if !strings.HasSuffix(holder.Who, "@"+host) || holder.ID == "" || time.Since(holder.Created) > time.Minute {
			t.Errorf("holder %+v: want who=user@host, an id and a recent time", holder)
		}
		var le *states.LockedError
		errors.As(err, &le)
		if le.Path != b.LockPath() {
			t.Errorf("LockedError.Path %q, want %q", le.Path, b.LockPath())
		}
		if !strings.Contains(err.Error(), "running plan since") {
			t.Errorf("message %q does not say what the holder is doing", err)
		}
	}

	if got := mode(t, b.LockPath()); got != 0o600 {
		t.Errorf("lock file mode %v, want 0600", got)
	}
	if err := u.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := u.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	if data, _ := os.ReadFile(b.LockPath()); len(data) != 0 {
		t.Errorf("lock file after Unlock holds %q", data)
	}
	u2, err := New(b.Path(), nil).Lock(ctx, states.LockInfo{Operation: "apply", Who: "ci@runner"})
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	defer u2.Unlock()
	_, err = b.Lock(ctx, states.LockInfo{})
	if got := lockedBy(t, err).Who; got != "ci@runner" {
		t.Errorf("holder who %q, want the caller's", got)
	}
}

func TestLockCancelledContext(t *testing.T) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := newBackend(t).Lock(c, states.LockInfo{}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestLockOtherProcess(t *testing.T) {
	b := newBackend(t)
	cmd, stdin := startHolder(t, b.Path())

	_, err := b.Lock(ctx, states.LockInfo{Operation: "plan"})
	holder := lockedBy(t, err)
	if holder.PID != cmd.Process.Pid || holder.Operation != "apply" {
		t.Errorf("holder %+v, want pid %d running apply", holder, cmd.Process.Pid)
	}

	// The holder unlocks and exits normally.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	u, err := b.Lock(ctx, states.LockInfo{Operation: "plan"})
	if err != nil {
		t.Fatalf("Lock after the holder unlocked: %v", err)
	}
	u.Unlock()
}

func TestLockHolderCrash(t *testing.T) {
	b := newBackend(t)
	cmd, _ := startHolder(t, b.Path())
	if _, err := b.Lock(ctx, states.LockInfo{}); err == nil {
		t.Fatal("locked while another process holds the lock")
	}
	// SIGKILL: no Unlock runs, the kernel releases the flock.
	cmd.Process.Kill()
	cmd.Wait()
	u, err := b.Lock(ctx, states.LockInfo{Operation: "apply"})
	if err != nil {
		t.Fatalf("Lock after the holder crashed: %v", err)
	}
	defer u.Unlock()
	// The dead holder's info was replaced by ours.
	_, err = New(b.Path(), nil).Lock(ctx, states.LockInfo{})
	if got := lockedBy(t, err).PID; got != os.Getpid() {
		t.Errorf("holder pid %d, want ours (%d)", got, os.Getpid())
	}
}

func TestLockBlocksOtherProcess(t *testing.T) {
	// The reverse direction: while we hold the lock, a second process
	// fails to take it.
	b := newBackend(t)
	u, err := b.Lock(ctx, states.LockInfo{Operation: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Unlock()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+b.Path())
	out, err := cmd.Output()
	if err == nil || !strings.HasPrefix(string(out), "error: the state is locked by ") ||
		!strings.Contains(string(out), fmt.Sprintf("(pid %d,", os.Getpid())) {
		t.Errorf("second process: %v, %q", err, out)
	}
}
