package main

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// copyTree copies src to dst (regular files and directories only).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshotDir reads every regular file under dir, for byte comparisons.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			out[strings.TrimPrefix(p, dir)] = string(b)
		}
		return nil
	})
	return out
}

// shadowBed is plans/examples/shadow-copy copied into a test's directory,
// with a test bed sshd, the old Postfix it changes over SSH, the new
// server its copies go to, and a var file naming them.
type shadowBed struct {
	t            *testing.T
	srv          *testbed.SSHServer
	oldPF, newPF *testbed.PostfixInstance
	wd           string // the test's working directory, restored after each command
	dir          string // the example's copy, where mailplan runs
	varFile      string
}

// newShadowBed starts sshd and the old Postfix (127.0.0.2), and the new
// one (127.0.0.3) when startNew; otherwise only the new server's address
// is given, for tests whose copies never leave the old server.
func newShadowBed(t *testing.T, startNew bool) *shadowBed {
	t.Helper()
	b := &shadowBed{t: t, srv: testbed.SSHD(t)}
	b.oldPF = testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.2"})
	if startNew {
		b.newPF = testbed.Postfix(t, testbed.PostfixOptions{Name: "new", Addr: "127.0.0.3"})
	} else {
		b.newPF = &testbed.PostfixInstance{Addr: "127.0.0.3", Port: 2525}
	}
	b.wd, _ = os.Getwd()
	t.Cleanup(func() { os.Chdir(b.wd) })
	work := t.TempDir()
	copyTree(t, filepath.Join(b.wd, "..", "..", "plans"), filepath.Join(work, "plans"))
	b.dir = filepath.Join(work, "plans", "examples", "shadow-copy")
	b.varFile = filepath.Join(work, "test.mpvars.hcl")
	return b
}

// vars is the var file's text for the domains (testbed.ShadowCopyVars).
func (b *shadowBed) vars(domains ...string) string {
	return testbed.ShadowCopyVars(b.srv.Host, b.oldPF, b.newPF, domains...)
}

// writeVars writes the var file.
func (b *shadowBed) writeVars(text string) {
	b.t.Helper()
	if err := os.WriteFile(b.varFile, []byte(text), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// run runs mailplan with args and the var file in the example's copy.
func (b *shadowBed) run(args ...string) (code int, stdout, stderr string) {
	b.t.Helper()
	code, stdout, stderr = runCLI(b.t, b.dir, append(args, "-var-file="+b.varFile)...)
	os.Chdir(b.wd)
	return code, stdout, stderr
}

// step is run that fails the test unless mailplan exits with want; it
// returns stdout and stderr together, and how long the command took.
func (b *shadowBed) step(want int, args ...string) (string, time.Duration) {
	b.t.Helper()
	start := time.Now()
	code, out, errs := b.run(args...)
	took := time.Since(start)
	if code != want {
		b.t.Fatalf("mailplan %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errs)
	}
	return out + errs, took
}

// The seed runbook end to end, against real Postfix instances reached over
// a real sshd: after apply, mail for user@example.com at the old server
// lands at the old and the new server (addressed to user@example.com);
// with the new server down, the old one still delivers and the sender gets
// no bounce; after rollback, the old configuration is byte-identical and
// mail lands only at the old server.
func TestShadowCopyRunbook(t *testing.T) {
	bed := newShadowBed(t, true)
	oldPF, newPF, step := bed.oldPF, bed.newPF, bed.step

	// An existing transport table that must survive apply and rollback.
	existing := filepath.Join(oldPF.ConfigDir, "transport")
	os.WriteFile(existing, []byte("legacy.example smtp:[127.0.0.9]\n"), 0o644)
	oldPF.Postmap(t, "hash:"+existing)
	oldPF.Postconf(t, "-e", "transport_maps = hash:"+existing)
	oldPF.Reload(t)
	before := snapshotDir(t, oldPF.ConfigDir)
	bed.writeVars(bed.vars("example.com", "example.org"))

	out, planTook := step(2, "plan", "-detailed-exitcode")
	for _, want := range []string{
		`module.shadow["example.com"].postfix_map.bcc will be created`,
		`module.shadow["example.org"].postfix_map.transport will be created`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q:\n%s", want, out)
		}
	}
	_, applyTook := step(0, "apply", "-auto-approve")
	t.Logf("shadow-copy over SSH: plan %v, apply %v", planTook.Round(time.Millisecond), applyTook.Round(time.Millisecond))
	if got := oldPF.Postconf(t, "-h", "transport_maps"); !strings.Contains(got, "hash:"+existing) {
		t.Errorf("the existing transport_maps entry was lost: %q", got)
	}
	step(0, "plan", "-detailed-exitcode")

	// Mail for the domain lands at both servers.
	send := func(id string) {
		t.Helper()
		if out, err := testbed.Swaks(t, oldPF.SMTPAddr(), "alice@example.com", "user@example.com",
			map[string]string{"Subject": "shadow " + id, "X-Test-Id": id}, "test "+id+"\n"); err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
	}
	send("copy-1")
	oldPF.WaitForMail(t, "user", "copy-1", 30*time.Second)
	copied := newPF.WaitForMail(t, "user", "copy-1", 30*time.Second)
	if !bytes.Contains(copied, []byte("Delivered-To: user@example.com\n")) && !bytes.Contains(copied, []byte("Delivered-To: user@example.com\r\n")) {
		t.Errorf("the copy at the new server is not addressed to user@example.com:\n%s", copied)
	}
	if bytes.Contains(copied, []byte("Delivered-To: user@example.com.migration")) {
		t.Errorf("the copy kept the .migration address:\n%s", copied)
	}

	// With the new server down, the old one still delivers; no bounce.
	newPF.Stop(t)
	send("down-1")
	oldPF.WaitForMail(t, "user", "down-1", 30*time.Second)
	time.Sleep(2 * time.Second)
	for _, m := range oldPF.Messages("alice") {
		t.Errorf("the sender got a message (a bounce?):\n%s", m)
	}
	newPF.Start(t)
	exec.Command("postqueue", "-c", oldPF.ConfigDir, "-f").Run()
	newPF.WaitForMail(t, "user", "down-1", 60*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for !oldPF.QueueEmpty(t) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}

	// Rollback: byte-identical configuration, mail only at the old server.
	step(0, "rollback", "-auto-approve")
	after := snapshotDir(t, oldPF.ConfigDir)
	for name, b := range before {
		if after[name] != b {
			t.Errorf("%s differs after rollback:\n--- before\n%s\n--- after\n%s", name, b, after[name])
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && !strings.Contains(name, "/.mailplan-snapshots/") {
			t.Errorf("%s was left behind by rollback", name)
		}
	}
	send("after-rollback")
	oldPF.WaitForMail(t, "user", "after-rollback", 30*time.Second)
	time.Sleep(2 * time.Second)
	for _, m := range newPF.Messages("user") {
		if bytes.Contains(m, []byte("after-rollback")) {
			t.Error("mail still copied to the new server after rollback")
		}
	}
}

// TestShadowCopyChecksMailboxes: with mailboxes listed, the shadow-copy
// module asks the new server for each before the copies start. A mailbox
// the new server does not have fails the apply, which changes nothing on
// the old server; with only mailboxes it has, the copies start.
func TestShadowCopyChecksMailboxes(t *testing.T) {
	bed := newShadowBed(t, true)
	oldPF := bed.oldPF
	before := snapshotDir(t, oldPF.ConfigDir)
	vars := bed.vars("example.com")
	write := func(mailboxes string) {
		t.Helper()
		bed.writeVars(strings.Replace(vars, `"example.com" = []`, `"example.com" = `+mailboxes, 1))
	}

	write(`["user", "ghost"]`)
	code, out, errs := bed.run("apply", "-auto-approve")
	flat := strings.Join(strings.Fields(out+errs), " ")
	if code != 1 || !strings.Contains(flat, `smtp_probe.mailbox_exists["ghost"]`) || !strings.Contains(flat, "550") {
		t.Fatalf("apply with a mailbox the new server lacks: exit %d, want 1 naming the probe and the 550 reply\n%s\n%s", code, out, errs)
	}
	if after := snapshotDir(t, oldPF.ConfigDir); !maps.Equal(before, after) {
		t.Errorf("the failed apply changed the old server's configuration")
	}

	write(`["user", "alice"]`)
	code, out, errs = bed.run("apply", "-auto-approve")
	if code != 0 {
		t.Fatalf("apply with mailboxes the new server has: exit %d\n%s\n%s", code, out, errs)
	}
	if got := oldPF.Postconf(t, "-h", "recipient_bcc_maps"); !strings.Contains(got, "example.com-recipient_bcc") {
		t.Errorf("the copies are not switched on: recipient_bcc_maps = %q", got)
	}
}
