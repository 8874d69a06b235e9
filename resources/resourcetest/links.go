package resourcetest

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
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
