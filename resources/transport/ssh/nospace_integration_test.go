package ssh_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
)

// A destination full of inodes or of bytes, over SFTP, is named as such
// (SFTP itself says only SSH_FX_FAILURE); StatInodes works over SFTP and
// with sudo (df -P -i).
func TestNoSpaceSFTP(t *testing.T) {
	ctx := context.Background()
	srv := testbed.SSHD(t)
	for _, sudo := range []bool{false, true} {
		opts := testbed.SSHDOptions{}
		if sudo {
			opts.PathPrepend = []string{testbed.FakeSudo(t)}
		}
		h := dial(t, testbed.SSHDWith(t, opts), sudo)
		dir := testbed.SmallFS(t, "1m", 64)
		free, known, err := h.StatInodes(ctx, dir)
		if err != nil || !known || free == 0 || free > 64 {
			t.Errorf("sudo=%v: StatInodes = %d, %v, %v; want 1..64, known", sudo, free, known, err)
		}
		if _, ok := transport.Confine(h, dir).(transport.InodeStater); !ok {
			t.Errorf("sudo=%v: a confined SSH host does not count inodes", sudo)
		}
	}
	h := dial(t, srv, false)

	t.Run("inodes", func(t *testing.T) {
		dir := testbed.SmallFS(t, "1m", 64)
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			err = h.WriteFile(ctx, filepath.Join(dir, fmt.Sprintf("m%d", i)), []byte("x"), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1})
		}
		var ns *transport.NoSpaceError
		if !errors.As(err, &ns) || !ns.InodesKnown || ns.FreeInodes != 0 || !strings.Contains(err.Error(), "no space left on "+h.Name()+":"+dir) {
			t.Fatalf("writing 100 files on 64 inodes: %v, want no space left naming 0 inodes", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		dir := testbed.SmallFS(t, "1m", 64)
		err := h.WriteFile(ctx, filepath.Join(dir, "big"), make([]byte, 2<<20), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1})
		var ns *transport.NoSpaceError
		if !errors.As(err, &ns) || !strings.Contains(err.Error(), "no space left on") {
			t.Fatalf("writing 2 MiB on 1 MiB: %v, want no space left", err)
		}
		w, err := h.Create(ctx, filepath.Join(dir, "streamed"), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Write(make([]byte, 2<<20))
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if !errors.As(err, &ns) {
			t.Fatalf("streaming 2 MiB on 1 MiB: %v, want no space left", err)
		}
	})
}
