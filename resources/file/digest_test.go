package file_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/resources/resourcetest"
)

// The snapshot, which goes into the state, holds the earlier content's
// keyed digest, never its plain SHA-256; Restore finds the kept copy with
// the same key, still reads snapshots with a plain digest, and refuses,
// naming the key, when the state's key is another.
func TestSnapshotDigestKeyed(t *testing.T) {
	f := newFile(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	resourcetest.CheckSnapshotDigest(t, resourcetest.DigestCase{
		Type:    f,
		Config:  config(t, f, localHost, map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal("new"), "mode": cty.StringVal("0600")}),
		Path:    p,
		Before:  "hunter2",
		After:   "new",
		Changed: "changed",
		Mode:    0o600,
	})
}
