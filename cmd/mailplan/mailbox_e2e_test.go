package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/resources/testbed"
)

// What IMAP clients see of a user's mail: every mailbox with its counts,
// UIDVALIDITY, UIDNEXT and each message's UID, flags and GUID.
type imapView struct {
	Messages    int
	UIDValidity uint32
	UIDNext     uint32
	UIDs        []testbed.IMAPMessage
}

func viewOf(t *testing.T, d *testbed.DovecotServer, user string) map[string]imapView {
	t.Helper()
	out := map[string]imapView{}
	for _, mb := range d.Mailboxes(t, user) {
		if mb == "Archive" {
			continue // a parent without a directory of its own; status would create it
		}
		n, v, next := d.Status(t, user, mb)
		out[mb] = imapView{n, v, next, d.UIDs(t, user, mb)}
	}
	return out
}

// mailbox_copy through the CLI, source over SSH, destination local (the
// recommended deployment): IMAP on the destination shows the same
// folders, counts, flags, UIDVALIDITY and UIDs as Dovecot on the source,
// and no folder of mailplan's own.
func TestMailboxCopyKeepsIMAPView(t *testing.T) {
	srv := testbed.SSHD(t)
	src, dst := testbed.SearchableTempDir(t), testbed.SearchableTempDir(t)
	users := []string{"alice", "bob"}
	// The source as Dovecot on the old server made it.
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	testbed.MakeCorpus(t, testbed.CorpusOptions{Root: src, Users: users, Messages: 300, Seed: 7, MaxSize: 2 << 20, Owner: uid, Group: gid})
	probe := testbed.Dovecot(t, testbed.DovecotOptions{MailRoot: src, Users: users})
	if probe.UID != uid || probe.GID != gid {
		t.Fatalf("the test bed's Dovecot reads mail as %d:%d, not nobody", probe.UID, probe.GID)
	}
	want := map[string]map[string]imapView{}
	for _, u := range users {
		want[u] = viewOf(t, probe, u)
	}

	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	dir := t.TempDir()
	plan := "\n" + sshHostBlock("old", srv.Host) + fmt.Sprintf(`host "new" {
  transport = "local"
}
resource "mailbox_copy" "all" {
  from        = host.old
  to          = host.new
  source      = %q
  destination = %q
  owner       = "%d"
  group       = "%d"
  verify      = "sha256"
}
`, src, dst, probe.UID, probe.GID)
	write(t, filepath.Join(dir, "main.mp.hcl"), plan)
	code, out, errs := runCLI(t, dir, "apply", "-auto-approve")
	os.Chdir(wd)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "mailbox_copy.all") {
		t.Errorf("apply output:\n%s", out)
	}

	d := testbed.Dovecot(t, testbed.DovecotOptions{MailRoot: dst, Users: users})
	for _, u := range users {
		got := viewOf(t, d, u)
		if diff := cmp.Diff(want[u], got); diff != "" {
			t.Errorf("%s: IMAP at the destination differs from the source (-source +destination):\n%s", u, diff)
		}
		for mb := range got {
			if strings.Contains(mb, "mailplan") {
				t.Errorf("%s: mailplan's own directory shows as the folder %q", u, mb)
			}
		}
	}
	// A real IMAP session sees the same UIDVALIDITY.
	sel := d.IMAPSelect(t, "alice", "INBOX")
	if sel.UIDValidity != want["alice"]["INBOX"].UIDValidity || sel.Exists != want["alice"]["INBOX"].Messages {
		t.Errorf("IMAP SELECT INBOX: uidvalidity %d exists %d, want %d and %d", sel.UIDValidity, sel.Exists,
			want["alice"]["INBOX"].UIDValidity, want["alice"]["INBOX"].Messages)
	}
}
