package mailbox_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/testbed"
)

// shadowCopy delivers the message at srcFile to the Maildir dstMaildir
// again, as a shadow copy to the new server would (the old Postfix
// sending each message there too): under another file name in new/, with
// the headers the new server's delivery puts on top. It returns its path.
func shadowCopy(t testing.TB, srcFile, dstMaildir, name string) string {
	t.Helper()
	data, err := os.ReadFile(srcFile)
	must(t, err)
	for _, sub := range []string{"cur", "new", "tmp"} {
		must(t, os.MkdirAll(filepath.Join(dstMaildir, sub), 0o700))
	}
	p := filepath.Join(dstMaildir, "new", name)
	hdr := "Return-Path: <sender@example.org>\nDelivered-To: alice@example.com.migration\nReceived: from mx1.example.net by new.example.com (Postfix)\n"
	must(t, os.WriteFile(p, append([]byte(hdr), data...), 0o600))
	return p
}

// messageIDOf is the Message-ID header of the file at p, "" without one.
func messageIDOf(t testing.TB, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	must(t, err)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && sc.Text() != "" {
		if name, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.EqualFold(name, "Message-ID") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func nobody(t testing.TB) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody: ", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// byGUID maps each message file of the Maildir dir (new/ and cur/) by
// its base name, which is Dovecot's GUID of a Maildir message.
func byGUID(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(dir, sub))
		must(t, err)
		for _, e := range es {
			base, _, _ := strings.Cut(e.Name(), ":")
			out[base] = filepath.Join(dir, sub, e.Name())
		}
	}
	return out
}

// TestDedupeShadowCopy: the new server already holds, under its own file
// names, messages a shadow copy delivered there (with its own headers on
// top), and an exact copy of a message without a Message-ID. The copy
// skips these and copies the rest; IMAP on the destination shows every
// message once per folder, as many times as the source has it, and each
// copied message with the source's UID. A message of the same Message-ID
// in another folder, and a second one in the same folder, are copied. A
// re-run reads no header; a rollback leaves the shadow copies alone.
func TestDedupeShadowCopy(t *testing.T) {
	uid, gid := nobody(t)
	e := newEnv(t)
	e.src, e.dst = testbed.SearchableTempDir(t), filepath.Join(testbed.SearchableTempDir(t), "vmail")
	testbed.MakeCorpus(t, testbed.CorpusOptions{Root: e.src, Users: []string{"alice"}, Messages: 60, Seed: 21, MaxSize: 64 << 10, Owner: uid, Group: gid})
	inbox := filepath.Join(e.src, "alice", "Maildir")
	var msgs []string
	for _, sub := range []string{"cur", "new"} {
		m, _ := filepath.Glob(filepath.Join(inbox, sub, "*"))
		msgs = append(msgs, m...)
	}
	sort.Strings(msgs)
	if len(msgs) < 8 {
		t.Fatalf("the corpus has %d messages in alice's INBOX", len(msgs))
	}
	write := func(p string, data []byte) {
		must(t, os.WriteFile(p, data, 0o600))
		must(t, os.Chown(p, uid, gid))
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		must(t, err)
		return b
	}
	// At the source: a message without a Message-ID, the first message
	// filed twice in the INBOX, and the second one in Sent too.
	noID := filepath.Join(inbox, "cur", "1750000000.M1P1.old:2,S")
	write(noID, []byte("From: a@example.org\nTo: alice@example.com\nSubject: no id\n\nhello\n"))
	write(filepath.Join(inbox, "cur", "1750000001.M2P1.old:2,S"), read(msgs[0]))
	write(filepath.Join(inbox, ".Sent", "cur", "1750000002.M3P1.old:2,S"), read(msgs[1]))
	// The old server's Dovecot has seen them all: their UIDs.
	src := testbed.Dovecot(t, testbed.DovecotOptions{MailRoot: e.src, Users: []string{"alice"}})
	folders := []string{"INBOX", "Sent"}
	want := map[string][]testbed.IMAPMessage{}
	for _, f := range folders {
		want[f] = src.UIDs(t, "alice", f)
	}

	// At the destination: shadow copies of five INBOX messages (the first
	// one among them), and an exact copy of the message without an id.
	dstInbox := filepath.Join(e.dst, "alice", "Maildir")
	var shadows []string
	for i := range 5 {
		shadows = append(shadows, shadowCopy(t, msgs[i], dstInbox, fmt.Sprintf("1800000000.M%dP9.new", i)))
	}
	shadows = append(shadows, filepath.Join(dstInbox, "new", "1800000001.M9P9.new"))
	write(shadows[5], read(noID))
	must(t, filepath.Walk(e.dst, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Chown(p, uid, gid)
		}
		return err
	}))
	before := tree(t, e.dst)

	attrs := map[string]cty.Value{"owner": cty.StringVal(strconv.Itoa(uid)), "group": cty.StringVal(strconv.Itoa(gid))}
	// Without dedupe every message is copied, the shadowed ones again.
	off := map[string]cty.Value{"dedupe": cty.False}
	for k, v := range attrs {
		off[k] = v
	}
	total := 0
	for _, f := range folders {
		total += len(want[f])
	}
	for _, f := range []string{".Drafts", ".Archive.2024", ".Archive.2024.Q1", ".My Folder", ".Caf&AOk-", ".Trash"} {
		m, _ := filepath.Glob(filepath.Join(inbox, f, "*", "*"))
		for _, p := range m {
			if sub := filepath.Base(filepath.Dir(p)); sub == "cur" || sub == "new" {
				total++
			}
		}
	}
	if _, pl := e.planWith(e.config(off), nil); !strings.HasPrefix(pl.Summary, fmt.Sprintf("copy %d messages ", total)) {
		t.Errorf("dedupe = false: summary %q, want %d messages", pl.Summary, total)
	}

	var headers atomic.Int64
	reset := mailbox.SetGoHook(func(what string) {
		if strings.HasPrefix(what, "header ") {
			headers.Add(1)
		}
	})
	defer reset()
	cfg := e.config(attrs)
	r := e.mustApply(cfg)
	wantSummary := fmt.Sprintf("copy %d messages ", total-6)
	if !strings.HasPrefix(r.plan.Summary, wantSummary) || !strings.Contains(r.plan.Summary, ", 6 already there by Message-ID or header") {
		t.Errorf("summary %q, want %q… and 6 already there", r.plan.Summary, wantSummary)
	}
	// Only the INBOX, where the destination has mail of its own, is read:
	// its shadow copies, and its source messages not at the destination.
	inboxSrc := len(want["INBOX"])
	if got := headers.Load(); got != int64(inboxSrc+6) {
		t.Errorf("%d header blocks read, want %d (INBOX only)", got, inboxSrc+6)
	}
	for _, p := range shadows {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("shadow copy: %v", err)
		}
	}

	// A re-run: nothing to do, and no header read (the matches are in
	// the manifest).
	headers.Store(0)
	e.settled(cfg)
	if got := headers.Load(); got != 0 {
		t.Errorf("a re-run read %d header blocks", got)
	}

	// Rollback: the destination as it was, shadow copies included.
	e.restore(cfg, r.journal)
	if diff := diffTrees(before, tree(t, e.dst)); diff != "" {
		t.Errorf("after rollback: %s", diff)
	}
	e.mustApply(cfg)

	// What IMAP shows at the destination.
	d := testbed.Dovecot(t, testbed.DovecotOptions{MailRoot: e.dst, Users: []string{"alice"}})
	compared := 0
	for _, f := range folders {
		dir := inbox
		dstDir := dstInbox
		if f != "INBOX" {
			dir, dstDir = filepath.Join(inbox, "."+f), filepath.Join(dstInbox, "."+f)
		}
		srcFiles, dstFiles := byGUID(t, dir), byGUID(t, dstDir)
		var srcIDs, dstIDs []string
		srcUID := map[string]uint32{}
		for _, m := range want[f] {
			srcIDs = append(srcIDs, messageIDOf(t, srcFiles[m.GUID]))
			srcUID[m.GUID] = m.UID
		}
		got := d.UIDs(t, "alice", f)
		for _, m := range got {
			p, ok := dstFiles[m.GUID]
			if !ok {
				t.Fatalf("%s: no file for GUID %s", f, m.GUID)
			}
			dstIDs = append(dstIDs, messageIDOf(t, p))
			if u, copied := srcUID[m.GUID]; copied {
				compared++
				if u != m.UID {
					t.Errorf("%s: %s has UID %d, the source's %d", f, m.GUID, m.UID, u)
				}
			}
		}
		if len(got) != len(want[f]) {
			t.Errorf("%s: IMAP shows %d messages at the destination, %d at the source", f, len(got), len(want[f]))
		}
		sort.Strings(srcIDs)
		sort.Strings(dstIDs)
		if diff := cmp.Diff(srcIDs, dstIDs); diff != "" {
			t.Errorf("%s: Message-IDs at the destination (-source +destination):\n%s", f, diff)
		}
	}

	// Every message copied, less the six already there.
	if n := len(want["INBOX"]) + len(want["Sent"]) - 6; compared != n {
		t.Errorf("%d copied messages with the source's UID, want %d", compared, n)
	}
}
