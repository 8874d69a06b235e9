package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// TestSeedRunbook1 runs plans/examples/seed-runbook-1 on the test bed as
// the runbook reads: the shadow copy first (mail sent then reaches both
// servers), then, in a second apply, Postfix and Dovecot stopped on both
// servers while the mailboxes are copied, both started again, DNS
// switched. At the end every message is on the new server exactly once,
// in the right mailbox, and each service is in the state the plan says.
func TestSeedRunbook1(t *testing.T) {
	bed := startTestBedCLI(t)
	dir := filepath.Join(filepath.Dir(bed.planDir), "seed-runbook-1")
	newPF := func(verb string) string {
		return fmt.Sprintf("[\"postfix\", \"-c\", %q, %q]", bed.env["NEW_CONFIG_DIR"], verb)
	}
	extra := filepath.Join(t.TempDir(), "new-postfix.vars.hcl")
	if err := os.WriteFile(extra, []byte(fmt.Sprintf("new_postfix = {\n  name    = \"postfix-new\"\n  manager = \"command\"\n  start   = %s\n  stop    = %s\n  status  = %s\n}\n",
		newPF("start"), newPF("stop"), newPF("status"))), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := []string{"-var-file=" + bed.varFile, "-var-file=" + extra}

	send := func(id, to string) {
		t.Helper()
		if out, err := testbed.Swaks(t, bed.env["OLD_SMTP"], "news@example.net", to,
			map[string]string{zeroLossHeader: id, "Subject": id}, "runbook 1\n"); err != nil {
			t.Fatalf("send %s: %v\n%s", id, err, out)
		}
	}
	waitFor := func(side string, want map[string]string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got := bed.delivered(t, side)
			missing := 0
			for id := range want {
				if len(got[id]) == 0 {
					missing++
				}
			}
			if missing == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d messages never reached the %s server", missing, len(want), side)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Mail the old server has before anything starts.
	sent := map[string]string{}
	for _, u := range bed.users {
		for i := range 2 {
			id := fmt.Sprintf("before-%s-%d", u, i)
			send(id, u)
			sent[id] = u
		}
	}
	waitFor("OLD", sent)

	// 1. The shadow copy.
	code, out, errs := runCLI(t, dir, append([]string{"apply", "-auto-approve"}, vars...)...)
	if code != 0 {
		t.Fatalf("apply (shadow): exit %d\n%s\n%s", code, out, errs)
	}
	shadowed := map[string]string{}
	for _, u := range bed.users {
		id := "shadow-" + u
		send(id, u)
		sent[id], shadowed[id] = u, u
	}
	waitFor("OLD", shadowed)
	waitFor("NEW", shadowed)

	// 2-5. The window, the copy, the start, DNS.
	code, out, errs = runCLI(t, dir, "plan", "-var", "cutover=true", vars[0], vars[1])
	if code != 0 {
		t.Fatalf("plan (cutover): exit %d\n%s\n%s", code, out, errs)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{`service_window.stopped["old_postfix"]`, "stop postfix-old (command), start it again after; covers 1 change", fmt.Sprintf("replace %d shadow copies with the source's (its flags and UIDs)", len(shadowed))} {
		if !strings.Contains(flat, want) {
			t.Errorf("the cutover plan does not say %q:\n%s", want, out)
		}
	}
	// What IMAP clients see on the old server before the cutover: the
	// same messages, with the same UIDs, must be on the new one after.
	imapUsers := []string{"alice@" + bed.env["DOMAIN"], "bob@example.org"}
	oldView := map[string]testbed.IMAPMailbox{}
	for _, u := range imapUsers {
		mb, err := testbed.IMAPSelectAt(bed.env["OLD_IMAP_ADDR"]+":"+bed.env["OLD_IMAP_PORT"], u, bed.env["IMAP_PASSWORD"], "INBOX")
		if err != nil {
			t.Fatalf("IMAP on the old server as %s: %v", u, err)
		}
		oldView[u] = mb
	}

	// Killed inside the window (SIGKILL once the old Postfix is down),
	// then rolled back: every service as it was found, no copy left on
	// the new server, the MX still at the old one.
	killedInWindow(t, bed, dir, append([]string{"apply", "-auto-approve", "-var", "cutover=true"}, vars...))
	code, out, errs = runCLI(t, dir, append([]string{"rollback", "-auto-approve"}, vars...)...)
	if code != 0 {
		t.Fatalf("rollback after the kill: exit %d\n%s\n%s", code, out, errs)
	}
	bed.checkMX(t, "old", "after the rollback")
	checkServices(t, bed, map[string]bool{"old Postfix": true, "new Postfix": true, "old Dovecot": true, "new Dovecot": false})
	for id, u := range bed.delivered(t, "NEW") {
		if strings.HasPrefix(id, "before-") {
			t.Errorf("%s is still on the new server (%v) after the rollback", id, u)
		}
	}

	start := time.Now()
	code, out, errs = runCLI(t, dir, append([]string{"apply", "-auto-approve", "-var", "cutover=true"}, vars...)...)
	if code != 0 {
		t.Fatalf("apply (cutover): exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("cutover apply took %s", time.Since(start).Round(time.Millisecond))
	lines := strings.Split(out, "\n")
	idx := func(prefix, what string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, what) {
				return i
			}
		}
		t.Errorf("the apply output has no line %q … %q:\n%s", prefix, what, out)
		return -1
	}
	copyDone := idx("mailbox_copy.all[0]", "complete")
	for _, svc := range []string{"old_postfix", "old_imap", "new_postfix", "new_imap"} {
		addr := fmt.Sprintf("service_window.stopped[%q]", svc)
		if open, closed := idx(addr, "Modifying"), idx(addr, "Closing the window"); open > copyDone || closed < copyDone {
			t.Errorf("%s: opened at line %d, closed at %d, the copy done at %d", addr, open, closed, copyDone)
		}
	}

	for _, want := range []string{`dns_check.mx_visible["example.com"]`, `smtp_probe.lands_on_new["example.org"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("the cutover apply does not check %s", want)
		}
	}
	bed.checkMX(t, "new", "after the cutover")
	bed.waitQueueEmpty(t, "OLD")
	bed.waitQueueEmpty(t, "NEW")
	onNew := bed.delivered(t, "NEW")
	for id, u := range sent {
		if got := onNew[id]; len(got) != 1 || got[0] != u {
			t.Errorf("%s on the new server: %v, want once in %s", id, got, u)
		}
	}
	checkServices(t, bed, map[string]bool{"old Postfix": true, "new Postfix": true, "old Dovecot": true, "new Dovecot": true})
	for _, u := range imapUsers {
		mb, err := testbed.IMAPSelectAt(bed.env["NEW_IMAP_ADDR"]+":"+bed.env["NEW_IMAP_PORT"], u, bed.env["IMAP_PASSWORD"], "INBOX")
		if err != nil {
			t.Fatalf("IMAP on the new server as %s: %v", u, err)
		}
		old := oldView[u]
		if mb.UIDValidity != old.UIDValidity {
			t.Errorf("%s: UIDVALIDITY %d on the new server, %d on the old", u, mb.UIDValidity, old.UIDValidity)
		}
		uids := map[string]uint32{}
		for _, m := range old.Messages {
			uids[m.GUID] = m.UID
		}
		for _, m := range mb.Messages {
			if uid, ok := uids[m.GUID]; !ok || uid != m.UID {
				t.Errorf("%s: message %s has UID %d on the new server; on the old: %d (there: %v)", u, m.GUID, m.UID, uid, ok)
			}
			delete(uids, m.GUID)
		}
		if len(uids) > 0 || len(mb.Messages) != len(old.Messages) {
			t.Errorf("%s: %d messages over IMAP on the new server, %d on the old; missing %v", u, len(mb.Messages), len(old.Messages), uids)
		}
	}
	code, out, errs = runCLI(t, dir, "plan", "-detailed-exitcode", "-var", "cutover=true", vars[0], vars[1])
	if code == 1 {
		t.Errorf("plan after the cutover: exit %d\n%s\n%s", code, out, errs)
	}
}

// checkServices checks that each of the test bed's Postfix and Dovecot
// instances runs, or not, as want says.
func checkServices(t *testing.T, bed *cliBed, want map[string]bool) {
	t.Helper()
	for name, running := range want {
		side, what, _ := strings.Cut(name, " ")
		side = strings.ToUpper(side)
		var err error
		switch what {
		case "Postfix":
			var out []byte
			out, err = exec.Command(testbed.RequireSbin(t, "postfix"), "-c", bed.env[side+"_CONFIG_DIR"], "status").CombinedOutput()
			if err != nil {
				err = fmt.Errorf("%v: %s", err, out)
			}
		case "Dovecot":
			err = testbed.IMAPGreeting(bed.env[side+"_IMAP_ADDR"] + ":" + bed.env[side+"_IMAP_PORT"])
		}
		if running && err != nil {
			t.Errorf("%s is not running: %v", name, err)
		}
		if !running && err == nil {
			t.Errorf("%s is running", name)
		}
	}
}

// killedInWindow runs mailplan with args in dir as a process of its own
// and SIGKILLs it as soon as the old Postfix is down: inside the
// maintenance window, as a power loss would.
func killedInWindow(t *testing.T, bed *cliBed, dir string, args []string) {
	t.Helper()
	bin, err := exec.LookPath("mailplan")
	if err != nil {
		t.Fatalf("the mailplan command TestMain sets up: %v", err)
	}
	cmd := exec.Command(bin, append([]string{"-no-color"}, args...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	postfix := testbed.RequireSbin(t, "postfix")
	deadline := time.Now().Add(2 * time.Minute)
	for exec.Command(postfix, "-c", bed.env["OLD_CONFIG_DIR"], "status").Run() == nil {
		select {
		case err := <-done:
			t.Fatalf("mailplan ended (%v) before the old Postfix stopped:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("the old Postfix never stopped:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-done
	t.Logf("killed inside the window; its output so far:\n%s", out.String())
}
