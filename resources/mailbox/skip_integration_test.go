package mailbox_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/transport"
)

// listedDirs applies cfg and returns the cur/ and new/ directories the
// scans listed at the source, sorted. (The destination's are listed on
// every run, their names and sizes checked against the record.)
func listedDirs(t *testing.T, e *env, cfg cty.Value) ([]string, result) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	reset := mailbox.SetGoHook(func(what string) {
		p, ok := strings.CutPrefix(what, "list ")
		if b := filepath.Base(p); ok && strings.HasPrefix(p, e.src+"/") && (b == "cur" || b == "new") {
			mu.Lock()
			seen[p] = true
			mu.Unlock()
		}
	})
	r := e.mustApply(cfg)
	reset()
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, r
}

// aged waits until every change made so far is older than the margin.
func aged() { time.Sleep(60 * time.Millisecond) }

// skipEnv is a copy of a small tree, applied once and aged, with the
// margins of the test (fine: 20 ms).
func skipEnv(t *testing.T) (*env, cty.Value) {
	t.Cleanup(mailbox.SetMargins(20*time.Millisecond, 2*time.Second))
	e := newEnv(t)
	makeTree(t, e.src, 2, 4, 11)
	aged()
	cfg := e.config(nil)
	e.mustApply(cfg)
	if _, err := os.Stat(mailbox.DirRecordPath(e.dst)); err != nil {
		t.Fatalf("no dir record after the first copy: %v", err)
	}
	aged()
	return e, cfg
}

// TestSkipUnchanged: a re-run lists no message directory that has not
// changed at either end since the copy, and still sees a delivery made
// right after a run and a flag change.
func TestSkipUnchanged(t *testing.T) {
	e, cfg := skipEnv(t)
	listed, r := listedDirs(t, e, cfg)
	if len(listed) != 0 || len(r.journal) != 0 || r.bytes != 0 {
		t.Errorf("no-change re-run: listed %q, journalled %d entries, copied %d bytes", listed, len(r.journal), r.bytes)
	}
	if !strings.HasPrefix(r.plan.Summary, "copy 0 messages (0 B) in 12 mailboxes") {
		t.Errorf("no-change summary %q", r.plan.Summary)
	}
	e.settled(cfg)

	// A delivery right after the run, into a directory the run skipped.
	msg := filepath.Join(e.src, "user0", "Maildir", ".Sent", "new", "1800000001.M1P1.late")
	must(t, os.WriteFile(msg, []byte("late mail"), 0o600))
	listed, r = listedDirs(t, e, cfg)
	if !strings.HasPrefix(r.plan.Summary, "copy 1 messages (9 B) in 12 mailboxes") {
		t.Errorf("after a delivery: summary %q", r.plan.Summary)
	}
	want := []string{filepath.Join(e.src, "user0", "Maildir", ".Sent", "new")}
	if strings.Join(listed, "\n") != strings.Join(want, "\n") {
		t.Errorf("after a delivery, listed %q, want %q", listed, want)
	}
	if _, err := os.Stat(filepath.Join(e.dst, "user0", "Maildir", ".Sent", "new", "1800000001.M1P1.late")); err != nil {
		t.Errorf("the late delivery was not copied: %v", err)
	}
	aged()

	// A flag change: a rename in cur/.
	cur := filepath.Join(e.src, "user1", "Maildir", "cur")
	names, err := filepath.Glob(filepath.Join(cur, "*:2,*"))
	must(t, err)
	if len(names) == 0 {
		t.Fatal("no message in cur/")
	}
	renamed := strings.SplitN(filepath.Base(names[0]), ":2,", 2)[0] + ":2,RST"
	must(t, os.Rename(names[0], filepath.Join(cur, renamed)))
	if r := e.mustApply(cfg); !strings.Contains(r.plan.Summary, "1 flag changes") {
		t.Errorf("after a flag change: summary %q", r.plan.Summary)
	}
	if _, err := os.Stat(filepath.Join(e.dst, "user1", "Maildir", "cur", renamed)); err != nil {
		t.Errorf("the flag change was not copied: %v", err)
	}
	sameTrees(t, e.src, e.dst, true)
	aged()
	if listed, _ := listedDirs(t, e, cfg); len(listed) != 0 {
		t.Errorf("re-run after the changes listed %q", listed)
	}
}

// TestSkipRacy: a directory changed within the margin of the listing
// that saw it is not recorded, so the next run lists it again.
func TestSkipRacy(t *testing.T) {
	t.Cleanup(mailbox.SetMargins(time.Hour, time.Hour))
	e := newEnv(t)
	makeTree(t, e.src, 1, 2, 3)
	cfg := e.config(nil)
	e.mustApply(cfg)
	listed, _ := listedDirs(t, e, cfg)
	if src := len(listed); src != 6*2 { // 6 mailboxes, cur/ and new/
		t.Errorf("every change is within the margin, but the re-run listed %d cur/ and new/ at the source: %q", src, listed)
	}
	// Same second, same tick: a message delivered now is seen now.
	must(t, os.WriteFile(filepath.Join(e.src, "user0", "Maildir", "cur", "1800000002.M2P2.now:2,S"), []byte("now"), 0o600))
	if r := e.mustApply(cfg); !strings.HasPrefix(r.plan.Summary, "copy 1 messages") {
		t.Errorf("summary %q", r.plan.Summary)
	}
	sameTrees(t, e.src, e.dst, true)
}

// TestSkipRecordDoubt: a dir record removed, unreadable, or naming
// other stats lists what it can no longer vouch for.
func TestSkipRecordDoubt(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, p string)
		all    bool
	}{
		{name: "removed", tamper: func(t *testing.T, p string) { must(t, os.Remove(p)) }, all: true},
		{name: "garbage", tamper: func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("{not json"), 0o600)) }, all: true},
		{name: "other key", tamper: func(t *testing.T, p string) { edit(t, p, func(m map[string]any) { m["key"] = "0000" }) }, all: true},
		{name: "one stat changed", tamper: func(t *testing.T, p string) {
			edit(t, p, func(m map[string]any) {
				st := m["src"].(map[string]any)["user0/Maildir/cur"].(map[string]any)
				st["ino"] = st["ino"].(float64) + 1
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, cfg := skipEnv(t)
			tc.tamper(t, mailbox.DirRecordPath(e.dst))
			listed, _ := listedDirs(t, e, cfg)
			cur := filepath.Join(e.src, "user0", "Maildir", "cur")
			if !contains(listed, cur) {
				t.Errorf("%s not listed: %q", cur, listed)
			}
			if tc.all && len(listed) != 12*2 {
				t.Errorf("only %d directories listed: %q", len(listed), listed)
			}
			sameTrees(t, e.src, e.dst, true)
		})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// edit changes the JSON file p.
func edit(t *testing.T, p string, f func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	m := map[string]any{}
	must(t, json.Unmarshal(b, &m))
	f(m)
	b, err = json.Marshal(m)
	must(t, err)
	must(t, os.WriteFile(p, b, 0o600))
}

// TestSkipSymlinkSwapped: a cur/ swapped for a link after a recorded
// run is not followed, at the source (reported, nothing copied from
// where it points) nor at the destination (refused, naming it).
func TestSkipSymlinkSwapped(t *testing.T) {
	t.Run("source", func(t *testing.T) {
		e, cfg := skipEnv(t)
		elsewhere := filepath.Join(t.TempDir(), "elsewhere")
		must(t, os.MkdirAll(elsewhere, 0o755))
		must(t, os.WriteFile(filepath.Join(elsewhere, "1800000004.M4P4.secret:2,S"), []byte("secret"), 0o600))
		cur := filepath.Join(e.src, "user0", "Maildir", ".Sent", "cur")
		must(t, os.Rename(cur, cur+".old"))
		must(t, os.Symlink(elsewhere, cur))
		r := e.apply(cfg)
		if r.err == nil && !strings.Contains(r.plan.Summary, "symbolic link") {
			t.Errorf("the link is not reported: %q", r.plan.Summary)
		}
		matches, _ := filepath.Glob(filepath.Join(e.dst, "*", "Maildir", "*", "*", "1800000004*"))
		if len(matches) > 0 {
			t.Errorf("copied through the link: %q", matches)
		}
	})
	t.Run("destination", func(t *testing.T) {
		e, cfg := skipEnv(t)
		elsewhere := filepath.Join(t.TempDir(), "elsewhere")
		cur := filepath.Join(e.dst, "user0", "Maildir", "cur")
		must(t, os.Rename(cur, elsewhere))
		must(t, os.Symlink(elsewhere, cur))
		must(t, os.WriteFile(filepath.Join(e.src, "user0", "Maildir", "cur", "1800000005.M5P5.new:2,S"), []byte("new"), 0o600))
		before := listTree(t, elsewhere)
		r := e.apply(cfg)
		if r.err == nil || !errors.Is(r.err, transport.ErrSymlink) {
			t.Errorf("not refused: %v (summary %q)", r.err, r.plan.Summary)
		}
		if after := listTree(t, elsewhere); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Errorf("written where the link points:\nbefore %q\nafter  %q", before, after)
		}
	})
}

// TestSkipMirrorDeletion: with mirror, which acts on what the source no
// longer has, every run lists everything, and a deletion at the source
// after a run is carried over.
func TestSkipMirrorDeletion(t *testing.T) {
	t.Cleanup(mailbox.SetMargins(20*time.Millisecond, 2*time.Second))
	e := newEnv(t)
	makeTree(t, e.src, 1, 4, 13)
	aged()
	cfg := e.config(map[string]cty.Value{"mirror": cty.BoolVal(true)})
	e.mustApply(cfg)
	aged()
	names, err := filepath.Glob(filepath.Join(e.src, "user0", "Maildir", "cur", "*"))
	must(t, err)
	if len(names) == 0 {
		t.Fatal("no message in cur/")
	}
	must(t, os.Remove(names[0]))
	listed, r := listedDirs(t, e, cfg)
	if !strings.Contains(r.plan.Summary, "remove 1 messages deleted at the source") {
		t.Errorf("summary %q", r.plan.Summary)
	}
	if len(listed) != 6*2 {
		t.Errorf("with mirror, only %d directories listed", len(listed))
	}
	if _, err := os.Stat(filepath.Join(e.dst, "user0", "Maildir", "cur", filepath.Base(names[0]))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the message deleted at the source is still at the destination: %v", err)
	}
}

// TestSkipDestinationRewritten: a message rewritten in place at the
// destination changes no directory's times; the names and sizes the
// record holds still find the conflict, with nothing new at the source.
func TestSkipDestinationRewritten(t *testing.T) {
	e, cfg := skipEnv(t)
	msgs, err := filepath.Glob(filepath.Join(e.dst, "user1", "Maildir", ".Sent", "cur", "*"))
	must(t, err)
	if len(msgs) == 0 {
		t.Fatal("no message copied")
	}
	must(t, os.WriteFile(msgs[0], []byte("other content of another length"), 0o600))
	r := e.apply(cfg)
	var ce *mailbox.ConflictError
	if !errors.As(r.err, &ce) || !strings.Contains(r.err.Error(), msgs[0]) {
		t.Fatalf("apply: %v, want a conflict naming %s", r.err, msgs[0])
	}
}
