package local_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/local"
)

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
