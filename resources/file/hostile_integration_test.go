package file_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
)

// planted is a directory whoever plants links can write (the mail user):
// 0777, so that a link in it is never one only root could have made.
func planted(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHostileDestination plants symbolic links at every level of a file's
// path (the file, its directory, the store of earlier contents, a
// directory swapped for a link between plan and apply) over every
// transport: each is refused with an error naming the link, and nothing
// is written where it points.
func TestHostileDestination(t *testing.T) {
	for tname, h := range transports(t) {
		cases := []struct {
			name string
			// setup makes the tree and returns the file's path and the
			// link that must be named.
			setup func(t *testing.T, tree, elsewhere string) (p, link string)
			// afterRead, when set, runs between plan and apply.
			afterRead func(t *testing.T, tree, elsewhere string)
			atApply   bool // refused by Apply, not Read
		}{
			{
				name: "final component",
				setup: func(t *testing.T, tree, elsewhere string) (string, string) {
					d := planted(t, filepath.Join(tree, "etc"))
					resourcetest.Symlink(t, filepath.Join(elsewhere, "shadow"), filepath.Join(d, "mailname"))
					return filepath.Join(d, "mailname"), filepath.Join(d, "mailname")
				},
			},
			{
				name: "parent directory",
				setup: func(t *testing.T, tree, elsewhere string) (string, string) {
					d := planted(t, filepath.Join(tree, "srv"))
					resourcetest.Symlink(t, elsewhere, filepath.Join(d, "conf"))
					return filepath.Join(d, "conf", "mailname"), filepath.Join(d, "conf")
				},
			},
			{
				name: "grandparent directory",
				setup: func(t *testing.T, tree, elsewhere string) (string, string) {
					d := planted(t, filepath.Join(tree, "srv"))
					resourcetest.Symlink(t, elsewhere, filepath.Join(d, "conf"))
					if err := os.MkdirAll(filepath.Join(elsewhere, "sub"), 0o755); err != nil {
						t.Fatal(err)
					}
					return filepath.Join(d, "conf", "sub", "mailname"), filepath.Join(d, "conf")
				},
			},
			{
				name: "snapshot store",
				setup: func(t *testing.T, tree, elsewhere string) (string, string) {
					d := planted(t, filepath.Join(tree, "etc"))
					p := filepath.Join(d, "mailname")
					if err := os.WriteFile(p, []byte("earlier\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					resourcetest.Symlink(t, elsewhere, filepath.Join(d, ".mailplan-snapshots"))
					return p, filepath.Join(d, ".mailplan-snapshots")
				},
				atApply: true,
			},
			{
				name: "directory swapped for a link after plan",
				setup: func(t *testing.T, tree, elsewhere string) (string, string) {
					d := planted(t, filepath.Join(tree, "srv"))
					if err := os.Mkdir(filepath.Join(d, "conf"), 0o755); err != nil {
						t.Fatal(err)
					}
					return filepath.Join(d, "conf", "mailname"), filepath.Join(d, "conf")
				},
				afterRead: func(t *testing.T, tree, elsewhere string) {
					d := filepath.Join(tree, "srv")
					if err := os.Rename(filepath.Join(d, "conf"), filepath.Join(d, "conf.old")); err != nil {
						t.Fatal(err)
					}
					resourcetest.Symlink(t, elsewhere, filepath.Join(d, "conf"))
				},
				atApply: true,
			},
		}
		for _, tc := range cases {
			t.Run(tname+" "+tc.name, func(t *testing.T) {
				ctx := context.Background()
				tmp := t.TempDir()
				tree, elsewhere := filepath.Join(tmp, "tree"), filepath.Join(tmp, "elsewhere")
				if err := os.Mkdir(tree, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(elsewhere, 0o755); err != nil {
					t.Fatal(err)
				}
				p, link := tc.setup(t, tree, elsewhere)
				before := resourcetest.ListTree(t, elsewhere)
				f := newFile(t)
				cfg := config(t, f, h, map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal("redirected\n")})
				read, err := f.Read(ctx, resource.ReadRequest{Config: cfg})
				if tc.atApply {
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if tc.afterRead != nil {
						tc.afterRead(t, tree, elsewhere)
					}
					var plan resource.PlanResponse
					plan, err = f.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
					if err != nil {
						t.Fatalf("plan: %v", err)
					}
					_, err = f.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned,
						Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}})
				}
				resourcetest.CheckLinkRefused(t, err, link, elsewhere, before)
			})
		}
	}
}

// TestLinkedDirectoryOwners: two file resources reaching one file, one
// through a link mailplan may follow (made by root, in a directory only
// root writes), fail the plan as two owners of one thing.
func TestLinkedDirectoryOwners(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	real := filepath.Join(tmp, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	resourcetest.Symlink(t, real, filepath.Join(tmp, "alias"))
	f := newFile(t)
	var insts []resource.PlannedInstance
	for i, p := range []string{filepath.Join(real, "mailname"), filepath.Join(tmp, "alias", "mailname")} {
		cfg := config(t, f, localHost, map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal("x\n")})
		read, err := f.Read(ctx, resource.ReadRequest{Config: cfg})
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		plan, err := f.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, resource.PlannedInstance{Addr: []string{"file.a", "file.b"}[i], Type: "file",
			Config: cfg, Current: read.Current, Planned: plan.Planned})
	}
	probs := f.CheckPlan(ctx, resource.CheckPlanRequest{Instances: insts})
	if len(probs) != 1 {
		t.Fatalf("problems: %v", probs)
	}
	var ae *resource.AttrError
	if probs[0].Addr != "file.b" || !errors.As(probs[0].Err, &ae) || ae.Summary != "Two resources manage the same thing" ||
		!strings.Contains(ae.Detail, filepath.Join(real, "mailname")) {
		t.Errorf("problem: %s %v", probs[0].Addr, probs[0].Err)
	}
	// Either alone is fine: the link is one only root could have made.
	if probs := f.CheckPlan(ctx, resource.CheckPlanRequest{Instances: insts[1:]}); len(probs) != 0 {
		t.Errorf("one instance: %v", probs)
	}
}
