package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// zlwTTL is the test bed's zone TTL in the wait test. The first apply
// lowers the TTLs and must then wait this long (the old TTL) before the
// records switch: longer than its -max-wait, so the wait is persisted,
// and long enough that the plan after it and the users' changes happen
// while the wait is still pending.
const zlwTTL = 10

// zlwArchive is the folder a user moves a message to.
const zlwArchive = "Archive"

// TestZeroLossMigrationWait: the migration as it is run for real, in two
// applies around a persisted DNS wait, with the sender running
// throughout. The first apply copies the mailboxes, lowers the TTLs and
// stops at the wait (exit 0, the time to come back); the MX still
// answers the old server. Meanwhile users flag, move and delete messages
// over IMAP on the old server. The second apply, after the wait, does the
// rest. Every message sent is on the new server exactly once, in its
// recipient's mailbox; the users' changes are there (nothing deleted
// comes back); every message keeps the UID it had on the old server.
func TestZeroLossMigrationWait(t *testing.T) {
	bed := startTestBedCLITTL(t, zlwTTL)
	seeded := bed.seed(t)
	pw := bed.env["IMAP_PASSWORD"]
	oldIMAP := bed.env["OLD_IMAP_ADDR"] + ":" + bed.env["OLD_IMAP_PORT"]
	newIMAP := bed.env["NEW_IMAP_ADDR"] + ":" + bed.env["NEW_IMAP_PORT"]
	domains := strings.Fields(bed.env["DOMAINS"])
	// Two users change their mail during the move, in different domains
	// when the test bed has several.
	actors := []string{"alice@" + domains[0], "bob@" + domains[len(domains)-1]}
	// Everybody has read their mail on the old server: Dovecot has given
	// every message a UID, which the copies must keep.
	for _, u := range bed.users {
		if _, err := testbed.IMAPSelectAt(oldIMAP, u, pw, "INBOX"); err != nil {
			t.Fatalf("IMAP as %s on the old server before the move: %v", u, err)
		}
	}

	s := bed.newSender(t)
	s.start()
	stopped := false
	stopSender := func() {
		if !stopped {
			stopped = true
			s.stop(t)
		}
	}
	defer stopSender()
	fatalf := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		stopSender()
		t.FailNow()
	}
	// Mail for the old server first: the first pass copies some of the
	// sender's messages too.
	for _, u := range actors {
		bed.zlwWaitOld(t, u, func(m zlwFile) bool { return m.zlID != "" }, "a message from the sender")
	}

	// 1. The first apply: aliases, first pass, TTLs lowered; the switch
	//    waits the old TTL out, longer than -max-wait.
	start := time.Now()
	code, out, errs := runCLI(t, bed.planDir, "apply", "-auto-approve", "-max-wait=1s", "-var-file="+bed.varFile)
	firstApply := time.Since(start)
	if code != 0 {
		fatalf("first apply: exit %d, want 0 at the DNS wait\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	m := regexp.MustCompile(`(?m)^(\d+) resources? waiting until (\S+); run apply again then\.$`).FindStringSubmatch(out)
	if m == nil {
		fatalf("first apply does not say when to run apply again:\n%s\n%s", out, errs)
	}
	until, err := time.Parse(time.RFC3339, m[2])
	if err != nil {
		fatalf("first apply: waiting until %q: %v", m[2], err)
	}
	for _, d := range domains {
		if want := fmt.Sprintf("# module.dns[%q].mx_record.mx waits until ", d); !strings.Contains(out, want) {
			t.Errorf("first apply does not list %q among the waits:\n%s", want, out)
		}
	}
	t.Logf("first apply (%s): %s", firstApply.Round(time.Millisecond), m[0])
	// Nothing has changed for users: the MX (now at the transition TTL)
	// still answers the old server, which delivers and serves IMAP; no
	// relay yet; IMAP on the new server still stopped.
	bed.checkMX(t, "old", "during the wait")
	client := newTTLCache(t, bed).client
	for _, d := range domains {
		if rr, err := client.Read(t.Context(), d+".", d+".", "MX"); err != nil || rr.TTL != 1 {
			t.Errorf("MX of %s during the wait: TTL %d, %v; want the transition TTL 1", d, rr.TTL, err)
		}
	}
	if tm := bed.postconf(t, "OLD", "transport_maps"); strings.Contains(tm, "relay") {
		t.Errorf("transport_maps during the wait: %q", tm)
	}
	if _, err := testbed.IMAPSelectAt(newIMAP, actors[0], pw, "INBOX"); err == nil {
		t.Error("IMAP on the new server serves during the wait")
	}
	// plan shows the pending wait.
	code, out, errs = runCLI(t, bed.planDir, "plan", "-var-file="+bed.varFile)
	if code != 0 || !strings.Contains(out, "waiting until") {
		t.Errorf("plan during the wait (until %s, now %s): exit %d, want the pending wait\n%s\n%s",
			until.Format(time.TimeOnly), time.Now().Format(time.TimeOnly), code, out, errs)
	}
	planned := time.Now()

	// 2. The users change their mail on the old server, between the two
	//    applies: on messages the first pass copied, and on one delivered
	//    since.
	var changes []zlwChange
	for _, u := range actors {
		bed.zlwWaitOld(t, u, func(m zlwFile) bool { return m.zlID != "" && !m.onNew }, "a message from the sender that the first pass did not copy")
		changes = append(changes, bed.zlwChangeMail(t, oldIMAP, u, seeded[u])...)
	}
	changed := time.Now()
	t.Logf("the wait ends %s after the first apply; the plan ended %s before, the users' changes %s before (negative: after)",
		until.Sub(start.Add(firstApply)).Round(100*time.Millisecond), until.Sub(planned).Round(100*time.Millisecond), until.Sub(changed).Round(100*time.Millisecond))
	// What IMAP clients see on the old server now: every message the
	// final pass copies with a UID must keep it.
	before := map[string]testbed.IMAPMailbox{}
	for _, u := range bed.users {
		for _, mb := range []string{"INBOX", zlwArchive} {
			if mb == zlwArchive && !zlwIsActor(actors, u) {
				continue
			}
			view, err := testbed.IMAPSelectAt(oldIMAP, u, pw, mb)
			if err != nil {
				fatalf("IMAP as %s on the old server after the changes, %s: %v", u, mb, err)
			}
			before[u+" "+mb] = view
		}
	}

	// 3. After the time the first apply gave, plan no longer waits, and
	//    the second apply finishes the move.
	time.Sleep(time.Until(until))
	for deadline := until.Add(30 * time.Second); ; {
		code, out, errs = runCLI(t, bed.planDir, "plan", "-var-file="+bed.varFile)
		if code == 0 && !strings.Contains(out, "waiting until") {
			break
		}
		if time.Now().After(deadline) {
			fatalf("plan 30 s after the wait: exit %d, still waiting\n%s\n%s", code, out, errs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	start = time.Now()
	code, out, errs = runCLI(t, bed.planDir, "apply", "-auto-approve", "-var-file="+bed.varFile)
	secondApply := time.Since(start)
	if code != 0 || strings.Contains(out, "waiting until") {
		fatalf("second apply: exit %d, want 0 and no wait\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// What the final pass planned: the users' changes among them.
	if _, rest, ok := strings.Cut(out, "# module.final_pass.mailbox_copy.mail will be"); ok {
		if _, summary, ok := strings.Cut(rest, "# "); ok {
			summary, _, _ = strings.Cut(summary, "\n")
			t.Logf("second apply (%s), final pass: %s", secondApply.Round(time.Millisecond), summary)
		}
	}
	time.Sleep(2 * time.Second) // mail for the new server after
	stopSender()

	bed.checkMX(t, "new", "after the move")
	if _, err := testbed.IMAPSelectAt(oldIMAP, actors[0], pw, "INBOX"); err == nil {
		t.Error("IMAP on the old server still serves after the move")
	}
	bed.waitQueueEmpty(t, "NEW")
	r := s.report(t, bed.delivered(t, "NEW"))
	t.Logf("zero-loss migration with a persisted wait: %d messages sent (%.1f/s; %d accepted by the old server, %d by the new), %d delivered to the new server, %d lost, %d duplicated, %d to the wrong mailbox; longest deferral %s (%d messages deferred); first apply %s, %d changes by users during the wait, second apply %s",
		r.sent, r.rate, s.byServer[bed.env["OLD_ADDR"]], s.byServer[bed.env["NEW_ADDR"]], r.delivered, r.lost, r.duplicated, r.misplaced, r.maxDeferral.Round(time.Millisecond), r.deferred, firstApply.Round(time.Millisecond), len(changes), secondApply.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "ZERO-LOSS wait: sent=%d rate=%.1f/s via_old=%d via_new=%d delivered=%d lost=%d duplicated=%d misplaced=%d max_deferral=%s deferred=%d first_apply=%s user_changes=%d second_apply=%s\n",
		r.sent, r.rate, s.byServer[bed.env["OLD_ADDR"]], s.byServer[bed.env["NEW_ADDR"]], r.delivered, r.lost, r.duplicated, r.misplaced, r.maxDeferral.Round(time.Millisecond), r.deferred, firstApply.Round(time.Millisecond), len(changes), secondApply.Round(time.Millisecond))

	// 4. The users' changes are on the new server, and every message the
	//    old server had given a UID has it there, with its flags.
	for key, old := range before {
		u, mb, _ := strings.Cut(key, " ")
		got, err := testbed.IMAPSelectAt(newIMAP, u, pw, mb)
		if err != nil {
			t.Errorf("IMAP as %s on the new server, %s: %v", u, mb, err)
			continue
		}
		if got.UIDValidity != old.UIDValidity {
			t.Errorf("%s %s: UIDVALIDITY %d on the new server, %d on the old", u, mb, got.UIDValidity, old.UIDValidity)
		}
		onNew := map[string]testbed.IMAPMessage{}
		for _, m := range got.Messages {
			onNew[m.GUID] = m
		}
		for _, o := range old.Messages {
			n, ok := onNew[o.GUID]
			switch {
			case !ok:
				t.Errorf("%s %s: message %s (UID %d on the old server) missing on the new", u, mb, o.GUID, o.UID)
			case n.UID != o.UID || n.Flags != o.Flags:
				t.Errorf("%s %s: message %s is UID %d (%s) on the new server, UID %d (%s) on the old", u, mb, o.GUID, n.UID, n.Flags, o.UID, o.Flags)
			}
		}
		for _, c := range changes {
			if c.user != u {
				continue
			}
			n, ok := onNew[c.guid]
			switch {
			case c.op == "delete" && ok, c.op == "move" && mb == "INBOX" && ok:
				t.Errorf("%s %s: %s (%s) is there (UID %d) after the user's %s on the old server", u, mb, c.guid, c.subject, n.UID, c.op)
			case c.op == "flag" && mb == "INBOX" && !ok:
				t.Errorf("%s %s: %s (%s), flagged on the old server, missing", u, mb, c.guid, c.subject)
			case c.op == "flag" && mb == "INBOX" && !zlwHasFlags(n.Flags, c.flags):
				t.Errorf("%s %s: %s has the flags %q on the new server, want %q", u, mb, c.guid, n.Flags, c.flags)
			case c.op == "move" && mb == zlwArchive && !zlwHasUID(got, c.uid):
				t.Errorf("%s %s: no UID %d (the message moved there on the old server) on the new server: %+v", u, mb, c.uid, got.Messages)
			}
		}
	}
	// The same on disk, by subject: a deleted message nowhere in the
	// user's mail, a moved one once, in its folder.
	for _, c := range changes {
		where := bed.zlwFind(t, "NEW", c.user, c.subject)
		switch {
		case c.op == "delete" && len(where) > 0:
			t.Errorf("%s, deleted on the old server, is on the new one: %v", c.subject, where)
		case c.op == "move" && (len(where) != 1 || !strings.HasPrefix(where[0], "."+zlwArchive+"/")):
			t.Errorf("%s, moved to %s on the old server, is at %v on the new one", c.subject, zlwArchive, where)
		case c.op == "flag" && len(where) != 1:
			t.Errorf("%s, flagged on the old server, is at %v on the new one", c.subject, where)
		}
	}

	// A plan now copies nothing back from the old server.
	code, out, errs = runCLI(t, bed.planDir, "plan", "-detailed-exitcode", "-var-file="+bed.varFile)
	if code == 1 || strings.Contains(out, "mailbox_copy") {
		t.Errorf("plan after the move: exit %d, want no mailbox_copy change\n%s\n%s", code, out, errs)
	}
}

// zlwChange is one change a user made on the old server.
type zlwChange struct {
	user, op string // op: "flag", "move", "delete"
	guid     string // the message's GUID (Maildir base name) on the old server
	subject  string // its Subject line, to find it on disk
	flags    []string
	uid      uint32 // for "move": its UID in the folder it was moved to
}

// zlwFile is one message in a user's INBOX on the old server.
type zlwFile struct {
	base, subject, zlID string
	onNew               bool // a message of that base name is on the new server
}

// zlwInbox lists user's INBOX messages on the old server, by base name.
func (b *cliBed) zlwInbox(t *testing.T, user string) map[string]zlwFile {
	t.Helper()
	onNew := map[string]bool{}
	for _, side := range []string{"NEW", "OLD"} {
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(b.maildir(side, user), sub)
			es, err := os.ReadDir(dir)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			for _, e := range es {
				base, _, _ := strings.Cut(e.Name(), ":2,")
				onNew[base] = onNew[base] || side == "NEW"
			}
		}
	}
	out := map[string]zlwFile{}
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(b.maildir("OLD", user), sub)
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			base, _, _ := strings.Cut(e.Name(), ":2,")
			subject, id, err := zlwHeaders(filepath.Join(dir, e.Name()))
			if os.IsNotExist(err) {
				continue // renamed by Dovecot since the listing
			} else if err != nil {
				t.Fatal(err)
			}
			out[base] = zlwFile{base: base, subject: subject, zlID: id, onNew: onNew[base]}
		}
	}
	return out
}

// zlwWaitOld waits until user's INBOX on the old server holds a message
// for which ok is true.
func (b *cliBed) zlwWaitOld(t *testing.T, user string, ok func(zlwFile) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, f := range b.zlwInbox(t, user) {
			if ok(f) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s on the old server after 30 s", user, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// zlwChangeMail logs in as user on the old server, as a mail client
// does, and changes its INBOX: of the seeded messages (the first pass
// copied them) one is flagged \Flagged \Seen, one moved to zlwArchive,
// one deleted; of the sender's messages, one the first pass copied is
// marked \Seen and one it did not copy \Flagged. The sender's messages
// stay in the INBOX, where the zero-loss report looks for them. Each
// change is checked in the Maildir on disk, which the final pass copies.
func (b *cliBed) zlwChangeMail(t *testing.T, addr, user string, seeded int) []zlwChange {
	t.Helper()
	view, err := testbed.IMAPSelectAt(addr, user, b.env["IMAP_PASSWORD"], "INBOX")
	if err != nil {
		t.Fatalf("IMAP as %s on the old server: %v", user, err)
	}
	files := b.zlwInbox(t, user)
	var old, zlCopied, zlFresh []testbed.IMAPMessage
	for _, m := range view.Messages {
		f, ok := files[m.GUID]
		switch {
		case !ok:
			t.Fatalf("%s: IMAP lists %s (UID %d), not in the Maildir", user, m.GUID, m.UID)
		case f.zlID == "" && f.onNew:
			old = append(old, m)
		case f.zlID != "" && f.onNew:
			zlCopied = append(zlCopied, m)
		case f.zlID != "":
			zlFresh = append(zlFresh, m)
		}
	}
	if len(old) != seeded || len(old) < 3 || len(zlCopied) == 0 || len(zlFresh) == 0 {
		t.Fatalf("%s's INBOX on the old server: %d seeded messages copied by the first pass (want %d, at least 3), %d of the sender's copied, %d not copied yet; want one of each at least",
			user, len(old), seeded, len(zlCopied), len(zlFresh))
	}
	change := func(op string, m testbed.IMAPMessage, flags ...string) zlwChange {
		return zlwChange{user: user, op: op, guid: m.GUID, subject: files[m.GUID].subject, flags: flags}
	}
	changes := []zlwChange{
		change("flag", old[0], `\Flagged`, `\Seen`),
		change("move", old[1]),
		change("delete", old[2]),
		change("flag", zlCopied[0], `\Seen`),
		change("flag", zlFresh[0], `\Flagged`),
	}

	c, err := testbed.IMAPLogin(addr, user, b.env["IMAP_PASSWORD"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Create(zlwArchive); err != nil {
		t.Fatalf("%s: CREATE %s: %v", user, zlwArchive, err)
	}
	if err := c.Select("INBOX"); err != nil {
		t.Fatalf("%s: SELECT INBOX: %v", user, err)
	}
	for _, ch := range []struct {
		m     testbed.IMAPMessage
		flags []string
	}{{old[0], changes[0].flags}, {zlCopied[0], changes[3].flags}, {zlFresh[0], changes[4].flags}} {
		if err := c.AddFlags([]uint32{ch.m.UID}, ch.flags...); err != nil {
			t.Fatalf("%s: flag UID %d: %v", user, ch.m.UID, err)
		}
	}
	to, err := c.Move([]uint32{old[1].UID}, zlwArchive)
	if err != nil {
		t.Fatalf("%s: move UID %d to %s: %v", user, old[1].UID, zlwArchive, err)
	}
	changes[1].uid = to[0]
	if err := c.Delete([]uint32{old[2].UID}); err != nil {
		t.Fatalf("%s: delete UID %d: %v", user, old[2].UID, err)
	}

	// On disk: the flags in the file names, the moved and the deleted
	// message out of the INBOX, the moved one in the folder.
	after := map[string]string{} // base name -> flags
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(b.maildir("OLD", user), sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			base, info, _ := strings.Cut(e.Name(), ":2,")
			after[base] = info
		}
	}
	letters := map[string]string{`\Flagged`: "F", `\Seen`: "S"}
	for _, ch := range changes {
		info, ok := after[ch.guid]
		switch ch.op {
		case "flag":
			for _, f := range ch.flags {
				if !strings.Contains(info, letters[f]) {
					t.Fatalf("%s: %s has the Maildir flags %q on the old server after STORE %s", user, ch.guid, info, f)
				}
			}
		default:
			if ok {
				t.Fatalf("%s: %s still in the INBOX on the old server after its %s", user, ch.guid, ch.op)
			}
		}
	}
	if where := b.zlwFind(t, "OLD", user, changes[1].subject); len(where) != 1 || !strings.HasPrefix(where[0], "."+zlwArchive+"/") {
		t.Fatalf("%s: the moved message is at %v on the old server", user, where)
	}
	return changes
}

// zlwFind returns the paths, relative to user's Maildir on side, of the
// messages in any of its folders whose header has the line subject.
func (b *cliBed) zlwFind(t *testing.T, side, user, subject string) []string {
	t.Helper()
	root := b.maildir(side, user)
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if sub := filepath.Base(filepath.Dir(path)); sub != "cur" && sub != "new" {
			return nil
		}
		if got, _, err := zlwHeaders(path); err != nil && !os.IsNotExist(err) {
			return err
		} else if got == subject {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// zlwHeaders returns the Subject line of the message at path and its
// zeroLossHeader value ("" when it has none).
func zlwHeaders(path string) (subject, id string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" {
			break
		}
		if strings.HasPrefix(strings.ToLower(l), "subject:") {
			subject = l
		}
		if v, ok := strings.CutPrefix(l, zeroLossHeader+": "); ok {
			id = v
		}
	}
	return subject, id, sc.Err()
}

func zlwIsActor(actors []string, u string) bool {
	for _, a := range actors {
		if a == u {
			return true
		}
	}
	return false
}

// zlwHasFlags says whether flags (IMAPMessage.Flags) holds each of want.
func zlwHasFlags(flags string, want []string) bool {
	have := strings.Fields(flags)
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

func zlwHasUID(mb testbed.IMAPMailbox, uid uint32) bool {
	for _, m := range mb.Messages {
		if m.UID == uid {
			return true
		}
	}
	return false
}
