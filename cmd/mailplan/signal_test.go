package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startMailplan starts the mailplan command TestMain put in $PATH, in dir,
// and returns it with its stderr; the test kills it if it still runs at
// the end.
func startMailplan(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	bin, err := exec.LookPath("mailplan")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-no-color"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "MAILPLAN_LOG=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &stderr
}

// waitExit waits up to limit for cmd to exit and returns its exit code and
// how long it took.
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), time.Since(start)
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("mailplan %s still ran %s later; killed", strings.Join(cmd.Args[1:], " "), limit)
		return 0, 0
	}
}

// localPlan writes a plan of one file on this machine into a new
// directory, and returns the directory and the file the plan manages.
func localPlan(t *testing.T) (dir, target string) {
	t.Helper()
	dir = t.TempDir()
	target = filepath.Join(dir, "out.txt")
	src := "host \"here\" {\n  transport = \"local\"\n}\n\nresource \"file\" \"f\" {\n  host    = host.here\n  path    = \"" + target + "\"\n  content = \"x\\n\"\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.mp.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, target
}

// TestInterruptDuringHungRead: SIGTERM and SIGINT stop a run that has not
// started changing hosts, even when it waits on a read nothing can
// interrupt: here the state file is a FIFO no one writes to, so opening it
// blocks for ever (before, "Interrupt received: stopping." was printed and
// mailplan went on waiting).
func TestInterruptDuringHungRead(t *testing.T) {
	for _, c := range []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		{"plan SIGTERM", syscall.SIGTERM, []string{"plan"}},
		{"plan SIGINT", syscall.SIGINT, []string{"plan"}},
		{"apply SIGTERM", syscall.SIGTERM, []string{"apply", "-auto-approve"}},
		{"destroy SIGINT", syscall.SIGINT, []string{"destroy", "-auto-approve"}},
		{"rollback SIGTERM", syscall.SIGTERM, []string{"rollback", "-auto-approve"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, target := localPlan(t)
			if err := os.Mkdir(filepath.Join(dir, ".mailplan"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(filepath.Join(dir, ".mailplan", "state.json"), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd, stderr := startMailplan(t, dir, c.args...)
			time.Sleep(500 * time.Millisecond) // into the read, most likely; earlier is fine too
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			code, took := waitExit(t, cmd, stopGrace+10*time.Second)
			t.Logf("exit %d %s after the signal", code, took.Round(time.Millisecond))
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr.String(), "Interrupt received: stopping.") || !strings.Contains(stderr.String(), "No host has been changed.") {
				t.Errorf("stderr:\n%s", stderr)
			}
			if _, err := os.Lstat(target); !os.IsNotExist(err) {
				t.Errorf("%s was written", target)
			}
		})
	}
}

// TestConfigNotRegular: a plan file or variable file that is a FIFO or
// /dev/zero is refused at once with file:1:1, instead of hanging or
// filling memory.
func TestConfigNotRegular(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(dir string) error
		args  []string
		where string
	}{
		{"plan file is a FIFO", func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "x.mp.hcl"), 0o644) }, []string{"validate"}, "x.mp.hcl:1:1"},
		{"plan file links to /dev/zero", func(dir string) error { return os.Symlink("/dev/zero", filepath.Join(dir, "zero.mp.hcl")) }, []string{"plan"}, "zero.mp.hcl:1:1"},
		{"-var-file=/dev/zero", func(string) error { return nil }, []string{"plan", "-var-file=/dev/zero"}, "/dev/zero:1:1"},
		{"-var-file is a FIFO", func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "v.tfvars"), 0o644) }, []string{"apply", "-auto-approve", "-var-file=v.tfvars"}, "v.tfvars:1:1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, target := localPlan(t)
			if err := c.setup(dir); err != nil {
				t.Fatal(err)
			}
			cmd, stderr := startMailplan(t, dir, c.args...)
			code, _ := waitExit(t, cmd, 30*time.Second)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), "Error: Not a regular file") || !strings.Contains(stderr.String(), c.where+": ") {
				t.Errorf("want Not a regular file at %s; stderr:\n%s", c.where, stderr)
			}
			if _, err := os.Lstat(target); !os.IsNotExist(err) {
				t.Errorf("%s was written", target)
			}
		})
	}
}
