package resourcetest

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mailplan/mailplan/resources/transport"
)

// Symlink makes link point to target, for tests that plant links where a
// type writes.
func Symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// ListTree lists every path under dir with its mode, sorted, for "nothing
// was written there".
func ListTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, strings.TrimPrefix(p, dir)+" "+fi.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// CheckLinkRefused checks that err refuses the symbolic link link
// (transport.ErrSymlink, with an error naming it), and that nothing under
// elsewhere, where the link points, changed since before (its ListTree).
func CheckLinkRefused(t testing.TB, err error, link, elsewhere string, before []string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, transport.ErrSymlink) || !strings.Contains(err.Error(), link+" is a symbolic link") {
		t.Errorf("error does not name the link %s: %v", link, err)
	}
	if after := ListTree(t, elsewhere); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("written where the link points:\nbefore %q\nafter  %q", before, after)
	}
}
