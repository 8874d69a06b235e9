package resourcetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// DigestCase is a resource instance that replaces a file and keeps its
// earlier content as a copy named by a digest, for CheckSnapshotDigest.
type DigestCase struct {
	Type   resource.Type
	Config cty.Value
	// Path is the file; it holds Before when the check starts, and Apply
	// writes After there.
	Path          string
	Before, After string
	// Changed is a content the check writes to Path, with Mode, before it
	// restores a snapshot taken before keyed digests.
	Changed string
	Mode    os.FileMode
}

// CheckSnapshotDigest checks that the snapshot of c, which goes into the
// state, holds the earlier content's keyed digest, never its plain
// SHA-256 (the content may be a short secret); that Restore puts the
// content back with the same key and refuses with another one, naming
// the key and writing nothing; and that it still restores a snapshot with
// a plain digest, taken before keyed digests.
func CheckSnapshotDigest(t *testing.T, c DigestCase) {
	t.Helper()
	key := resource.NewDigestKey([]byte("0123456789abcdef0123456789abcdef"))
	ctx := resource.WithDigestKey(context.Background(), key)
	content := func() string {
		t.Helper()
		b, err := os.ReadFile(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	read, err := c.Type.Read(ctx, resource.ReadRequest{Config: c.Config})
	if err != nil {
		t.Fatal(err)
	}
	plain := sha256.Sum256([]byte(c.Before))
	if strings.Contains(string(read.Snapshot), hex.EncodeToString(plain[:])) || !strings.Contains(string(read.Snapshot), resource.DigestPrefix+key.ID()+":") {
		t.Fatalf("snapshot %s: want a keyed digest and no plain one", read.Snapshot)
	}
	plan, err := c.Type.Plan(ctx, resource.PlanRequest{Config: c.Config, Current: read.Current, Snapshot: read.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Type.Apply(ctx, resource.ApplyRequest{Config: c.Config, Current: read.Current, Planned: plan.Planned,
		Snapshot: read.Snapshot, Journal: &Journal{}}); err != nil {
		t.Fatal(err)
	}
	if got := content(); got != c.After {
		t.Fatalf("after apply: %q", got)
	}

	// Another key: refused, nothing written.
	other := resource.WithDigestKey(context.Background(), resource.NewDigestKey([]byte("another key, another key, anothe")))
	err = c.Type.Restore(other, resource.RestoreRequest{Config: c.Config, Snapshot: read.Snapshot})
	if err == nil || !strings.Contains(err.Error(), "digest key "+key.ID()) {
		t.Fatalf("restore with another key: %v, want an error naming key %s", err, key.ID())
	}
	if got := content(); got != c.After {
		t.Fatalf("a refused restore wrote %q", got)
	}
	if err := c.Type.Restore(ctx, resource.RestoreRequest{Config: c.Config, Snapshot: read.Snapshot}); err != nil {
		t.Fatal(err)
	}
	if got := content(); got != c.Before {
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
	if err := os.WriteFile(keep.StorePath(c.Path, hex.EncodeToString(plain[:])), []byte(c.Before), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Path, []byte(c.Changed), c.Mode); err != nil {
		t.Fatal(err)
	}
	if err := c.Type.Restore(ctx, resource.RestoreRequest{Config: c.Config, Snapshot: legacy}); err != nil {
		t.Fatalf("restore of a plain-digest snapshot: %v", err)
	}
	if got := content(); got != c.Before {
		t.Fatalf("after restore of a plain-digest snapshot: %q", got)
	}
}
