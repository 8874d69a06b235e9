package mailbox_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/resourcetest"
)

// hostile is one name of the corpus: a mailbox directory under the root
// (kind "mailbox", rel is the Maildir), a Maildir++ folder of
// alice/Maildir ("folder") or a file in one of its cur/ or new/
// ("message", rel relative to the root). copied: mailplan copies it byte
// for byte; else it refuses it, naming it.
type hostile struct {
	kind   string
	rel    string
	copied bool
}

var long = func(c byte, n int) string { return strings.Repeat(string(c), n) }

// hostileCorpus: the cases of issue 11 item 3 and what Dovecot 2.3.19 was
// seen to do with each (names.go).
var hostileCorpus = []hostile{
	// Mailbox directories under the root; every one holds a message.
	{"mailbox", "alice/Maildir", true},
	{"mailbox", "u\nnl", true}, // the root of the user is the Maildir
	{"mailbox", "u\nnl2/Maildir", true},
	{"mailbox", "tab\tuser/Maildir", true},
	{"mailbox", "-rf/Maildir", true},
	{"mailbox", long('m', 255) + "/Maildir", true},
	{"mailbox", "bad\xff\xfe/Maildir", true},
	{"mailbox", ".dotuser/Maildir", true},
	{"mailbox", "cr\ruser/Maildir", true},
	{"mailbox", "notmp/Maildir", true},            // cur/ and new/, no tmp/
	{"mailbox", "half/Maildir", false},            // cur/ only
	{"mailbox", "evil.mailplan-x/Maildir", false}, // mailplan's marker
	// Maildir++ folders of alice.
	{"folder", "alice/Maildir/.Fol\nder", true},
	{"folder", "alice/Maildir/.Tab\there", true},
	{"folder", "alice/Maildir/.-dash", true},
	{"folder", "alice/Maildir/." + long('f', 254), true},
	{"folder", "alice/Maildir/.&AOk-", true},       // é
	{"folder", "alice/Maildir/.&AOk", true},        // unterminated shift
	{"folder", "alice/Maildir/.&AGE-", true},       // "a", which must not be encoded
	{"folder", "alice/Maildir/.&-", true},          // "&"
	{"folder", "alice/Maildir/.&Jjo-!", true},      // ☺!
	{"folder", "alice/Maildir/.Caf\xc3\xa9", true}, // raw UTF-8
	{"folder", "alice/Maildir/..Lead", true},       // an empty first level
	{"folder", "alice/Maildir/.A..B", true},
	{"folder", "alice/Maildir/.Bad\xff", false}, // Dovecot does not list it
	{"folder", "alice/Maildir/.x.mailplan-y", false},
	// Files in alice's INBOX.
	{"message", "alice/Maildir/cur/1.M1P1.nl\nx:2,S", false}, // Dovecot ignores it
	{"message", "alice/Maildir/cur/1.M2P1.tab\tx:2,S", true},
	{"message", "alice/Maildir/cur/-1.M3P1.dash:2,S", true},
	{"message", "alice/Maildir/cur/1.M4P1.bad\xff:2,S", true},
	{"message", "alice/Maildir/cur/.1.M5P1.dot:2,S", false}, // Dovecot ignores it
	{"message", "alice/Maildir/cur/1.M6P1." + long('y', 255-len("1.M6P1.:2,S")) + ":2,S", true},
	{"message", "alice/Maildir/new/1.M8P1.new\xfe", true},
	{"message", "alice/Maildir/new/" + long('n', 255), true},
	{"message", "alice/Maildir/cur/1.M9P1.cr\rx:2,RS", true},
	{"message", "alice/Maildir/cur/a dir", false},
	{"message", "alice/Maildir/new/a fifo", false},
}

// makeHostile writes the corpus under root; every Maildir gets one
// ordinary message, every folder its maildirfolder file.
func makeHostile(t *testing.T, root string) {
	for _, h := range hostileCorpus {
		p := filepath.Join(root, h.rel)
		switch h.kind {
		case "mailbox", "folder":
			subs := []string{"cur", "new", "tmp"}
			switch {
			case strings.HasPrefix(h.rel, "notmp/"):
				subs = subs[:2]
			case strings.HasPrefix(h.rel, "half/"):
				subs = subs[:1]
			}
			for _, s := range subs {
				must(t, os.MkdirAll(filepath.Join(p, s), 0o700))
			}
			must(t, os.WriteFile(filepath.Join(p, "cur", "1700000000.M1P1.plain:2,S"), []byte("Subject: "+strconv.Quote(h.rel)+"\n\nbody\n"), 0o600))
			if h.kind == "folder" {
				must(t, os.WriteFile(filepath.Join(p, "maildirfolder"), nil, 0o600))
			}
		}
	}
	for _, h := range hostileCorpus {
		p := filepath.Join(root, h.rel)
		switch {
		case h.kind != "message":
		case strings.HasSuffix(h.rel, "a dir"):
			must(t, os.Mkdir(p, 0o700))
		case strings.HasSuffix(h.rel, "a fifo"):
			must(t, syscall.Mkfifo(p, 0o600))
		default:
			must(t, os.WriteFile(p, []byte("Subject: "+strconv.Quote(h.rel)+"\n\nbody\n"), 0o600))
		}
	}
}

// onDisk counts, independently of mailplan, the directories holding cur/
// or new/ and the entries of those cur/ and new/.
func onDisk(t *testing.T, root string) (maildirs, entries int) {
	must(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() && (fi.Name() == "cur" || fi.Name() == "new") {
			es, err := os.ReadDir(p)
			must(t, err)
			entries += len(es)
			if _, err := os.Stat(filepath.Join(filepath.Dir(p), "cur")); fi.Name() == "cur" || err != nil {
				maildirs++
			}
			return filepath.SkipDir
		}
		return nil
	}))
	return maildirs, entries
}

var summaryRE = regexp.MustCompile(`^copy (\d+) messages \([^)]*\) in (\d+) mailboxes`)

// TestHostileNames: every name of the corpus is copied byte for byte or
// refused with a message quoting it; the plan's counts add up to what is
// on disk; the re-plan is clean; the rollback removes exactly what was
// copied (journal paths that are not UTF-8 included).
func TestHostileNames(t *testing.T) {
	e := newEnv(t)
	makeHostile(t, e.src)
	cfg := e.config(nil)

	// What the corpus says, and what is on disk.
	var wantBoxes, wantMsgs, wantRefused, refusedBoxes, refusedMsgs int
	for _, h := range hostileCorpus {
		switch {
		case h.kind != "message" && h.copied:
			wantBoxes++
			wantMsgs++ // its ordinary message
		case h.kind != "message":
			wantRefused++
			refusedBoxes++
			refusedMsgs++ // refused with its mailbox
		case h.copied:
			wantMsgs++
		default:
			wantRefused++
			refusedMsgs++
		}
	}
	diskBoxes, diskEntries := onDisk(t, e.src)
	if wantBoxes+refusedBoxes != diskBoxes || wantMsgs+refusedMsgs != diskEntries {
		t.Fatalf("corpus: %d+%d mailboxes and %d+%d messages, disk has %d and %d", wantBoxes, refusedBoxes, wantMsgs, refusedMsgs, diskBoxes, diskEntries)
	}

	r := e.mustApply(cfg)
	m := summaryRE.FindStringSubmatch(r.plan.Summary)
	if m == nil {
		t.Fatalf("summary %q", r.plan.Summary)
	}
	if m[1] != strconv.Itoa(wantMsgs) || m[2] != strconv.Itoa(wantBoxes) {
		t.Errorf("summary counts %s messages in %s mailboxes, want %d in %d: %q", m[1], m[2], wantMsgs, wantBoxes, r.plan.Summary)
	}
	if !strings.Contains(r.plan.Summary, fmt.Sprintf(", %d names not copied (", wantRefused)) {
		t.Errorf("summary does not count %d refused names: %q", wantRefused, r.plan.Summary)
	}
	if strings.ContainsAny(r.plan.Summary, "\n\r\t") || !strings.Contains(r.plan.Summary, "\\n") {
		t.Errorf("summary holds raw control characters, or no quoted newline: %q", r.plan.Summary)
	}

	// Byte for byte: every copied name, with its bytes; no refused one.
	src, dst := tree(t, e.src), tree(t, e.dst)
	for rel := range dst {
		if strings.Contains(rel, ".mailplan-snapshots") {
			delete(dst, rel)
		}
	}
	for _, h := range hostileCorpus {
		var files []string
		if h.kind == "message" {
			files = []string{h.rel}
		} else {
			files = []string{filepath.Join(h.rel, "cur", "1700000000.M1P1.plain:2,S")}
			if h.kind == "folder" {
				files = append(files, filepath.Join(h.rel, "maildirfolder"))
			}
		}
		for _, f := range files {
			got, ok := dst[f]
			delete(dst, f)
			switch {
			case h.copied && !ok:
				t.Errorf("%q not copied", f)
			case h.copied && got != src[f]:
				t.Errorf("%q differs at the destination", f)
			case !h.copied && ok:
				t.Errorf("%q copied; want it refused", f)
			}
			at := h.rel
			if strings.HasPrefix(at, "evil.mailplan-x/") {
				at = "evil.mailplan-x" // refused with what it holds
			}
			if !h.copied && !strings.Contains(r.plan.Summary, strconv.Quote(filepath.Join(e.src, at))) {
				t.Errorf("summary does not name %q: %q", h.rel, r.plan.Summary)
			}
		}
	}
	for rel := range dst {
		t.Errorf("unexpected at the destination: %q", rel)
	}
	if _, err := os.Stat(filepath.Join(e.dst, "notmp/Maildir/tmp")); err != nil {
		t.Errorf("tmp/ of a Maildir without one not made: %v", err)
	}
	e.settled(cfg)
	if r := e.mustApply(cfg); len(r.journal) != 0 {
		t.Errorf("re-run journalled %d entries", len(r.journal))
	}

	// include/exclude: what they leave out is counted too.
	ex := e.config(map[string]cty.Value{"exclude": cty.ListVal([]cty.Value{cty.StringVal("**/.Tab*"), cty.StringVal("u?nl*/**")})})
	rd, err := e.typ.Read(context.Background(), resource.ReadRequest{Addr: "mailbox_copy.t", Config: ex, Logger: resourcetest.Logger(t)})
	must(t, err)
	pl, err := e.typ.Plan(context.Background(), resource.PlanRequest{Addr: "mailbox_copy.t", Config: ex, Current: rd.Current, Snapshot: rd.Snapshot})
	must(t, err)
	if m := summaryRE.FindStringSubmatch(pl.Summary); m == nil || m[2] != strconv.Itoa(wantBoxes-3) || !strings.Contains(pl.Summary, ", 3 mailboxes left out by include/exclude") {
		t.Errorf("summary with exclude: %q", pl.Summary)
	}

	// The rollback finds every file by its exact bytes.
	e.restore(cfg, r.journal)
	if left := tree(t, e.dst); len(left) != 0 {
		t.Errorf("after rollback %d files remain, e.g. %q", len(left), firstKey(left))
	}
}

// A panic on a goroutine of mailbox_copy (listing, copying, renaming,
// closing a source file) is an error of the Read or Apply, never the end
// of the process; a failed apply rolls back to nothing.
func TestGoroutinePanic(t *testing.T) {
	tests := []struct {
		at      string // the hook's prefix that panics
		readErr bool
		applyOK bool
	}{
		{at: "list ", readErr: true},
		{at: "copying "},
		{at: "renaming "},
		{at: "close ", applyOK: true},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.at), func(t *testing.T) {
			e := newEnv(t)
			makeTree(t, e.src, 1, 5, 3)
			cfg := e.config(nil)
			reset := mailbox.SetGoHook(func(what string) {
				if strings.HasPrefix(what, tt.at) {
					panic("injected " + what)
				}
			})
			if tt.applyOK {
				// Sources are closed on goroutines nothing waits for: they
				// may log after the test, so not to it.
				e.logger = hclog.NewNullLogger()
			}
			r := e.apply(cfg)
			reset()
			switch {
			case tt.readErr:
				if r.err == nil || !strings.Contains(r.err.Error(), "internal error while listing "+e.src) || !strings.Contains(r.err.Error(), "panic: injected list") {
					t.Fatalf("read: %v", r.err)
				}
				return
			case tt.applyOK:
				if r.err != nil {
					t.Fatalf("apply: %v", r.err)
				}
				sameTrees(t, e.src, e.dst, true)
				return
			}
			if r.err == nil || !strings.Contains(r.err.Error(), "internal error while "+tt.at) || !strings.Contains(r.err.Error(), "panic: injected") {
				t.Fatalf("apply: %v", r.err)
			}
			e.restore(cfg, r.journal)
			if left := tree(t, e.dst); len(left) != 0 {
				t.Errorf("after rollback %d files remain, e.g. %q", len(left), firstKey(left))
			}
		})
	}
}
