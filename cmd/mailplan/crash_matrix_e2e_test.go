package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// crashBulk and crashLateMail are the messages added to the old
// Maildirs before the first apply and during each apply.
const (
	crashBulk     = 1100
	crashLateMail = 520
)

// crashApplyPoints and crashRollbackPoints are how many kill points the
// matrix has in applies and in rollbacks.
const (
	crashApplyPoints    = 14
	crashRollbackPoints = 7
)

// crashPasses are the two mailbox_copy passes of the example.
var crashPasses = []string{"module.first_pass.mailbox_copy.mail", "module.final_pass.mailbox_copy.mail"}

// crashMetaFiles are the Dovecot files mailbox_copy copies with the
// messages (resources/mailbox: metaFiles).
var crashMetaFiles = map[string]bool{"dovecot-uidlist": true, "dovecot-keywords": true, "subscriptions": true, "maildirfolder": true}

// TestCrashMatrix is issue 10's crash matrix: plans/examples/full-migration
// on the loopback test bed, the mailplan CLI killed with SIGKILL at a
// journal record chosen in advance, then `mailplan apply` or `mailplan
// rollback`, alternately. Each must exit 0 and leave the servers either fully
// migrated (the facts of a clean apply, a plan without changes) or fully
// back (byte-identical to before the first apply), with every message on
// the new server exactly once or none of mailplan's copies left there. In
// between, the state must always be readable: `state list` exits 0 and
// `plan` exits 0 or 2 with the "continues an unfinished apply" warning.
//
// The kill points are positive markers, never sleeps: the test polls
// .mailplan/state.json.journal, which the CLI appends (and fsyncs) before
// each step, and kills the process once the journal holds the k-th record,
// the n-th undo entry of a mailbox_copy pass, or the n-th
// restoring/restored record of a rollback. Kills during a rollback happen
// in the rollback that takes a "forward" point back, which is then run
// again.
//
// So that each mailbox_copy pass journals several entries (one per 512
// messages), the old server holds some 1,100 messages, and mail keeps
// arriving there during each apply: once the first pass is done, the test
// delivers crashLateMail messages to the old Maildirs (as the old Postfix
// would until the relay is in place), which the final pass copies. They
// are removed from the old server after each point, as users deleting
// them would, so that each point starts from the same "back".
//
// The whole matrix (21 points) takes some 11 minutes on two shared cores,
// most of it in the example's own steps (a postfix_map takes 5-7 s, a
// clean apply about 40 s, a rollback 30 s): MAILPLAN_CRASH_SHARD=I/N runs
// every Nth apply point from the Ith (and the rollback points those
// episodes host), for CI jobs run side by side. Each CLI run writes a debug
// log (MAILPLAN_LOG=debug), into MAILPLAN_CRASH_LOGS when set (kept), else
// into the test's directory.
func TestCrashMatrix(t *testing.T) {
	if os.Getenv("MAILPLAN_CRASH_MATRIX") == "" && os.Getenv("MAILPLAN_CRASH_SHARD") == "" {
		// `make test` runs it beside the other packages' tests, in a go
		// test of its own (it takes some 11 minutes, mostly waiting), and
		// `make crash-matrix` alone.
		t.Skip("the crash matrix runs with MAILPLAN_CRASH_MATRIX=1 (make test runs it so, beside the rest; make crash-matrix alone) or MAILPLAN_CRASH_SHARD=I/N")
	}
	began := time.Now()
	bed := startTestBedCLI(t)
	m := crashSetUp(t, bed)
	setUp := time.Since(began)

	// Ground truth: "back" before anything, "forward" after one clean
	// apply, which the rollback then takes back.
	m.back = m.facts()
	m.backSanity()
	base := m.cli(nil, true, m.apply()...)
	if base.code != 0 {
		t.Fatalf("clean apply: exit %d\n%s", base.code, base.out)
	}
	m.fwd = m.facts()
	m.fwdSanity()
	cleanRecs, cleanChanges := m.cleanJournal(base)
	if code, out := m.plan(); code != 0 {
		t.Fatalf("plan after the clean apply: exit %d, want 0 (no changes)\n%s", code, out)
	}
	if n, short := m.checkForward("after the clean apply"); len(short) > 0 {
		t.Fatalf("the clean apply did not migrate (%d messages): %v", n, short)
	}
	rb := m.cli(nil, false, m.rollback()...)
	if rb.code != 0 {
		t.Fatalf("clean rollback: exit %d\n%s", rb.code, rb.out)
	}
	m.checkBack("after the clean rollback")
	m.endEpisode()
	t.Logf("clean apply %s (%d journal records, %d changes), clean rollback %s",
		base.took.Round(time.Millisecond), len(cleanRecs), len(cleanChanges), rb.took.Round(time.Millisecond))

	points := crashShard(t, crashChoosePoints(t, cleanRecs, cleanChanges))
	var rows []crashRow
	for _, p := range points {
		rows = append(rows, m.episode(p)...)
	}

	total := time.Since(began)
	var table strings.Builder
	back, fwd, inRollback := 0, 0, 0
	for _, r := range rows {
		if strings.HasPrefix(r.point, "R") {
			inRollback++
		}
		switch r.outcome {
		case "back":
			back++
		case "forward":
			fwd++
		}
		fmt.Fprintf(&table, "CRASH-MATRIX %s\n", r)
	}
	summary := fmt.Sprintf("CRASH-MATRIX points=%d (apply kills %d, rollback kills %d) forward=%d back=%d failed=%d; set-up %s, clean apply %s, clean rollback %s, total %s",
		len(rows), len(rows)-inRollback, inRollback, fwd, back, len(rows)-fwd-back, setUp.Round(time.Second), base.took.Round(time.Second), rb.took.Round(time.Second), total.Round(time.Second))
	t.Logf("crash matrix:\n%s%s", table.String(), summary)
	fmt.Fprintf(os.Stderr, "%s%s\n", table.String(), summary)
	if len(rows) < 20 && os.Getenv("MAILPLAN_CRASH_SHARD") == "" {
		t.Errorf("the matrix tried %d kill points, want at least 20", len(rows))
	}
}

// crashMatrix is the test bed, the CLI and the ground truth.
type crashMatrix struct {
	t       *testing.T
	bed     *cliBed
	bin     string // the mailplan CLI: this test binary, as TestMain runs it
	logs    string // one debug log per CLI run
	journal string
	vars    []string
	dns     *dnsclient.Client
	runs    int

	back, fwd crashFacts
	// late is the mail delivered to the old server during this episode,
	// "old-mail/REL" -> fingerprint; lateSeq numbers the deliveries.
	late    map[string]string
	lateSeq int
}

func crashSetUp(t *testing.T, bed *cliBed) *crashMatrix {
	t.Helper()
	bin, err := exec.LookPath("mailplan")
	if err != nil {
		t.Fatalf("the mailplan command TestMain sets up: %v", err)
	}
	dns, err := dnsclient.New(resource.DNSServer{Name: "crash", Address: bed.env["DNS_ADDR"] + ":" + bed.env["DNS_PORT"]}, hclog.NewNullLogger(), dnsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &crashMatrix{
		t: t, bed: bed, bin: bin, dns: dns,
		// Beside plans/, in the test's directory.
		logs:    filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(bed.planDir))), "crash-logs"),
		journal: filepath.Join(bed.planDir, ".mailplan", "state.json.journal"),
		// transition_hold: the TTLs stay low for an hour after the switch,
		// so that a plan after a forward point has nothing to do.
		vars: []string{"-var-file=" + bed.varFile, "-var", "transition_hold=1h"},
		late: map[string]string{},
	}
	if dir := os.Getenv("MAILPLAN_CRASH_LOGS"); dir != "" {
		m.logs = dir // kept after the test, for CI artifacts
	}
	if err := os.MkdirAll(m.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	bed.seed(t)
	m.deliver(crashBulk, "bulk", false)
	// Dovecot on the old server indexes alice's INBOX: her messages move
	// to cur/ and a dovecot-uidlist appears, which the copies carry over.
	if _, err := testbed.IMAPSelectAt(bed.env["OLD_IMAP_ADDR"]+":"+bed.env["OLD_IMAP_PORT"], "alice", bed.env["IMAP_PASSWORD"], "INBOX"); err != nil {
		t.Fatalf("IMAP on the old server: %v", err)
	}
	return m
}

// apply runs up to 10 resources at once, so that the eight DNS records
// of the two domains wait out their TTLs together.
func (m *crashMatrix) apply() []string {
	return append([]string{"apply", "-auto-approve", "-parallelism=10"}, m.vars...)
}

func (m *crashMatrix) rollback() []string {
	return append([]string{"rollback", "-auto-approve"}, m.vars...)
}

// plan runs `mailplan plan -detailed-exitcode`.
func (m *crashMatrix) plan() (int, string) {
	r := m.cli(nil, false, append([]string{"plan", "-detailed-exitcode"}, m.vars...)...)
	return r.code, r.out
}

// crashMarker is a kill point: hit reports, from the journal's records
// (base of them there before the run started), that it is reached.
type crashMarker struct {
	id   string // A1, A2, … in an apply; R1, R2, … in a rollback
	name string
	// pos is where the clean apply reached it, in records, for ordering.
	pos  int
	next string // what runs after the kill: "apply" or "rollback"
	hit  func(recs []crashRec, base int) bool
	// host is the kill point in the rollback that takes a "forward"
	// outcome back, nil for none.
	host *crashMarker
}

func crashAtRecords(k int) crashMarker {
	return crashMarker{name: fmt.Sprintf("record %d", k), pos: k,
		hit: func(recs []crashRec, base int) bool { return len(recs)-base >= k }}
}

// crashAtEntry is the n-th undo entry of addr's change in this run.
func crashAtEntry(addr string, n, pos int) crashMarker {
	short := "first pass"
	if strings.Contains(addr, "final") {
		short = "final pass"
	}
	return crashMarker{name: fmt.Sprintf("%s entry %d", short, n), pos: pos,
		hit: func(recs []crashRec, base int) bool { return crashEntries(recs, addr) >= n }}
}

// crashAtRestore is the n-th restoring or restored record of a rollback.
func crashAtRestore(n int) crashMarker {
	return crashMarker{name: fmt.Sprintf("rollback record %d", n), pos: n, next: "rollback",
		hit: func(recs []crashRec, base int) bool {
			c := 0
			for _, r := range recs[min(base, len(recs)):] {
				if r.Op == "restoring" || r.Op == "restored" {
					c++
				}
			}
			return c >= n
		}}
}

// crashRec is what the test reads of a journal record.
type crashRec struct {
	Op     string `json:"op"`
	Index  int    `json:"index"`
	Status string `json:"status"`
	Change *struct {
		Addr   string `json:"addr"`
		Action string `json:"action"`
	} `json:"change"`
}

func (r crashRec) String() string {
	if r.Change != nil {
		return fmt.Sprintf("%s %s (%s)", r.Op, r.Change.Addr, r.Change.Action)
	}
	if r.Status != "" {
		return r.Op + " " + r.Status
	}
	if r.Op == "begin" || r.Op == "continue" {
		return r.Op
	}
	return fmt.Sprintf("%s #%d", r.Op, r.Index)
}

// crashJournal reads the journal's complete records; a last line that
// lacks its '\n' is being written.
func crashJournal(t *testing.T, path string) []crashRec {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []crashRec
	for n := 1; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		data = data[i+1:]
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r crashRec
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("journal %s line %d does not decode: %v: %q", path, n, err, line)
		}
		out = append(out, r)
	}
	return out
}

// crashChangeIndexes maps each change record's index (since the last
// begin) to its address.
func crashChangeIndexes(recs []crashRec) map[int]string {
	idx := map[int]string{}
	n := 0
	for _, r := range recs {
		switch r.Op {
		case "begin":
			idx, n = map[int]string{}, 0
		case "change":
			if r.Change != nil {
				idx[n] = r.Change.Addr
			}
			n++
		}
	}
	return idx
}

// crashEntries counts the undo entries journalled for addr's changes.
func crashEntries(recs []crashRec, addr string) int {
	idx := crashChangeIndexes(recs)
	c := 0
	for _, r := range recs {
		if r.Op == "entry" && idx[r.Index] == addr {
			c++
		}
	}
	return c
}

// crashDone reports whether one of addr's changes is done, and whether
// one was started at all.
func crashDone(recs []crashRec, addr string) (done, started bool) {
	idx := crashChangeIndexes(recs)
	for i, a := range idx {
		if a != addr {
			continue
		}
		started = true
		for _, r := range recs {
			if r.Op == "done" && r.Index == i {
				done = true
			}
		}
	}
	return done, started
}

// crashRun is one run of the CLI.
type crashRun struct {
	args   []string
	code   int // -1 when killed
	killed bool
	out    string
	took   time.Duration
	base   int        // records in the journal when it started
	recs   []crashRec // the journal when it ended (after the kill)
	seen   []crashRec // the most the test saw while it ran
	log    string
}

// atKill describes where a killed run stopped.
func (r crashRun) atKill() string {
	if len(r.recs) == 0 {
		return "journal empty"
	}
	return fmt.Sprintf("%d records, last %q", len(r.recs)-r.base, r.recs[len(r.recs)-1].String())
}

// cli runs the mailplan CLI in the plan directory as a subprocess. With a
// marker, it SIGKILLs the process as soon as the journal reaches it. With
// deliver, it delivers late mail to the old server once the first pass is
// done, as the old Postfix would.
func (m *crashMatrix) cli(marker *crashMarker, deliver bool, args ...string) crashRun {
	t := m.t
	t.Helper()
	m.runs++
	r := crashRun{args: args, log: filepath.Join(m.logs, fmt.Sprintf("%03d-%s.log", m.runs, args[0]))}
	cmd := exec.Command(m.bin, append([]string{"-no-color"}, args...)...)
	cmd.Dir = m.bed.planDir
	cmd.Env = append(os.Environ(), "MAILPLAN_LOG=debug", "MAILPLAN_LOG_PATH="+r.log)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	recs := crashJournal(t, m.journal)
	r.base = len(recs)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailplan %v: %v", args, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	defer func() {
		// A test that stops half way leaves no process behind.
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	}()
	size := int64(-1)
poll:
	for {
		select {
		case <-done:
			break poll
		default:
		}
		if fi, err := os.Stat(m.journal); err == nil && fi.Size() != size {
			size = fi.Size()
			recs = crashJournal(t, m.journal)
			if len(recs) > len(r.seen) {
				r.seen = recs
			}
			if deliver {
				m.deliverLate(recs)
			}
			if marker != nil && marker.hit(recs, r.base) {
				cmd.Process.Kill()
				<-done
				break poll
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.took = time.Since(start)
	r.out = out.String()
	r.code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		r.killed = true
	}
	r.recs = crashJournal(t, m.journal)
	return r
}

// deliverLate delivers crashLateMail messages to the old server once per
// episode, as soon as the journal shows the first pass done and before
// the final pass starts.
func (m *crashMatrix) deliverLate(recs []crashRec) {
	if len(m.late) > 0 {
		return
	}
	done, _ := crashDone(recs, crashPasses[0])
	if !done {
		return
	}
	if _, started := crashDone(recs, crashPasses[1]); started {
		m.t.Fatalf("the final pass started before the test saw the first pass done: %v", recs)
	}
	m.lateSeq++
	m.deliver(crashLateMail, fmt.Sprintf("late%d", m.lateSeq), true)
	recs = crashJournal(m.t, m.journal)
	if _, started := crashDone(recs, crashPasses[1]); started {
		m.t.Fatalf("the final pass started while the test delivered late mail")
	}
}

// deliver puts n messages into the old server's Maildirs, spread over
// every user, as the local delivery agent does: written to tmp/, renamed
// into new/, owned like new/. late ones are recorded in m.late.
func (m *crashMatrix) deliver(n int, tag string, late bool) {
	t := m.t
	root := m.bed.env["OLD_MAILDIR"]
	now := time.Now().Unix()
	for i := range n {
		user := m.bed.users[i%len(m.bed.users)]
		dir := m.bed.maildir("OLD", user)
		st, err := os.Stat(filepath.Join(dir, "new"))
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%d.M%dP%d.crash-%s", now, i, os.Getpid(), tag)
		body := fmt.Sprintf("Return-Path: <news@example.net>\nDelivered-To: %s\nFrom: news@example.net\nTo: %s\nSubject: %s %d\nMessage-ID: <%s-%d@crash.test>\n\nmessage %d of %s for %s\n",
			user, user, tag, i, tag, i, i, tag, user)
		tmp := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			if err := os.Chown(tmp, int(sys.Uid), int(sys.Gid)); err != nil {
				t.Fatal(err)
			}
		}
		final := filepath.Join(dir, "new", name)
		if err := os.Rename(tmp, final); err != nil {
			t.Fatal(err)
		}
		if late {
			rel, _ := filepath.Rel(root, final)
			m.late["old-mail/"+rel] = crashFileFact(t, final, 0o600)
		}
	}
}

// endEpisode removes the late mail from the old server (its users
// deleted it) and checks that the old server is exactly "back".
func (m *crashMatrix) endEpisode() {
	t := m.t
	for k := range m.late {
		p := filepath.Join(m.bed.env["OLD_MAILDIR"], strings.TrimPrefix(k, "old-mail/"))
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	m.late = map[string]string{}
	got := m.facts()
	if d := crashDiff(m.back.tree, got.tree, "old-mail/"); len(d) > 0 {
		t.Errorf("old Maildirs after removing the late mail differ from before the first apply:\n  %s", strings.Join(d, "\n  "))
	}
}
