package postfix_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
)

// TestMapHostileDestination plants symbolic links where postfix_map
// writes — the table, its directory (in a directory others can write),
// the snapshot store beside it, the temporary table — over local and SSH:
// each is refused with an error naming the link, and nothing is written
// where it points.
func TestMapHostileDestination(t *testing.T) {
	pf := instance(t, "old", "127.0.0.2")
	for tname, h := range transports(t) {
		cases := []struct {
			name  string
			setup func(t *testing.T, dir, elsewhere string) (table, link string)
		}{
			{"table", func(t *testing.T, dir, elsewhere string) (string, string) {
				table := filepath.Join(dir, "virtual")
				resourcetest.Symlink(t, filepath.Join(elsewhere, "virtual"), table)
				return table, table
			}},
			{"table's directory", func(t *testing.T, dir, elsewhere string) (string, string) {
				resourcetest.Symlink(t, elsewhere, filepath.Join(dir, "maps"))
				return filepath.Join(dir, "maps", "virtual"), filepath.Join(dir, "maps")
			}},
			{"snapshot store", func(t *testing.T, dir, elsewhere string) (string, string) {
				table := filepath.Join(dir, "virtual")
				if err := os.WriteFile(table, []byte("a@example.com b@example.com\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				resourcetest.Symlink(t, elsewhere, filepath.Join(dir, ".mailplan-snapshots"))
				return table, filepath.Join(dir, ".mailplan-snapshots")
			}},
			{"temporary table", func(t *testing.T, dir, elsewhere string) (string, string) {
				table := filepath.Join(dir, "virtual")
				resourcetest.Symlink(t, filepath.Join(elsewhere, "new"), filepath.Join(dir, ".virtual.mailplan-new"))
				return table, filepath.Join(dir, ".virtual.mailplan-new")
			}},
		}
		for _, tc := range cases {
			t.Run(tname+" "+tc.name, func(t *testing.T) {
				ctx := context.Background()
				tmp := t.TempDir()
				dir, elsewhere := filepath.Join(tmp, "tables"), filepath.Join(tmp, "elsewhere")
				// Writable by others, as a mail user's directory is.
				if err := os.Mkdir(dir, 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(elsewhere, 0o755); err != nil {
					t.Fatal(err)
				}
				table, link := tc.setup(t, dir, elsewhere)
				before := resourcetest.ListTree(t, elsewhere)
				m := postfix.NewMap(newCounter(t))
				cfg := mapConfig(t, m, h, pf, map[string]cty.Value{
					"path": cty.StringVal(table), "type": cty.StringVal("hash"),
					"entries": entries("x@example.com", "y@example.net"),
				})
				err := func() error {
					read, err := m.Read(ctx, resource.ReadRequest{Config: cfg})
					if err != nil {
						return err
					}
					plan, err := m.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
					if err != nil {
						return err
					}
					_, err = m.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned,
						Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}})
					return err
				}()
				resourcetest.CheckLinkRefused(t, err, link, elsewhere, before)
			})
		}
	}
}

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
	resourcetest.CheckSnapshotDigest(t, resourcetest.DigestCase{
		Type: m,
		Config: mapConfig(t, m, localHost, pf, map[string]cty.Value{
			"path": cty.StringVal(table), "type": cty.StringVal("pcre"), "content": cty.StringVal("/^relay$/ other\n"),
		}),
		Path:    table,
		Before:  before,
		After:   "/^relay$/ other\n",
		Changed: "/^relay$/ changed\n",
		Mode:    0o640,
	})
}
