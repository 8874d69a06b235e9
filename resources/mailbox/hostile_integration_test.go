package mailbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
)

// TestHostileDestination plants a symbolic link at every level of the
// destination tree — a child of the root, the user, the Maildir, a
// folder, cur, new, tmp, a message, the snapshot store — with the
// destination reached locally (openat, no race) and over SFTP: the copy
// is refused with an error naming the link, and nothing is written where
// it points.
func TestHostileDestination(t *testing.T) {
	srv := testbed.SSHD(t)
	to := map[string]bool{"local": true, "sftp": false}
	cases := []struct {
		name string
		// link is where the link is planted, relative to the destination;
		// dirs are made (0700) before it.
		link string
		dirs []string
		meta bool // preserve_uids, so that the store is written
	}{
		{name: "root's child", link: "user0"},
		{name: "user", link: "user0/Maildir", dirs: []string{"user0"}},
		{name: "folder", link: "user0/Maildir/.Sent", dirs: []string{"user0/Maildir/cur", "user0/Maildir/new", "user0/Maildir/tmp"}},
		{name: "cur", link: "user0/Maildir/cur", dirs: []string{"user0/Maildir/new", "user0/Maildir/tmp"}},
		{name: "new", link: "user0/Maildir/new", dirs: []string{"user0/Maildir/cur", "user0/Maildir/tmp"}},
		{name: "tmp", link: "user0/Maildir/tmp", dirs: []string{"user0/Maildir/cur", "user0/Maildir/new"}},
		{name: "snapshot store", link: "user0/.mailplan-snapshots", dirs: []string{"user0"}, meta: true},
	}
	for tname, local := range to {
		for _, tc := range cases {
			t.Run(tname+" "+tc.name, func(t *testing.T) {
				e := newEnv(t)
				if !local {
					e.to = srv.Host
					e.to.Name = "new"
				}
				makeTree(t, e.src, 1, 3, 7)
				elsewhere := filepath.Join(t.TempDir(), "elsewhere")
				must(t, os.MkdirAll(filepath.Join(elsewhere, "cur"), 0o755))
				for _, d := range tc.dirs {
					must(t, os.MkdirAll(filepath.Join(e.dst, d), 0o700))
				}
				must(t, os.MkdirAll(e.dst, 0o755))
				link := filepath.Join(e.dst, tc.link)
				must(t, os.MkdirAll(filepath.Dir(link), 0o700))
				must(t, os.Symlink(elsewhere, link))
				before := listTree(t, elsewhere)
				r := e.apply(e.config(map[string]cty.Value{"preserve_uids": cty.BoolVal(tc.meta)}))
				if r.err == nil {
					t.Fatal("no error")
				}
				if !errors.Is(r.err, transport.ErrSymlink) || !strings.Contains(r.err.Error(), link+" is a symbolic link") {
					t.Errorf("error does not name the link %s: %v", link, r.err)
				}
				if after := listTree(t, elsewhere); strings.Join(after, "\n") != strings.Join(before, "\n") {
					t.Errorf("written where the link points:\nbefore %q\nafter  %q", before, after)
				}
			})
		}
	}
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, strings.TrimPrefix(p, dir)+" "+fi.Mode().String())
		return nil
	}))
	sort.Strings(out)
	return out
}

// TestSnapshotStoreMode: the store of mailplan's records and earlier
// metadata is made 0700, locally and over SFTP (whose MkdirAll left the
// parents 0755), and an earlier 0755 store is made 0700.
func TestSnapshotStoreMode(t *testing.T) {
	srv := testbed.SSHD(t)
	for _, local := range []bool{true, false} {
		e := newEnv(t)
		if !local {
			e.to = srv.Host
			e.to.Name = "new"
		}
		makeTree(t, e.src, 1, 2, 9)
		store := filepath.Join(e.dst, "user0", ".mailplan-snapshots")
		must(t, os.MkdirAll(store, 0o755))
		must(t, os.Chmod(store, 0o755))
		e.mustApply(e.config(map[string]cty.Value{"preserve_uids": cty.True}))
		must(t, filepath.Walk(store, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() && fi.Mode().Perm() != 0o700 {
				t.Errorf("local=%v: %s has mode %v, want 0700", local, p, fi.Mode().Perm())
			}
			return err
		}))
	}
}

// TestHostileDestinationRoot: the destination itself, a link in a
// directory others can write, is refused naming it.
func TestHostileDestinationRoot(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 1, 2, 5)
	tree := filepath.Join(t.TempDir(), "mailtree")
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	must(t, os.MkdirAll(elsewhere, 0o755))
	must(t, os.MkdirAll(tree, 0o777))
	must(t, os.Chmod(tree, 0o777))
	e.dst = filepath.Join(tree, "vmail")
	must(t, os.Symlink(elsewhere, e.dst))
	r := e.apply(e.config(nil))
	if r.err == nil || !errors.Is(r.err, transport.ErrSymlink) || !strings.Contains(r.err.Error(), e.dst+" is a symbolic link") {
		t.Errorf("error does not name the link %s: %v", e.dst, r.err)
	}
	if got := listTree(t, elsewhere); len(got) != 1 {
		t.Errorf("written where the link points: %q", got)
	}
}
