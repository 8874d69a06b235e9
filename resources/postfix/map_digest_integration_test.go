package postfix_test

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
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// The snapshot of a table, which goes into the state, holds its keyed
// digest, never its plain SHA-256 (a table may hold a short secret, e.g.
// a relay password map); Restore puts the table back with the same key,
// refuses with another one, naming the key and writing nothing, and still
// restores a snapshot with a plain digest, taken before keyed digests.
func TestMapSnapshotDigestKeyed(t *testing.T) {
	pf := instance(t, "old", "127.0.0.2")
	m := postfix.NewMap(newCounter(t))
	table := filepath.Join(pf.ConfigDir, "relay.pcre")
	const before = "/^relay$/ hunter2\n"
	if err := os.WriteFile(table, []byte(before), 0o640); err != nil {
		t.Fatal(err)
	}
	key := resource.NewDigestKey([]byte("0123456789abcdef0123456789abcdef"))
	ctx := resource.WithDigestKey(context.Background(), key)
	cfg := mapConfig(t, m, localHost, pf, map[string]cty.Value{
		"path": cty.StringVal(table), "type": cty.StringVal("pcre"), "content": cty.StringVal("/^relay$/ other\n"),
	})
	content := func() string {
		t.Helper()
		b, err := os.ReadFile(table)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	read, err := m.Read(ctx, resource.ReadRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	plain := sha256.Sum256([]byte(before))
	if strings.Contains(string(read.Snapshot), hex.EncodeToString(plain[:])) || !strings.Contains(string(read.Snapshot), resource.DigestPrefix+key.ID()+":") {
		t.Fatalf("snapshot %s: want a keyed digest and no plain one", read.Snapshot)
	}
	plan, err := m.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned,
		Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}}); err != nil {
		t.Fatal(err)
	}
	if got := content(); got != "/^relay$/ other\n" {
		t.Fatalf("after apply: %q", got)
	}

	other := resource.WithDigestKey(context.Background(), resource.NewDigestKey([]byte("another key, another key, anothe")))
	err = m.Restore(other, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot})
	if err == nil || !strings.Contains(err.Error(), "digest key "+key.ID()) {
		t.Fatalf("restore with another key: %v, want an error naming key %s", err, key.ID())
	}
	if got := content(); got != "/^relay$/ other\n" {
		t.Fatalf("a refused restore wrote %q", got)
	}
	if err := m.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot}); err != nil {
		t.Fatal(err)
	}
	if got := content(); got != before {
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
	if err := os.WriteFile(keep.StorePath(table, hex.EncodeToString(plain[:])), []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(table, []byte("/^relay$/ changed\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: legacy}); err != nil {
		t.Fatalf("restore of a plain-digest snapshot: %v", err)
	}
	if got := content(); got != before {
		t.Fatalf("after restore of a plain-digest snapshot: %q", got)
	}
}
