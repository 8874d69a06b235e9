package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
)

// runCLI runs mailplan in dir and returns exit code, stdout and stderr.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	// -chdir changes the process's directory; put it back for the next run.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Chdir(wd); err != nil {
			t.Fatal(err)
		}
	}()
	code := run(append([]string{"-chdir=" + dir, "-no-color"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// sshHostBlock is a host block named name that reaches h (a test bed
// sshd's Host) over SSH.
func sshHostBlock(name string, h resource.Host) string {
	return fmt.Sprintf(`host %q {
  address       = %q
  port          = %d
  user          = %q
  identity_file = %q
  known_hosts   = %q
}
`, name, h.Address, h.Port, h.User, h.IdentityFile, h.KnownHosts)
}

func sshPlan(srv *testbed.SSHServer, knownHosts, target string) string {
	h := srv.Host
	h.KnownHosts = knownHosts
	return "\n" + sshHostBlock("remote", h) + fmt.Sprintf(`
variable "content" {
  type    = string
  default = "postmaster: root\n"
}

resource "file" "aliases" {
  host    = host.remote
  path    = %q
  content = var.content
  mode    = "0640"

  hook "after_apply" {
    host    = host.remote
    command = ["cp", %q, %q]
  }
}
`, target, target, target+".hooked")
}

// The file resource over SSH, end to end through the CLI: plan, apply with
// a hook on the remote host, no-op re-plan, update, rollback byte-identical,
// destroy restoring the original.
func TestFileOverSSH(t *testing.T) {
	srv := testbed.SSHD(t)
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	dir, data := t.TempDir(), t.TempDir()
	target := filepath.Join(data, "aliases")
	original := []byte("# the original aliases\nroot: admin\n")
	if err := os.WriteFile(target, original, 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "main.mp.hcl"), sshPlan(srv, srv.Host.KnownHosts, target))

	step := func(want int, args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, dir, args...)
		os.Chdir(wd)
		if code != want {
			t.Fatalf("mailplan %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s\nsshd log: %s", args, code, want, out, errs, srv.LogPath)
		}
		return out + errs
	}
	out := step(2, "plan", "-detailed-exitcode")
	if !strings.Contains(out, "file.aliases will be updated in-place") {
		t.Errorf("plan output:\n%s", out)
	}
	step(0, "apply", "-auto-approve")
	if b, _ := os.ReadFile(target); string(b) != "postmaster: root\n" {
		t.Errorf("after apply: %q", b)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if b, err := os.ReadFile(target + ".hooked"); err != nil || string(b) != "postmaster: root\n" {
		t.Errorf("after_apply hook did not run on the remote host: %v", err)
	}
	step(0, "plan", "-detailed-exitcode")
	step(0, "apply", "-auto-approve", "-var", "content=v2\n")
	step(0, "rollback", "-auto-approve")
	if b, _ := os.ReadFile(target); string(b) != "postmaster: root\n" {
		t.Errorf("after rollback: %q", b)
	}
	step(0, "destroy", "-auto-approve")
	b, _ := os.ReadFile(target)
	if !bytes.Equal(b, original) {
		t.Errorf("after destroy: %q, want the original", b)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode after destroy %v", fi.Mode())
	}
}

// A host key that is not in known_hosts stops the plan with an error that
// says how to add it, and nothing changes.
func TestSSHUnknownHostKeyRefused(t *testing.T) {
	srv := testbed.SSHD(t)
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	dir, data := t.TempDir(), t.TempDir()
	target := filepath.Join(data, "aliases")
	empty := filepath.Join(dir, "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	write(t, filepath.Join(dir, "main.mp.hcl"), sshPlan(srv, empty, target))
	code, out, errs := runCLI(t, dir, "apply", "-auto-approve")
	os.Chdir(wd)
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "ssh-keyscan") {
		t.Errorf("the error does not say how to add the key:\n%s", errs)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Error("a file was written despite the unknown host key")
	}
}
