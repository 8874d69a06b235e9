package file_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport/keep"
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
	key := resource.NewDigestKey([]byte("0123456789abcdef0123456789abcdef"))
	ctx := resource.WithDigestKey(context.Background(), key)
	cfg := config(t, f, localHost, map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal("new"), "mode": cty.StringVal("0600")})

	read, err := f.Read(ctx, resource.ReadRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	plain := sha256.Sum256([]byte("hunter2"))
	if strings.Contains(string(read.Snapshot), hex.EncodeToString(plain[:])) || !strings.Contains(string(read.Snapshot), resource.DigestPrefix+key.ID()+":") {
		t.Fatalf("snapshot %s: want a keyed digest and no plain one", read.Snapshot)
	}
	plan, err := f.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned,
		Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}}); err != nil {
		t.Fatal(err)
	}
	content := func() string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := content(); got != "new" {
		t.Fatalf("after apply: %q", got)
	}

	// Another key: refused, nothing written.
	other := resource.WithDigestKey(context.Background(), resource.NewDigestKey([]byte("another key, another key, anothe")))
	err = f.Restore(other, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot})
	if err == nil || !strings.Contains(err.Error(), "digest key "+key.ID()) {
		t.Fatalf("restore with another key: %v, want an error naming key %s", err, key.ID())
	}
	if got := content(); got != "new" {
		t.Fatalf("a refused restore wrote %q", got)
	}

	if err := f.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot}); err != nil {
		t.Fatal(err)
	}
	if got := content(); got != "hunter2" {
		t.Fatalf("after restore: %q", got)
	}

	// A snapshot from before keyed digests, its copy named by SHA-256.
	var snap map[string]any
	if err := json.Unmarshal(read.Snapshot, &snap); err != nil {
		t.Fatal(err)
	}
	delete(snap, "digest")
	snap["sha256"] = hex.EncodeToString(plain[:])
	legacy, _ := json.Marshal(snap)
	if err := os.WriteFile(keep.StorePath(p, hex.EncodeToString(plain[:])), []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: legacy}); err != nil {
		t.Fatalf("restore of a plain-digest snapshot: %v", err)
	}
	if got := content(); got != "hunter2" {
		t.Fatalf("after restore of a plain-digest snapshot: %q", got)
	}
}
