package mailbox_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/transport"
)

func count(v cty.Value, attr string) int64 {
	n, _ := v.GetAttr(attr).AsBigFloat().Int64()
	return n
}

// TestCopy: the first copy, a no-change re-run, new mail, a flag change,
// and the rollback of each.
func TestCopy(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 2, 12, 1)
	cfg := e.config(map[string]cty.Value{"verify": cty.StringVal("sha256")})

	r := e.mustApply(cfg)
	if !r.read.Current.IsNull() {
		t.Errorf("Current before the first copy is %s, want null (created)", r.read.Current.GoString())
	}
	if !strings.HasPrefix(r.plan.Summary, "copy 144 messages") || !strings.Contains(r.plan.Summary, "in 12 mailboxes") {
		t.Errorf("summary %q", r.plan.Summary)
	}
	sameTrees(t, e.src, e.dst, true)
	for rel := range tree(t, e.dst) {
		if strings.Contains(rel, "dovecot.index") || strings.Contains(rel, ".profile") {
			t.Errorf("copied %s", rel)
		}
	}
	e.settled(cfg)
	first := r.journal

	// Nothing new: nothing copied, nothing journalled.
	if r := e.mustApply(cfg); len(r.journal) != 0 || r.bytes != 0 {
		t.Errorf("no-change re-run journalled %d entries, copied %d bytes", len(r.journal), r.bytes)
	}

	// New mail and a flag change at the source.
	before := tree(t, e.dst)
	added := addMessages(t, e.src, 2, "a")
	md := filepath.Join(e.src, "user0", "Maildir")
	newMsgs, _ := filepath.Glob(filepath.Join(md, "new", "*.old,*"))
	old := newMsgs[0]
	moved := filepath.Join(md, "cur", filepath.Base(old)+":2,S")
	must(t, os.Rename(old, moved))
	r = e.mustApply(cfg)
	cur := r.read.Current
	if got := count(cur, "pending_messages"); got != int64(added) {
		t.Errorf("pending_messages %d, want %d", got, added)
	}
	if got := count(cur, "flag_changes"); got != 1 {
		t.Errorf("flag_changes %d, want 1", got)
	}
	sameTrees(t, e.src, e.dst, true)
	e.settled(cfg)

	// Rollback of that apply: exactly the earlier destination.
	e.restore(cfg, r.journal)
	if diff := diffTrees(before, tree(t, e.dst)); diff != "" {
		t.Errorf("after rollback: %s", diff)
	}
	// Rollback of the first copy: an empty destination again.
	e.restore(cfg, first)
	if left := tree(t, e.dst); len(left) != 0 {
		t.Errorf("after rollback of the first copy %d files remain, e.g. %v", len(left), firstKey(left))
	}
	// The source was never written.
	must(t, os.Rename(moved, old))
}

func firstKey(m map[string]fileState) string {
	for k := range m {
		return k
	}
	return ""
}

func diffTrees(want, got map[string]fileState) string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			out = append(out, "changed or missing "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "extra "+k)
		}
	}
	return strings.Join(out, "; ")
}

func TestConflict(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 1, 5, 2)
	cfg := e.config(nil)
	e.mustApply(cfg)
	// The same base name with other content at the destination.
	msgs, _ := filepath.Glob(filepath.Join(e.dst, "user0", "Maildir", "cur", "*"))
	victim := msgs[0]
	must(t, os.WriteFile(victim, []byte("other content of another length"), 0o600))
	addMessages(t, e.src, 1, "c")
	before := tree(t, e.dst)
	r := e.apply(cfg)
	var ce *mailbox.ConflictError
	if !errors.As(r.err, &ce) || !strings.Contains(r.err.Error(), victim) {
		t.Fatalf("apply: %v, want a conflict naming %s", r.err, victim)
	}
	if count(r.read.Current, "conflicts") != 1 || !strings.Contains(r.plan.Summary, "CONFLICTS") {
		t.Errorf("plan: %s %q", r.read.Current.GoString(), r.plan.Summary)
	}
	if diff := diffTrees(before, tree(t, e.dst)); diff != "" {
		t.Errorf("a refused apply changed the destination: %s", diff)
	}
}

// TestMetadataConflict: Dovecot on the new server rewrote a uidlist.
func TestMetadataConflict(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 1, 3, 3)
	cfg := e.config(nil)
	e.mustApply(cfg)
	// The source's Dovecot assigns a UID: the destination follows.
	ul := filepath.Join("user0", "Maildir", "dovecot-uidlist")
	must(t, os.WriteFile(filepath.Join(e.src, ul), []byte("3 V1700000000 N5 Gx\n1 a\n4 b\n"), 0o600))
	r := e.mustApply(cfg)
	sameTrees(t, e.src, e.dst, true)
	if count(r.read.Current, "pending_metadata") != 1 {
		t.Errorf("pending_metadata %s", r.read.Current.GetAttr("pending_metadata").GoString())
	}
	// Rollback puts back the destination's earlier uidlist.
	e.restore(cfg, r.journal)
	if b, _ := os.ReadFile(filepath.Join(e.dst, ul)); strings.Contains(string(b), "N5") {
		t.Errorf("rollback did not put back the uidlist: %q", b)
	}
	e.mustApply(cfg)
	// The destination's Dovecot changes it (IMAP there is live, after
	// the cutover) while the source's stays as copied: nothing to do.
	must(t, os.WriteFile(filepath.Join(e.dst, ul), []byte("3 V1700000000 N10 Gx\n"), 0o600))
	e.settled(cfg)
	if b, _ := os.ReadFile(filepath.Join(e.dst, ul)); !strings.Contains(string(b), "N10") {
		t.Errorf("a re-run touched the destination's own uidlist: %q", b)
	}
	// Now the source changes too: a conflict with the remedy.
	must(t, os.WriteFile(filepath.Join(e.src, ul), []byte("3 V1700000000 N6 Gx\n"), 0o600))
	r = e.apply(cfg)
	if r.err == nil || !strings.Contains(r.err.Error(), "service_state") {
		t.Fatalf("apply: %v, want a metadata conflict with the remedy", r.err)
	}
}

func TestSelection(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 2, 3, 4)
	cfg := e.config(map[string]cty.Value{
		"include":       cty.ListVal([]cty.Value{cty.StringVal("user0/**")}),
		"exclude":       cty.ListVal([]cty.Value{cty.StringVal("**/.Archive*")}),
		"preserve_uids": cty.False,
	})
	e.mustApply(cfg)
	for rel := range tree(t, e.dst) {
		switch {
		case !strings.HasPrefix(rel, "user0/"), strings.Contains(rel, ".Archive"):
			t.Errorf("not selected but copied: %s", rel)
		case strings.Contains(rel, "dovecot") || strings.Contains(rel, "maildirfolder") || strings.Contains(rel, "subscriptions"):
			t.Errorf("copied without preserve_uids: %s", rel)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dst, "user0", "Maildir", ".Sent", "cur")); err != nil {
		t.Error(err)
	}
	e.settled(cfg)
}

func TestSourceProblems(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 1, 3, 5)
	outside := filepath.Join(t.TempDir(), "outside")
	makeTree(t, outside, 1, 2, 6)
	must(t, os.Symlink(outside, filepath.Join(e.src, "linked")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(e.src, "user0", "Maildir", "cur", "evil:2,S")))
	cfg := e.config(nil)
	r := e.mustApply(cfg)
	if !strings.Contains(r.plan.Summary, "2 symbolic links skipped") || !strings.Contains(r.plan.Summary, "linked") {
		t.Errorf("summary %q", r.plan.Summary)
	}
	for rel := range tree(t, e.dst) {
		if strings.Contains(rel, "linked") || strings.Contains(rel, "evil") {
			t.Errorf("followed a symlink: %s", rel)
		}
	}

	t.Run("not a directory", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		must(t, os.WriteFile(f, nil, 0o600))
		e2 := *e
		e2.src = f
		r := e2.apply(e2.config(nil))
		if r.err == nil || !strings.Contains(r.err.Error(), "is not a directory") {
			t.Errorf("got %v", r.err)
		}
		e2.src = f + ".missing"
		if r := e2.apply(e2.config(nil)); r.err == nil || !strings.Contains(r.err.Error(), "does not exist") {
			t.Errorf("got %v", r.err)
		}
	})
	t.Run("permission denied", func(t *testing.T) {
		denied := filepath.Join(e.src, "user0", "Maildir", ".Sent", "cur")
		e2 := e.withHosts(hostsFunc{base: e.hosts, name: "old", wrap: func(h transport.Host) transport.Host {
			return &failingHost{Host: h, n: -1, denied: denied}
		}})
		r := e2.apply(e2.config(nil))
		if r.err == nil || !errors.Is(r.err, os.ErrPermission) || !strings.Contains(r.err.Error(), denied) {
			t.Errorf("got %v, want permission denied naming %s", r.err, denied)
		}
	})
	t.Run("free space", func(t *testing.T) {
		free := uint64(1000)
		e2 := e.withHosts(hostsFunc{base: e.hosts, name: "new", wrap: func(h transport.Host) transport.Host {
			return &failingHost{Host: h, n: -1, free: &free}
		}})
		addMessages(t, e.src, 1, "f")
		r := e2.apply(e2.config(nil))
		if r.err == nil || !strings.Contains(r.err.Error(), "Not enough free space") {
			t.Errorf("got %v", r.err)
		}
	})
}

// TestFailureMidCopy: a destination failing after n creates, at several
// points; rollback removes exactly what was created, and a re-run
// completes the copy.
func TestFailureMidCopy(t *testing.T) {
	for _, n := range []int64{0, 1, 7, 40} {
		e := newEnv(t)
		makeTree(t, e.src, 1, 10, 7)
		cfg := e.config(nil)
		e2 := e.withHosts(hostsFunc{base: e.hosts, name: "new", wrap: func(h transport.Host) transport.Host {
			return &failingHost{Host: h, n: n}
		}})
		r := e2.apply(cfg)
		if r.err == nil {
			t.Fatalf("n=%d: apply did not fail", n)
		}
		// No partial message visible: every file in cur/new is complete.
		srcTree := tree(t, e.src)
		for rel, st := range tree(t, e.dst) {
			if w, ok := srcTree[rel]; ok && w.data != st.data {
				t.Errorf("n=%d: partial %s", n, rel)
			}
			if strings.Contains(rel, ".mailplan-") && !strings.Contains(rel, ".mailplan-snapshots") {
				t.Errorf("n=%d: temporary file left: %s", n, rel)
			}
		}
		if n == 7 {
			// Re-run without rollback: completes, copies nothing twice.
			e.mustApply(cfg)
			sameTrees(t, e.src, e.dst, true)
			continue
		}
		e.restore(cfg, r.journal)
		if left := tree(t, e.dst); len(left) != 0 {
			t.Errorf("n=%d: after rollback %d files remain, e.g. %s", n, len(left), firstKey(left))
		}
		if _, err := os.Stat(e.dst); !os.IsNotExist(err) {
			t.Errorf("n=%d: the destination root created by the apply is still there", n)
		}
		e.mustApply(cfg)
		sameTrees(t, e.src, e.dst, true)
	}
}

func TestValidate(t *testing.T) {
	e := &env{t: t, typ: mailbox.New(nil), src: "relative", dst: "/"}
	cfg := e.config(map[string]cty.Value{
		"verify":      cty.StringVal("md5"),
		"parallelism": cty.NumberFloatVal(math.Pi),
		"include":     cty.ListVal([]cty.Value{cty.StringVal("/abs")}),
	})
	err := e.typ.Validate(t.Context(), cfg)
	for _, want := range []string{"Relative source path", "Root directory as destination", "Invalid verify method", "Invalid parallelism", "Invalid mailbox pattern"} {
		if err == nil || !strings.Contains(errorsText(err), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func errorsText(err error) string {
	var es resource.AttrErrors
	if !errors.As(err, &es) {
		return err.Error()
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Error())
	}
	return strings.Join(out, "\n")
}

// TestRollbackFindsMovedCopies: IMAP on the destination moved copies from
// new/ to cur/ and changed flags; a rollback still removes every copy,
// and leaves the mail delivered there since.
func TestRollbackFindsMovedCopies(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 1, 4, 7)
	cfg := e.config(nil)
	r := e.mustApply(cfg)
	md := filepath.Join(e.dst, "user0", "Maildir")
	inNew, _ := filepath.Glob(filepath.Join(md, "new", "*"))
	inCur, _ := filepath.Glob(filepath.Join(md, "cur", "*"))
	if len(inNew) == 0 || len(inCur) == 0 {
		t.Fatalf("corpus without messages in new/ (%d) or cur/ (%d)", len(inNew), len(inCur))
	}
	// Dovecot: new/ to cur/ when seen, and a flag change renames.
	must(t, os.Rename(inNew[0], filepath.Join(md, "cur", filepath.Base(inNew[0])+":2,")))
	base, _, _ := strings.Cut(filepath.Base(inCur[0]), ":")
	must(t, os.Rename(inCur[0], filepath.Join(md, "cur", base+":2,RS")))
	// Mail the new server delivered itself.
	own := filepath.Join(md, "new", "1800000000.own.newserver")
	must(t, os.WriteFile(own, []byte("Subject: delivered at the new server\n\nhi\n"), 0o600))

	e.restore(cfg, r.journal)
	left := tree(t, e.dst)
	for rel := range left {
		if !strings.HasSuffix(rel, "1800000000.own.newserver") {
			t.Errorf("left after rollback: %s", rel)
		}
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("the new server's own mail: %v", err)
	}
}
