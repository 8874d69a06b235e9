package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDovecotOptionsChecked(t *testing.T) {
	for _, o := range []DovecotOptions{
		{Addr: "192.0.2.1"},
		{Users: []string{"Bad User"}},
		{Password: "a:b"},
		{Dir: "/tmp/has space"},
		{Domains: []string{"nodot"}},
		{Domains: []string{"example.org", "example.org"}},
		{Users: []string{"erin@example.org"}},
	} {
		if d, err := StartDovecot(o); err == nil {
			d.Close()
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestMUTF7(t *testing.T) {
	for utf8, mutf7 := range map[string]string{
		"Café": "Caf&AOk-", "INBOX": "INBOX", "a&b": "a&-b", "日本語": "&ZeVnLIqe-", "My Folder": "My Folder",
	} {
		if got := EncodeMUTF7(utf8); got != mutf7 {
			t.Errorf("EncodeMUTF7(%q) = %q, want %q", utf8, got, mutf7)
		}
		if got := decodeMUTF7(mutf7); got != utf8 {
			t.Errorf("decodeMUTF7(%q) = %q, want %q", mutf7, got, utf8)
		}
	}
}

// TestDovecotServesCorpus serves a generated corpus: doveadm and IMAP
// see the folders, counts, flags and the UIDs of Dovecot's own
// dovecot-uidlist.
func TestDovecotServesCorpus(t *testing.T) {
	if err := CheckDovecotAvailable(); err != nil {
		skipOrFatal(t, err)
	}
	uid, gid, err := lookupIDs(mailboxUser)
	if err != nil {
		t.Fatal(err)
	}
	c := MakeCorpus(t, CorpusOptions{Messages: 300, Seed: 11, MaxSize: 2 << 20, Owner: uid, Group: gid})
	d := Dovecot(t, DovecotOptions{MailRoot: c.Root})
	if d.UID != uid || d.GID != gid {
		t.Fatalf("mail user %d:%d, corpus owned by %d:%d", d.UID, d.GID, uid, gid)
	}
	want := []string{"Archive", "Archive.2024", "Archive.2024.Q1", "Café", "Drafts", "INBOX", "My Folder", "Sent", "Trash"}
	if got := d.Mailboxes(t, "alice"); !reflect.DeepEqual(got, want) {
		t.Errorf("mailboxes %q, want %q", got, want)
	}
	total := 0
	for _, u := range c.Users {
		for _, mb := range want {
			if mb == "Archive" {
				continue // \NoSelect: no directory of its own
			}
			n, uidvalidity, uidnext := d.Status(t, u, mb)
			total += n
			dir := d.Maildir(u)
			if mb != "INBOX" {
				dir = filepath.Join(dir, "."+EncodeMUTF7(mb))
			}
			uidlist, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
			if err != nil {
				t.Fatal(err)
			}
			head, entries, _ := strings.Cut(string(uidlist), "\n")
			if !strings.HasPrefix(head, "3 V"+itoa(int(uidvalidity))+" ") {
				t.Errorf("%s %s: UIDVALIDITY %d, dovecot-uidlist %q", u, mb, uidvalidity, head)
			}
			if uidnext != uint32(n+1) {
				t.Errorf("%s %s: %d messages, UIDNEXT %d", u, mb, n, uidnext)
			}
			// Every message's UID is the one the corpus's uidlist gave it.
			msgs := d.UIDs(t, u, mb)
			if len(msgs) != n {
				t.Fatalf("%s %s: %d UIDs, %d messages", u, mb, len(msgs), n)
			}
			for _, m := range msgs {
				if !strings.Contains(entries, itoa(int(m.UID))+" :"+m.GUID+"\n") && !strings.Contains(entries, itoa(int(m.UID))+" "+m.GUID+"\n") {
					t.Errorf("%s %s: UID %d %s not in dovecot-uidlist", u, mb, m.UID, m.GUID)
				}
			}
		}
	}
	if total != c.Messages {
		t.Errorf("Dovecot counts %d messages, the corpus has %d", total, c.Messages)
	}

	// A real IMAP session sees what doveadm sees.
	for _, mb := range []string{"INBOX", "Café", "My Folder", "Archive.2024.Q1"} {
		before := d.UIDs(t, "bob", mb)
		n, uidvalidity, uidnext := d.Status(t, "bob", mb)
		got := d.IMAPSelect(t, "bob", mb)
		if !reflect.DeepEqual(got.Mailboxes, want) {
			t.Errorf("IMAP LIST %q, want %q", got.Mailboxes, want)
		}
		if got.Exists != n || got.UIDValidity != uidvalidity || got.UIDNext != uidnext {
			t.Errorf("IMAP SELECT %s: %d/%d/%d, doveadm %d/%d/%d", mb, got.Exists, got.UIDValidity, got.UIDNext, n, uidvalidity, uidnext)
		}
		if !reflect.DeepEqual(got.Messages, before) {
			t.Errorf("IMAP %s: messages differ from doveadm's:\n%v\n%v", mb, got.Messages, before)
		}
	}
}

func TestDovecotClose(t *testing.T) {
	if err := CheckDovecotAvailable(); err != nil {
		skipOrFatal(t, err)
	}
	d, err := StartDovecot(DovecotOptions{Addr: "127.0.0.5", Users: []string{"erin"}, Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	master := d.proc
	procs := tree(master.PID, master.StartTime)
	if len(procs) < 2 {
		t.Errorf("dovecot runs %d processes", len(procs))
	}
	// A fresh user gets an empty INBOX over IMAP.
	mb := d.IMAPSelect(t, "erin", "INBOX")
	if mb.Exists != 0 || mb.UIDValidity == 0 || !reflect.DeepEqual(mb.Mailboxes, []string{"INBOX"}) {
		t.Errorf("fresh user: %+v", mb)
	}
	if _, err := d.imapSelect("erin", "Nope"); err == nil {
		t.Error("SELECT of a missing mailbox succeeded")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, p := range procs {
		if p.alive() {
			t.Errorf("PID %d still runs after Close", p.pid)
		}
	}
	if d.Running() {
		t.Error("Running after Close")
	}
	if _, err := os.Stat(d.Dir); !os.IsNotExist(err) {
		t.Errorf("%s: %v", d.Dir, err)
	}
	if err := d.greeting(); err == nil {
		t.Error("IMAP still served after Close")
	}
}

// TestDovecotStoppedService: a Dovecot set up Stopped is started, checked
// and stopped by the commands a plan's service_state uses, and Close stops
// the copy started that way.
func TestDovecotStoppedService(t *testing.T) {
	if err := CheckDovecotAvailable(); err != nil {
		skipOrFatal(t, err)
	}
	root := filepath.Join(SearchableTempDir(t), "example.com")
	d, err := StartDovecot(DovecotOptions{Addr: "127.0.0.5", Users: []string{"erin"}, MailRoot: root, MaildirIsHome: true, Stopped: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Running() || d.greeting() == nil {
		t.Fatal("a Stopped Dovecot runs")
	}
	start, stop, status := d.Service()
	run := func(argv []string) error { return exec.Command(argv[0], argv[1:]...).Run() }
	if run(status) == nil {
		t.Error("status succeeds before start")
	}
	if err := run(start); err != nil {
		t.Fatalf("%v: %v", start, err)
	}
	waitFor(t, func() bool { return d.greeting() == nil }, "IMAP greeting after start")
	if err := run(status); err != nil || !d.Running() {
		t.Errorf("after start: status %v, Running %v", err, d.Running())
	}
	if got := d.Maildir("erin"); got != filepath.Join(root, "erin") {
		t.Errorf("Maildir = %s", got)
	}
	if mb := d.IMAPSelect(t, "erin", "INBOX"); mb.UIDValidity == 0 {
		t.Errorf("INBOX: %+v", mb)
	}
	if _, err := os.Stat(filepath.Join(root, "erin", "cur")); err != nil {
		t.Errorf("the home is not the Maildir: %v", err)
	}
	if err := run(stop); err != nil {
		t.Fatalf("%v: %v", stop, err)
	}
	waitFor(t, func() bool { return run(status) != nil }, "status failing after stop")
	if err := run(start); err != nil {
		t.Fatalf("start again: %v", err)
	}
	waitFor(t, func() bool { return d.greeting() == nil }, "IMAP greeting after the second start")
	pr, ok := d.Process()
	if !ok {
		t.Fatal("Process: not running")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if pr.Running() || d.greeting() == nil {
		t.Error("Dovecot started by its start command still runs after Close")
	}
}

// TestDovecotDomains: with Domains, Dovecot over a Postfix
// virtual_mailbox_base serves USER@DOMAIN for every domain, each its own
// Maildir, and a bare USER as the first domain's.
func TestDovecotDomains(t *testing.T) {
	if err := CheckDovecotAvailable(); err != nil {
		skipOrFatal(t, err)
	}
	p := Postfix(t, PostfixOptions{Name: "new", Addr: "127.0.0.5", ExtraDomains: []string{"example.org"}})
	d := Dovecot(t, DovecotOptions{Addr: "127.0.0.5", Users: p.Users, MailRoot: p.MailDir, Domains: p.Domains, MaildirIsHome: true})
	id := uniqueID(t)
	if out, err := Swaks(t, p.SMTPAddr(), "sender@example.net", "alice@example.org", map[string]string{"Subject": id}, id); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		entries, _ := os.ReadDir(filepath.Join(p.MaildirIn("example.org", "alice"), "new"))
		if len(entries) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery to alice@example.org: %d files", len(entries))
		}
		time.Sleep(25 * time.Millisecond)
	}
	if got, want := d.Maildir("alice@example.org"), p.MaildirIn("example.org", "alice"); got != want {
		t.Errorf("Maildir(alice@example.org) = %s, want %s", got, want)
	}
	if got, want := d.Maildir("alice"), p.MaildirIn("example.com", "alice"); got != want {
		t.Errorf("Maildir(alice) = %s, want %s", got, want)
	}
	for login, want := range map[string]int{"alice@example.org": 1, "alice@example.com": 0, "alice": 0, "bob@example.org": 0} {
		if mb := d.IMAPSelect(t, login, "INBOX"); mb.Exists != want {
			t.Errorf("IMAP as %s: %d messages, want %d", login, mb.Exists, want)
		}
	}
	if n, _, _ := d.Status(t, "alice@example.org", "INBOX"); n != 1 {
		t.Errorf("doveadm as alice@example.org: %d messages, want 1", n)
	}
	if _, err := d.imapSelect("alice@example.net", "INBOX"); err == nil {
		t.Error("a login in a domain not served succeeded")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
