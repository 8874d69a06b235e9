package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/local"
	"github.com/mailplan/mailplan/resources/transport/transporttest"
)

func TestHost(t *testing.T) {
	transporttest.CheckHost(t, local.New("local", hclog.NewNullLogger()), t.TempDir())
}

func TestStatFSSyncFS(t *testing.T) {
	h := local.New("local", hclog.NewNullLogger())
	dir := t.TempDir()
	if free, err := h.StatFS(t.Context(), dir); err != nil || free == 0 {
		t.Errorf("StatFS = %d, %v", free, err)
	}
	if err := h.SyncFS(t.Context(), dir); err != nil {
		t.Errorf("SyncFS: %v", err)
	}
}

// On a real tmpfs of 64 inodes, StatInodes counts them down to none, and
// the write that finds none fails with ENOSPC.
func TestStatInodes(t *testing.T) {
	dir := testbed.SmallFS(t, "1m", 64)
	h := local.New("local", hclog.NewNullLogger())
	free, known, err := h.StatInodes(t.Context(), dir)
	if err != nil || !known || free == 0 || free > 64 {
		t.Fatalf("StatInodes = %d, %v, %v; want 1..64, known", free, known, err)
	}
	var werr error
	for i := 0; i < 100 && werr == nil; i++ {
		werr = h.WriteFile(t.Context(), filepath.Join(dir, fmt.Sprintf("m%d", i)), []byte("x"), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1})
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("writing 100 files on 64 inodes: %v, want ENOSPC", werr)
	}
	if free, known, err := h.StatInodes(t.Context(), dir); err != nil || !known || free != 0 {
		t.Errorf("StatInodes when full = %d, %v, %v; want 0, known", free, known, err)
	}
	if _, ok := transport.Confine(h, dir).(transport.InodeStater); !ok {
		t.Error("a confined local host does not count inodes")
	}
}

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
