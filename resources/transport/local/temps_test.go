package local_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/local"
)

// RemoveTemps removes exactly the temporary files a killed WriteFile of
// the target left: not another file's, not the target, not a directory.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"main.cf", ".main.cf" + transport.TempMarker + "0a1b2c3d", ".main.cf" + transport.TempMarker + "ffffffff",
		".master.cf" + transport.TempMarker + "12345678", "main.cf.db", ".main.cf.mailplan-new"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".main.cf"+transport.TempMarker+"dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	h := local.New("local", hclog.NewNullLogger())
	if err := transport.RemoveTemps(context.Background(), h, filepath.Join(dir, "main.cf")); err != nil {
		t.Fatal(err)
	}
	var left []string
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		left = append(left, e.Name())
	}
	sort.Strings(left)
	want := []string{".main.cf.mailplan-new", ".main.cf" + transport.TempMarker + "dir", ".master.cf" + transport.TempMarker + "12345678", "main.cf", "main.cf.db"}
	sort.Strings(want)
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
	// A directory that does not exist has nothing to clean.
	if err := transport.RemoveTemps(context.Background(), h, filepath.Join(dir, "none", "x")); err != nil {
		t.Errorf("missing directory: %v", err)
	}
}
