package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/local"
)

const lockPlan = `host "local" {
  transport = "local"
}

resource "file" "x" {
  host    = host.local
  path    = "${path.module}/x.txt"
  content = "v2\n"
}
`

// TestLockedStateRefused holds the state lock, as a concurrent mailplan
// would, and checks that every command that takes it fails at once,
// naming the holder, and changes nothing.
func TestLockedStateRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"apply", []string{"apply", "-auto-approve"}},
		{"plan", []string{"plan"}},
		{"destroy", []string{"destroy", "-auto-approve"}},
		{"rollback", []string{"rollback", "-auto-approve"}},
		{"state rm", []string{"state", "rm", "file.x"}},
		{"state push", []string{"state", "push", "-force", ".mailplan/state.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "main.mp.hcl"), lockPlan)
			// A first apply of v1, so that there is a state and a last
			// apply to roll back; then the plan asks for v2.
			write(t, filepath.Join(dir, "x.txt"), "v1\n")
			mustRun(t, "-chdir="+dir, "apply", "-auto-approve")
			write(t, filepath.Join(dir, "x.txt"), "v1\n")
			t.Chdir(dir) // run chdirs the process; restore it afterwards.

			holder := states.LockInfo{Operation: "apply", Who: "alice@elsewhere", PID: 424242, Host: "elsewhere"}
			u, err := local.New(filepath.Join(dir, ".mailplan", "state.json"), nil).Lock(context.Background(), holder)
			if err != nil {
				t.Fatalf("Lock: %v", err)
			}
			defer u.Unlock()
			before := snapshot(t, dir)

			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(append([]string{"-chdir=" + dir}, tt.args...), strings.NewReader(""), &stdout, &stderr)
			took := time.Since(start)

			if code != 1 {
				t.Errorf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			for _, want := range []string{"locked", "pid 424242", "alice@elsewhere"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not name the holder (%q):\n%s", want, stderr.String())
				}
			}
			if took > 3*time.Second {
				t.Errorf("took %s to refuse; want at once", took)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("files changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestLockReleased checks that a command releases the lock when done, so
// that the next one runs.
func TestLockReleased(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.mp.hcl"), lockPlan)
	t.Chdir(dir)
	for _, args := range [][]string{{"plan"}, {"apply", "-auto-approve"}, {"plan"}} {
		mustRun(t, append([]string{"-chdir=" + dir}, args...)...)
	}
	u, err := local.New(filepath.Join(dir, ".mailplan", "state.json"), nil).Lock(context.Background(), states.LockInfo{Operation: "test"})
	if err != nil {
		t.Fatalf("the lock is still held after the commands: %v", err)
	}
	u.Unlock()
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	var stdout, stderr bytes.Buffer
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("mailplan %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot maps each regular file under dir, but the lock file, to its
// mode and content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".lock") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = info.Mode().String() + " " + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
