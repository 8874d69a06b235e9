package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// crashFacts is what the matrix compares.
type crashFacts struct {
	// tree maps "old-config/REL", "new-config/REL", "old-mail/REL" and
	// "new-mail/REL" to the file's (or directory's) type, mode and
	// SHA-256.
	tree map[string]string
	// mainCF is each instance's main.cf ("old", "new"), parameters
	// sorted, mailplan's own tables in each list sorted.
	mainCF map[string]string
	// text is each instance's main.cf as it is, for the messages.
	text map[string]string
	// dns maps "NAME TYPE" to the TTL and the records.
	dns map[string]string
	// svc maps each service to whether it runs.
	svc map[string]bool
}

func (m *crashMatrix) facts() crashFacts {
	t := m.t
	t.Helper()
	f := crashFacts{tree: map[string]string{}, mainCF: map[string]string{}, text: map[string]string{}, dns: map[string]string{}}
	for prefix, dir := range map[string]string{
		"old-config": m.bed.env["OLD_CONFIG_DIR"], "new-config": m.bed.env["NEW_CONFIG_DIR"],
		"old-mail": m.bed.env["OLD_MAILDIR"], "new-mail": m.bed.env["NEW_MAILDIR"],
	} {
		crashTree(t, dir, prefix, f.tree)
	}
	for _, side := range []string{"old", "new"} {
		p := filepath.Join(m.bed.env[strings.ToUpper(side)+"_CONFIG_DIR"], "main.cf")
		f.mainCF[side] = crashMainCF(t, p)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f.text[side] = string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, d := range strings.Fields(m.bed.env["DOMAINS"]) {
		zone := d + "."
		for _, q := range [][2]string{{zone, "MX"}, {zone, "TXT"}, {"imap." + zone, "A"}, {"smtp." + zone, "A"}} {
			rr, err := m.dns.Read(ctx, zone, q[0], q[1])
			if err != nil {
				t.Fatalf("DNS %s %s: %v", q[0], q[1], err)
			}
			recs := append([]string(nil), rr.Records...)
			sort.Strings(recs)
			v := "absent"
			if rr.Exists() {
				v = fmt.Sprintf("ttl %d: %s", rr.TTL, strings.Join(recs, " | "))
			}
			f.dns[q[0]+" "+q[1]] = v
		}
	}
	f.svc = m.services()
	return f
}

// services reports which of the services the plan manages run.
func (m *crashMatrix) services() map[string]bool {
	alive := func(pidFile string) bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0 && syscall.Kill(pid, 0) == nil
	}
	postfix := testbed.RequireSbin(m.t, "postfix")
	status := func(dir string) bool {
		return exec.Command(postfix, "-c", dir, "status").Run() == nil
	}
	return map[string]bool{
		"old IMAP":    alive(m.bed.env["OLD_IMAP_PIDFILE"]),
		"new IMAP":    alive(m.bed.env["NEW_IMAP_PIDFILE"]),
		"old Postfix": status(m.bed.env["OLD_CONFIG_DIR"]),
		"new Postfix": status(m.bed.env["NEW_CONFIG_DIR"]),
	}
}

// crashTree adds every file and directory under root to into.
func crashTree(t *testing.T, root, prefix string, into map[string]string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		key := prefix + "/" + filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			into[key] = fmt.Sprintf("dir %04o", info.Mode().Perm())
		case info.Mode().IsRegular():
			into[key] = crashFileFact(t, p, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			into[key] = "symlink " + target
		default:
			into[key] = "other " + info.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
}

func crashFileFact(t *testing.T, path string, perm fs.FileMode) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("file %04o %s", perm, hex.EncodeToString(sum[:8]))
}

var crashListSep = regexp.MustCompile(`[,\s]+`)

// crashMainCF is main.cf as Postfix reads it (continuation lines joined,
// comments dropped), one parameter a line, sorted; in each value the
// tables under a migration/ directory (mailplan's, whose order depends on
// which of two parallel resources came first) are sorted among
// themselves.
func crashMainCF(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var params []string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#"):
		case (line[0] == ' ' || line[0] == '\t') && len(params) > 0:
			params[len(params)-1] += " " + strings.TrimSpace(line)
		default:
			params = append(params, line)
		}
	}
	for i, p := range params {
		name, value, _ := strings.Cut(p, "=")
		tokens := crashListSep.Split(strings.TrimSpace(value), -1)
		var pos []int
		var ours []string
		for j, tok := range tokens {
			if strings.Contains(tok, "/migration/") {
				pos = append(pos, j)
				ours = append(ours, tok)
			}
		}
		sort.Strings(ours)
		for j, at := range pos {
			tokens[at] = ours[j]
		}
		params[i] = strings.TrimSpace(name) + " = " + strings.Join(tokens, " ")
	}
	sort.Strings(params)
	return strings.Join(params, "\n")
}

// crashDiff lists the differences between want and got among the keys
// with prefix.
func crashDiff(want, got map[string]string, prefix string) []string {
	var d []string
	for k, w := range want {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if g, ok := got[k]; !ok {
			d = append(d, "missing "+k+" ("+w+")")
		} else if g != w {
			d = append(d, fmt.Sprintf("changed %s: %s, was %s", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && strings.HasPrefix(k, prefix) {
			d = append(d, "extra "+k+" ("+g+")")
		}
	}
	sort.Strings(d)
	if len(d) > 25 {
		d = append(d[:25], fmt.Sprintf("... and %d more", len(d)-25))
	}
	return d
}

// crashLineDiff shows the lines only in want (-) and only in got (+).
func crashLineDiff(want, got string) string {
	count := func(s string) map[string]int {
		c := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			c[l]++
		}
		return c
	}
	w, g := count(want), count(got)
	var out []string
	for _, l := range strings.Split(want, "\n") {
		if g[l] < w[l] {
			out = append(out, "  - "+l)
			w[l]--
		}
	}
	w = count(want)
	for _, l := range strings.Split(got, "\n") {
		if w[l] < g[l] {
			out = append(out, "  + "+l)
			g[l]--
		}
	}
	return strings.Join(out, "\n")
}

func crashMapDiff[V comparable](want, got map[string]V) []string {
	var d []string
	for k, w := range want {
		if g := got[k]; g != w {
			d = append(d, fmt.Sprintf("%s: %v, want %v", k, g, w))
		}
	}
	sort.Strings(d)
	return d
}

// backSanity makes sure "back" is the old server, before anything.
func (m *crashMatrix) backSanity() {
	m.bed.checkMX(m.t, "old", "before the first apply")
	want := map[string]bool{"old IMAP": true, "new IMAP": false, "old Postfix": true, "new Postfix": true}
	if d := crashMapDiff(want, m.back.svc); len(d) > 0 {
		m.t.Fatalf("services before the first apply: %v", d)
	}
}

// fwdSanity checks the clean apply's facts against the example's README.
func (m *crashMatrix) fwdSanity() {
	m.bed.checkMX(m.t, "new", "after the clean apply")
	want := map[string]bool{"old IMAP": false, "new IMAP": true, "old Postfix": false, "new Postfix": true}
	if d := crashMapDiff(want, m.fwd.svc); len(d) > 0 {
		m.t.Fatalf("services after the clean apply: %v", d)
	}
	if tm := m.bed.postconf(m.t, "OLD", "transport_maps"); !strings.Contains(tm, "relay") {
		m.t.Fatalf("transport_maps on the old server after the clean apply: %q", tm)
	}
}

// waitServices waits until the services are as in want, for a service
// that a command started or stopped may take a moment to say so (a
// daemon writing its PID file), at most 15 s.
func (m *crashMatrix) waitServices(want map[string]bool) map[string]bool {
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := m.services()
		if len(crashMapDiff(want, got)) == 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkBack checks that everything is byte-identical to before the first
// apply, but for the late mail delivered to the old server meanwhile. It
// returns a short summary of each difference (and reports each in full).
// So that the rest of the matrix still tests what crashes do, a
// difference in files is then taken as the new "back" (and kept in
// "forward"): mailplan's temporary files in the new server's tmp/
// directories are removed (as the next apply would), the rest kept. A
// difference in DNS or services stops the test.
func (m *crashMatrix) checkBack(when string) []string {
	t := m.t
	t.Helper()
	m.waitServices(m.back.svc)
	got := m.facts()
	want := map[string]string{}
	for k, v := range m.back.tree {
		want[k] = v
	}
	for k, v := range m.late {
		want[k] = v
	}
	var short []string
	for _, prefix := range []string{"old-config/", "new-config/", "old-mail/", "new-mail/"} {
		if d := crashDiff(want, got.tree, prefix); len(d) > 0 {
			t.Errorf("%s: %s differs from before the first apply:\n  %s", when, strings.TrimSuffix(prefix, "/"), strings.Join(d, "\n  "))
			short = append(short, fmt.Sprintf("%s: %s", strings.TrimSuffix(prefix, "/"), crashSummary(d)))
		}
	}
	for _, side := range []string{"old", "new"} {
		if got.text[side] != m.back.text[side] {
			t.Errorf("%s: %s main.cf, lines changed since before the first apply:\n%s", when, side, crashLineDiff(m.back.text[side], got.text[side]))
		}
	}
	if d := crashMapDiff(m.back.dns, got.dns); len(d) > 0 {
		t.Fatalf("%s: DNS differs from before the first apply: %v", when, d)
	}
	if d := crashMapDiff(m.back.svc, got.svc); len(d) > 0 {
		t.Fatalf("%s: services differ from before the first apply: %v", when, d)
	}
	if len(short) == 0 {
		return nil
	}
	for k := range got.tree {
		rel, ok := strings.CutPrefix(k, "new-mail/")
		if ok && filepath.Base(filepath.Dir(rel)) == "tmp" && strings.Contains(filepath.Base(rel), ".mailplan-") {
			if err := os.Remove(filepath.Join(m.bed.env["NEW_MAILDIR"], rel)); err != nil {
				t.Fatal(err)
			}
		}
	}
	got = m.facts()
	for k := range m.late {
		delete(got.tree, k)
	}
	// What stays stays in "forward" too: no apply touches it.
	for _, tree := range []map[string]string{m.back.tree, got.tree} {
		for k := range tree {
			if v, ok := got.tree[k]; !ok {
				delete(m.fwd.tree, k)
			} else if v != m.back.tree[k] {
				m.fwd.tree[k] = v
			}
		}
	}
	m.back.tree, m.back.text = got.tree, got.text
	return short
}

// crashSummary shortens a crashDiff for the matrix: how many files are
// extra, missing or changed, and the first.
func crashSummary(d []string) string {
	n := map[string]int{}
	for _, l := range d {
		w, _, _ := strings.Cut(l, " ")
		n[w]++
	}
	var parts []string
	for _, w := range []string{"extra", "missing", "changed"} {
		if n[w] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[w], w))
		}
	}
	first, _, _ := strings.Cut(d[0], " (")
	return strings.Join(parts, ", ") + " (" + first + ")"
}

// checkForward checks that everything is as after the clean apply, and
// that every message of the old server is on the new one exactly once.
// It returns the number of messages checked.
func (m *crashMatrix) checkForward(when string) (int, []string) {
	t := m.t
	t.Helper()
	m.waitServices(m.fwd.svc)
	got := m.facts()
	var short []string
	fail := func(what, format string, args ...any) {
		t.Errorf(when+": "+format, args...)
		short = append(short, what)
	}
	// Postfix: every file as after the clean apply, but main.cf compared
	// by its parameters and the compiled tables by their presence.
	cfg := func(tree map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range tree {
			if !strings.HasPrefix(k, "old-config/") && !strings.HasPrefix(k, "new-config/") || strings.HasSuffix(k, "/main.cf") {
				continue
			}
			if ext := filepath.Ext(k); ext == ".db" || ext == ".lmdb" || ext == ".cdb" {
				v = "compiled table"
			}
			out[k] = v
		}
		return out
	}
	if d := crashDiff(cfg(m.fwd.tree), cfg(got.tree), ""); len(d) > 0 {
		fail("Postfix files: "+crashSummary(d), "Postfix configuration differs from after the clean apply:\n  %s", strings.Join(d, "\n  "))
	}
	for side, want := range m.fwd.mainCF {
		if got.mainCF[side] != want {
			fail(side+" main.cf", "%s main.cf differs from after the clean apply:\n%s", side, crashLineDiff(want, got.mainCF[side]))
		}
	}
	if d := crashMapDiff(m.fwd.dns, got.dns); len(d) > 0 {
		fail("DNS: "+strings.Join(d, "; "), "DNS differs from after the clean apply: %v", d)
	}
	if d := crashMapDiff(m.fwd.svc, got.svc); len(d) > 0 {
		fail("services: "+strings.Join(d, "; "), "services differ from after the clean apply: %v", d)
	}
	// The old server as before, with the late mail.
	want := map[string]string{}
	for k, v := range m.back.tree {
		want[k] = v
	}
	for k, v := range m.late {
		want[k] = v
	}
	if d := crashDiff(want, got.tree, "old-mail/"); len(d) > 0 {
		fail("old Maildirs: "+crashSummary(d), "the old Maildirs changed:\n  %s", strings.Join(d, "\n  "))
	}
	// The new server: each message and Dovecot file of the old one, at
	// the same name with the same content, and nothing else but
	// mailplan's snapshots.
	var missing, differ, extra []string
	msgs := 0
	for k, v := range got.tree {
		rel, isOld := strings.CutPrefix(k, "old-mail/")
		if !isOld || !crashCopied(rel) {
			continue
		}
		msgs++
		switch g, ok := got.tree["new-mail/"+rel]; {
		case !ok:
			missing = append(missing, rel)
		case g != v:
			differ = append(differ, rel)
		}
	}
	for k, v := range got.tree {
		rel, isNew := strings.CutPrefix(k, "new-mail/")
		if !isNew || strings.HasPrefix(v, "dir") || strings.Contains(rel, "/.mailplan-snapshots/") || m.back.tree[k] == v {
			continue // not a file this apply made
		}
		if _, ok := got.tree["old-mail/"+rel]; !ok || !crashCopied(rel) {
			extra = append(extra, rel)
		}
	}
	// Exactly once: one file per message (name up to ":") and mailbox.
	copies := map[string]int{}
	for k := range got.tree {
		if rel, ok := strings.CutPrefix(k, "new-mail/"); ok && crashIsMessage(rel) {
			dir := filepath.Dir(filepath.Dir(rel))
			name, _, _ := strings.Cut(filepath.Base(rel), ":")
			copies[dir+"/"+name]++
		}
	}
	var dups []string
	for k, n := range copies {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%s (%d copies)", k, n))
		}
	}
	for _, l := range []struct {
		what string
		list []string
	}{{"lost (not on the new server)", missing}, {"with other content on the new server", differ}, {"on the new server only (not a copy of the old server's)", extra}, {"duplicated on the new server", dups}} {
		if len(l.list) > 0 {
			sort.Strings(l.list)
			fail(fmt.Sprintf("%d %s", len(l.list), l.what), "%d messages or Dovecot files %s: %s", len(l.list), l.what, strings.Join(l.list[:min(len(l.list), 10)], ", "))
		}
	}
	return msgs, short
}

// crashIsMessage reports whether a path relative to a Maildir root is a
// message file (in cur/ or new/).
func crashIsMessage(rel string) bool {
	sub := filepath.Base(filepath.Dir(rel))
	return sub == "cur" || sub == "new"
}

// crashCopied reports whether mailbox_copy copies rel: messages and
// Dovecot's own files (not its index caches).
func crashCopied(rel string) bool {
	return crashIsMessage(rel) || crashMetaFiles[filepath.Base(rel)]
}

// cleanJournal is the record sequence of the clean apply, as the test saw
// it, and its changes (from the state, where the records ended up).
func (m *crashMatrix) cleanJournal(r crashRun) ([]crashRec, []crashChange) {
	t := m.t
	b, err := os.ReadFile(filepath.Join(m.bed.planDir, ".mailplan", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		LastApply struct {
			Changes []crashChange `json:"changes"`
		} `json:"last_apply"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	n := 1
	for _, c := range st.LastApply.Changes {
		n += 2 + len(c.Journal)
	}
	if len(r.seen) > n || len(r.seen) < n/2 {
		t.Fatalf("the test saw %d journal records of the clean apply, which wrote %d", len(r.seen), n)
	}
	recs := r.seen
	for len(recs) < n {
		// Records written right before the state were not seen; they
		// are the last changes' done records.
		recs = append(recs, crashRec{Op: "done"})
	}
	return recs, st.LastApply.Changes
}

type crashChange struct {
	Addr    string            `json:"addr"`
	Action  string            `json:"action"`
	Journal []json.RawMessage `json:"journal"`
}

// crashChoosePoints picks the kill points from the clean apply's journal:
// records 1 (right after "begin": the first fraction of a second), 2 and
// 3, every undo entry of each mailbox_copy pass, and records spread evenly
// over the rest, up to crashApplyPoints, followed alternately by rollback
// and apply; and crashRollbackPoints points spread over a rollback, in the
// rollbacks after the points followed by apply.
func crashChoosePoints(t *testing.T, recs []crashRec, changes []crashChange) []crashMarker {
	var pts []crashMarker
	used := map[int]bool{}
	for _, k := range []int{1, 2, 3} {
		pts = append(pts, crashAtRecords(k))
		used[k] = true
	}
	for _, pass := range crashPasses {
		idx := crashChangeIndexes(recs)
		n := 0
		for i, r := range recs {
			if r.Op == "entry" && idx[r.Index] == pass {
				n++
				pts = append(pts, crashAtEntry(pass, n, i+1))
				used[i+1] = true
			}
		}
		if n == 0 {
			t.Fatalf("the clean apply journalled no entry for %s", pass)
		}
	}
	// The last record is the last change's done; a kill must come before
	// the process exits, so the spread ends one record earlier.
	last := len(recs) - 1
	needed := crashApplyPoints - len(pts)
	for j := range needed {
		k := 4 + (last-4)*j/max(needed-1, 1)
		for used[k] && k < last {
			k++
		}
		if !used[k] {
			used[k] = true
			pts = append(pts, crashAtRecords(k))
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].pos < pts[j].pos })
	// A rollback of the clean apply writes a restoring and a restored
	// record for each change, a restored record only for an adoption.
	total := 0
	for _, c := range changes {
		total += 2
		if c.Action == "adopt" {
			total--
		}
	}
	hosted := 0
	for i := range pts {
		pts[i].id = fmt.Sprintf("A%d", i+1)
		pts[i].next = []string{"rollback", "apply"}[i%2]
		if pts[i].next == "apply" && hosted < crashRollbackPoints {
			rb := crashAtRestore(1 + (total-2)*hosted/(crashRollbackPoints-1))
			hosted++
			rb.id = fmt.Sprintf("R%d", hosted)
			pts[i].host = &rb
		}
	}
	if hosted < crashRollbackPoints {
		t.Fatalf("%d apply points host only %d of the %d rollback points", len(pts), hosted, crashRollbackPoints)
	}
	return pts
}

// crashShard keeps the apply points of shard I of N
// (MAILPLAN_CRASH_SHARD=I/N): every Nth from the Ith, with the rollback
// points they host.
func crashShard(t *testing.T, pts []crashMarker) []crashMarker {
	s := os.Getenv("MAILPLAN_CRASH_SHARD")
	if s == "" {
		return pts
	}
	var i, n int
	if _, err := fmt.Sscanf(s, "%d/%d", &i, &n); err != nil || n < 1 || i < 1 || i > n {
		t.Fatalf("MAILPLAN_CRASH_SHARD=%q: want I/N, 1 <= I <= N", s)
	}
	var keep []crashMarker
	for j, p := range pts {
		if j%n == i-1 {
			keep = append(keep, p)
		}
	}
	return keep
}

// crashRow is one line of the matrix.
type crashRow struct {
	point   string // "A3" (a kill in an apply) or "R2" (in a rollback)
	marker  string
	at      string // where the killed run stopped
	killAt  time.Duration
	next    string
	codes   []int // the next command's exit code (and the reset's)
	outcome string
	took    time.Duration // the next command
	note    string
}

func (r crashRow) String() string {
	codes := make([]string, len(r.codes))
	for i, c := range r.codes {
		codes[i] = strconv.Itoa(c)
	}
	s := fmt.Sprintf("%-4s kill %-8s at %-20s (%s into the run; %s) -> %-8s exit %-5s => %-8s in %s",
		r.point, map[bool]string{true: "rollback", false: "apply"}[strings.HasPrefix(r.point, "R")], r.marker,
		r.killAt.Round(time.Millisecond), r.at, r.next, strings.Join(codes, ","), r.outcome, r.took.Round(100*time.Millisecond))
	if r.note != "" {
		s += "; " + r.note
	}
	return s
}

// afterKill checks that the state is readable and not stuck after a kill:
// state list exits 0, plan exits 0 or 2 and warns that it continues an
// unfinished apply (or rollback).
func (m *crashMatrix) afterKill(what string, r crashRun) {
	t := m.t
	t.Helper()
	if !r.killed {
		t.Errorf("%s: the process was not killed (exit %d); the marker came too late\n%s", what, r.code, r.out)
		return
	}
	if l := m.cli(nil, false, "state", "list"); l.code != 0 {
		t.Errorf("%s: state list: exit %d\n%s", what, l.code, l.out)
	}
	code, out := m.plan()
	if code != 0 && code != 2 {
		t.Errorf("%s: plan: exit %d, want 0 or 2\n%s", what, code, out)
	} else if !strings.Contains(out, "This plan continues an unfinished apply") {
		t.Errorf("%s: plan does not warn that it continues an unfinished apply\n%s", what, out)
	}
}

// episode runs one apply point: an apply killed at p, then p.next; a
// forward outcome is taken back by a rollback, killed at p.host (when not
// nil) and run again.
func (m *crashMatrix) episode(p crashMarker) []crashRow {
	t := m.t
	t.Helper()
	if recs := crashJournal(t, m.journal); len(recs) > 0 {
		t.Fatalf("point %s: the journal is open before the apply: %d records", p.id, len(recs))
	}
	row := crashRow{point: p.id, marker: p.name, next: p.next}
	what := fmt.Sprintf("point %s (apply killed at %s, then %s)", row.point, p.name, p.next)
	killed := m.cli(&p, true, m.apply()...)
	row.at, row.killAt = killed.atKill(), killed.took
	m.afterKill(what, killed)

	var rows []crashRow
	switch p.next {
	case "rollback":
		r := m.cli(nil, false, m.rollback()...)
		row.codes, row.took = []int{r.code}, r.took
		if r.code != 0 {
			t.Errorf("%s: rollback: exit %d, want 0 (log %s)\n%s", what, r.code, r.log, r.out)
		}
		row.outcome = "back"
		if strings.Contains(r.out, "changed nothing left to undo") {
			row.note = "nothing to undo"
		}
		if short := m.checkBack(what); len(short) > 0 || r.code != 0 {
			row.outcome, row.note = "FAILED", strings.Join(short, "; ")
		}
		rows = append(rows, row)
	case "apply":
		r := m.cli(nil, true, m.apply()...)
		row.codes, row.took = []int{r.code}, r.took
		if r.code != 0 {
			t.Errorf("%s: apply: exit %d, want 0 (log %s)\n%s", what, r.code, r.log, r.out)
		}
		row.outcome = "forward"
		n, short := m.checkForward(what)
		row.note = fmt.Sprintf("%d messages and Dovecot files on the new server", n)
		if code, out := m.plan(); code != 0 {
			t.Errorf("%s: plan after the apply: exit %d, want 0 (no changes)\n%s", what, code, out)
			short = append(short, fmt.Sprintf("plan exit %d", code))
		}
		if len(short) > 0 || r.code != 0 {
			row.outcome, row.note = "FAILED", strings.Join(short, "; ")
		}
		rows = append(rows, row)
		rows = append(rows, m.reset(p.host, what)...)
	}
	m.endEpisode()
	return rows
}

// reset takes a forward point back with rollback, killed at host (when
// not nil) and run again; it must end byte-identical to "back".
func (m *crashMatrix) reset(host *crashMarker, what string) []crashRow {
	t := m.t
	t.Helper()
	if host == nil {
		r := m.cli(nil, false, m.rollback()...)
		if r.code != 0 {
			t.Errorf("%s: rollback after the forward point: exit %d (log %s)\n%s", what, r.code, r.log, r.out)
		}
		m.checkBack(what + ", rolled back")
		return nil
	}
	row := crashRow{point: host.id, marker: host.name, next: "rollback"}
	what = fmt.Sprintf("point %s (rollback of %s killed at %s, then rollback)", host.id, strings.TrimPrefix(what, "point "), host.name)
	killed := m.cli(host, false, m.rollback()...)
	row.at, row.killAt = killed.atKill(), killed.took
	m.afterKill(what, killed)
	r := m.cli(nil, false, m.rollback()...)
	row.codes, row.took = []int{r.code}, r.took
	if r.code != 0 {
		t.Errorf("%s: rollback again: exit %d, want 0 (log %s)\n%s", what, r.code, r.log, r.out)
	}
	row.outcome = "back"
	if short := m.checkBack(what); len(short) > 0 || r.code != 0 {
		row.outcome, row.note = "FAILED", strings.Join(short, "; ")
	}
	return []crashRow{row}
}
