package mailbox_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport/keep"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

// TestConformance runs the shared suite on a small test bed corpus (two
// users, two dozen messages): Create copies alice's mailboxes, Update
// bob's inbox too. Locally both trees are on this machine and every
// operation of an apply fails in turn, before and after the host did it;
// over SSH the source is read through the test bed's sshd (the default
// fault modes). The destination starts absent, or holding alice's mail
// as an earlier copy left it, with new mail, a flag change and a longer
// dovecot-uidlist at the source since.
func TestConformance(t *testing.T) {
	cases := []struct {
		name    string
		ssh     bool
		partial bool
		modes   []resourcetest.Mode
	}{
		{"local, empty destination", false, false, []resourcetest.Mode{resourcetest.Before, resourcetest.After}},
		{"local, partial destination", false, true, []resourcetest.Mode{resourcetest.Before, resourcetest.After}},
		{"ssh source, partial destination", true, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			corpus := testbed.MakeCorpus(t, testbed.CorpusOptions{Users: []string{"alice", "bob"}, Messages: 24, Seed: 10, MaxSize: 64 << 10, Owner: -1, Group: -1})
			dst := filepath.Join(testbed.SearchableTempDir(t), "vmail")
			from := resource.Host{Name: "old", Transport: "local"}
			if tc.ssh {
				from = testbed.SSHD(t).Host
				from.Name = "old"
			}
			to := resource.Host{Name: "new", Transport: "local"}
			p := pool.New(nil)
			t.Cleanup(func() { p.Close() })
			faults := resourcetest.NewFaults()
			typ := mailbox.New(faults.Getter(p))
			cfg := func(include ...string) cty.Value {
				var inc []cty.Value
				for _, g := range include {
					inc = append(inc, cty.StringVal(g))
				}
				return resourcetest.Config(t, typ, map[string]cty.Value{
					"from": resourcetest.HostValue(t, from), "to": resourcetest.HostValue(t, to),
					"source": cty.StringVal(corpus.Root), "destination": cty.StringVal(dst),
					"include": cty.ListVal(inc), "parallelism": cty.NumberIntVal(2),
					"mirror": cty.True,
				})
			}
			if tc.partial {
				earlierCopy(t, typ, cfg("alice/**"), filepath.Join(corpus.Root, "alice"), filepath.Join(dst, "alice"))
			}
			resourcetest.Conformance(t, resourcetest.Suite{
				Type:   typ,
				Create: cfg("alice/**"),
				Update: cfg("alice/**", "bob/Maildir"),
				// Both trees: the source is never written.
				Observe: func(t testing.TB) []byte {
					return append(observeTree(t, dst), observeTree(t, corpus.Root)...)
				},
				Faults: faults,
				Modes:  tc.modes,
			})
		})
	}
}

// earlierCopy applies cfg once, as an earlier run did (its journal is
// gone: that run completed), then changes the source since: new mail, a
// message with other flags, a message deleted, and a longer root
// dovecot-uidlist; and the destination dst: a shadow copy of one of the
// new messages under another name. An apply then has messages, a flag
// change, a removal (mirror), a message already there (dedupe) and
// metadata (keeping what it replaces) to bring.
func earlierCopy(t *testing.T, typ *mailbox.Copy, cfg cty.Value, src, dst string) {
	t.Helper()
	ctx := t.Context()
	read, err := typ.Read(ctx, resource.ReadRequest{Config: cfg})
	must(t, err)
	plan, err := typ.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
	must(t, err)
	_, err = typ.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}})
	must(t, err)

	added, err := testbed.AddMessages(src, 3, 11)
	must(t, err)
	cur, err := filepath.Glob(filepath.Join(src, "Maildir", "cur", "*:2,*"))
	must(t, err)
	if len(cur) < 2 {
		t.Fatal("the corpus has fewer than two messages in alice's cur/")
	}
	must(t, os.Rename(cur[0], cur[0][:strings.LastIndex(cur[0], ":2,")]+":2,FT"))
	must(t, os.Remove(cur[1]))
	shadowCopy(t, filepath.Join(src, added[0]), filepath.Join(dst, filepath.Dir(filepath.Dir(added[0]))), "1800000000.M1P1.shadow")
	uidlist := filepath.Join(src, "Maildir", "dovecot-uidlist")
	data, err := os.ReadFile(uidlist)
	must(t, err)
	must(t, os.WriteFile(uidlist, append(data, "99 1800000000.M1.new\n"...), 0o600))
	read, err = typ.Read(ctx, resource.ReadRequest{Config: cfg})
	must(t, err)
	plan, err = typ.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
	must(t, err)
	for _, want := range []string{"copy 2 messages", "1 already there", "1 flag changes", "remove 1 messages"} {
		if !strings.Contains(plan.Summary, want) {
			t.Errorf("the apply after the earlier copy: summary %q, want %q", plan.Summary, want)
		}
	}
}

// observeTree describes every file and directory under root: for a
// directory its mode and owner (its mtime changes with any entry made
// and removed again), for a file also its size and content digest, and
// for a message its mtime (a copy keeps the source's). In mailplan's
// stores (keep.Dir) the kept copies are left out, as the other types'
// tests leave them out: package keep never deletes them.
func observeTree(t testing.TB, root string) []byte {
	t.Helper()
	out := fmt.Appendf(nil, "== %s\n", root)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			out = append(out, "(absent)\n"...)
			return nil
		}
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out = fmt.Appendf(out, "%s/ %v %d:%d\n", rel, fi.Mode(), st.Uid, st.Gid)
			return nil
		}
		if strings.Contains(rel, keep.Dir+"/") && keptCopy.MatchString(d.Name()) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var mtime int64
		if sub := filepath.Base(filepath.Dir(p)); sub == "cur" || sub == "new" {
			mtime = fi.ModTime().UnixNano()
		}
		out = fmt.Appendf(out, "%s %v %d:%d %d %d %x\n", rel, fi.Mode(), st.Uid, st.Gid, fi.Size(), mtime, sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keptCopy is the name of a copy package keep keeps: its keyed digest
// (hmac-sha256-KEYID-HEX), or its SHA-256 when an older mailplan kept it.
var keptCopy = regexp.MustCompile(`^(hmac-sha256-[0-9a-f]+-)?[0-9a-f]{64}$`)
