package mailbox_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestMirror: a first pass copies; then, at the source, messages are
// deleted, re-flagged and moved to another folder, and at the destination
// users change two of the copies. A final pass with mirror (another
// resource: it knows the first pass's copies from the destination's
// manifest) removes what the source deleted, renames what it re-flagged,
// copies the moved message to its new folder and removes it from the old
// one, and leaves alone what the destination changed. A message dedupe
// matched with a shadow copy is removed too when the source deletes it.
// Nothing deleted comes back on later runs, of either pass; a rollback of
// the final pass puts back every file byte for byte.
func TestMirror(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 1, 12, 31)
	md := filepath.Join(e.src, "user0", "Maildir")
	dmd := filepath.Join(e.dst, "user0", "Maildir")
	// A message the new server got by a shadow copy before the first pass.
	pSrc := filepath.Join(md, "cur", "1750000000.M7P1.old:2,S")
	must(t, os.WriteFile(pSrc, []byte("Message-ID: <p@example.org>\nSubject: p\n\nbody\n"), 0o600))
	pDst := shadowCopy(t, pSrc, dmd, "1750000100.M1P1.new")

	first := e.config(nil)
	r := e.mustApply(first)
	if !strings.Contains(r.plan.Summary, "1 already there") {
		t.Errorf("first pass: summary %q", r.plan.Summary)
	}

	cur, _ := filepath.Glob(filepath.Join(md, "cur", "*.old,*"))
	newMsgs, _ := filepath.Glob(filepath.Join(md, "new", "*.old,*"))
	sort.Strings(cur)
	if len(cur) < 5 || len(newMsgs) < 1 {
		t.Fatalf("corpus: %d in cur/, %d in new/", len(cur), len(newMsgs))
	}
	base := func(p string) string { b, _, _ := strings.Cut(filepath.Base(p), ":"); return b }
	a, b, c, d, ee, f := cur[0], cur[1], cur[2], newMsgs[0], cur[3], cur[4]
	// At the source: a deleted, b re-flagged, c moved to Sent, d read
	// (new/ to cur/), e deleted, f re-flagged, and p deleted.
	must(t, os.Remove(a))
	must(t, os.Rename(b, filepath.Join(md, "cur", base(b)+":2,DF")))
	must(t, os.Rename(c, filepath.Join(md, ".Sent", "cur", filepath.Base(c))))
	must(t, os.Rename(d, filepath.Join(md, "cur", base(d)+":2,S")))
	must(t, os.Remove(ee))
	must(t, os.Rename(f, filepath.Join(md, "cur", base(f)+":2,DP")))
	must(t, os.Remove(pSrc))
	// At the destination: users re-flagged e and f.
	eDst := filepath.Join(dmd, "cur", base(ee)+":2,RT")
	fDst := filepath.Join(dmd, "cur", base(f)+":2,DR")
	must(t, os.Rename(filepath.Join(dmd, "cur", filepath.Base(ee)), eDst))
	must(t, os.Rename(filepath.Join(dmd, "cur", filepath.Base(f)), fDst))
	before := tree(t, e.dst)

	final := e.config(map[string]cty.Value{"mirror": cty.True})
	r = e.mustApply(final)
	for _, want := range []string{"copy 1 messages", "2 flag changes", "remove 3 messages deleted at the source", "2 changed at both ends"} {
		if !strings.Contains(r.plan.Summary, want) {
			t.Errorf("final pass: summary %q, want %q", r.plan.Summary, want)
		}
	}
	if got := count(r.read.Current, "pending_removals"); got != 3 {
		t.Errorf("pending_removals %d, want 3", got)
	}
	has := func(p string) bool { _, err := os.Stat(p); return err == nil }
	inbox := byGUID(t, dmd)
	for _, gone := range []string{base(a), base(c), base(pDst)} {
		if p, ok := inbox[gone]; ok {
			t.Errorf("still in the INBOX at the destination: %s", p)
		}
	}
	for _, p := range []string{
		filepath.Join(dmd, "cur", base(b)+":2,DF"),
		filepath.Join(dmd, "cur", base(d)+":2,S"),
		filepath.Join(dmd, ".Sent", "cur", filepath.Base(c)),
		eDst, fDst,
	} {
		if !has(p) {
			t.Errorf("missing at the destination: %s", p)
		}
	}
	removed, _ := filepath.Glob(filepath.Join(e.dst, "user0", ".mailplan-snapshots", "Maildir", "INBOX", "removed-*", "*", "*"))
	if len(removed) != 3 {
		t.Errorf("kept removed messages: %q, want 3", removed)
	}
	e.settled(final)

	// Rollback of the final pass: every file back, byte for byte.
	e.restore(final, r.journal)
	if diff := diffTrees(before, tree(t, e.dst)); diff != "" {
		t.Errorf("after rollback: %s", diff)
	}

	// Applied again, then both passes re-run: nothing deleted comes back.
	e.mustApply(final)
	e.mustApply(first)
	e.mustApply(final)
	inbox = byGUID(t, dmd)
	for _, gone := range []string{base(a), base(c), base(pDst)} {
		if p, ok := inbox[gone]; ok {
			t.Errorf("came back: %s", p)
		}
	}
	// The first pass, without mirror, still makes the source's flags win
	// (as it always did): f is the source's again, e stays.
	if !has(filepath.Join(dmd, "cur", base(f)+":2,DP")) || !has(eDst) {
		t.Errorf("after the first pass again: %v", inbox)
	}
	e.settled(final)
}
