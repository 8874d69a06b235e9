package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One plan directory, two workspaces: each has its own state, and
// mailplan.workspace names the one a run is in.
func TestWorkspacesLocal(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	writePlan(t, dir, `
variable "data" { type = string }
resource "fake_file" "f" {
  path    = "${var.data}/${mailplan.workspace}.txt"
  content = "domain ${mailplan.workspace}"
}`)
	e := newTestEngine(&fakeFile{})
	ctx := context.Background()
	opts := func(env ...string) Options {
		return Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Environ: append([]string{"PATH=/bin"}, env...)}
	}

	if _, err := applyDir(t, e, opts()); err != nil {
		t.Fatal(err)
	}
	mustNoDiags(t, e.NewWorkspace(ctx, opts(), "example.org"))
	if _, err := applyDir(t, e, opts()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"default", "example.org"} {
		b, err := os.ReadFile(filepath.Join(data, name+".txt"))
		if err != nil || string(b) != "domain "+name {
			t.Errorf("%s.txt: %q %v", name, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".mailplan", "workspaces", "example.org", "state.json")); err != nil {
		t.Errorf("workspace state: %v", err)
	}

	list, d := e.Workspaces(ctx, opts())
	mustNoDiags(t, d)
	if strings.Join(list.Names, " ") != "default example.org" || list.Current != "example.org" {
		t.Errorf("list %v current %q", list.Names, list.Current)
	}
	// MAILPLAN_WORKSPACE wins over the selection.
	list, d = e.Workspaces(ctx, opts(WorkspaceEnv+"=default"))
	mustNoDiags(t, d)
	if list.Current != "default" {
		t.Errorf("with %s=default: current %q", WorkspaceEnv, list.Current)
	}
	s, d := e.OpenState(ctx, opts(WorkspaceEnv+"=default"), false)
	mustNoDiags(t, d)
	if len(s.State.Resources) != 1 || s.Workspace() != "default" {
		t.Errorf("default workspace: %d resources, workspace %q", len(s.State.Resources), s.Workspace())
	}
	s.Close()

	// A workspace that was never made is an error naming the fix.
	if _, d := e.OpenState(ctx, opts(WorkspaceEnv+"=nope.example"), false); !d.HasErrors() || !strings.Contains(d.Error(), "workspace new nope.example") {
		t.Errorf("unknown workspace: %v", d)
	}
	if d := e.SelectWorkspace(ctx, opts(), "nope.example", false); !d.HasErrors() {
		t.Error("select of an unknown workspace succeeded")
	}
	if d := e.SelectWorkspace(ctx, opts(), "../x", true); !d.HasErrors() {
		t.Error("select of ../x succeeded")
	}

	// Deleting: not the selected one, not a non-empty one without force.
	if d := e.DeleteWorkspace(ctx, opts(), "example.org", false); !d.HasErrors() || !strings.Contains(d.Error(), "selected") {
		t.Errorf("delete the selected workspace: %v", d)
	}
	mustNoDiags(t, e.SelectWorkspace(ctx, opts(), "default", false))
	if d := e.DeleteWorkspace(ctx, opts(), "example.org", false); !d.HasErrors() || !strings.Contains(d.Error(), "1 resources") {
		t.Errorf("delete a non-empty workspace: %v", d)
	}
	mustNoDiags(t, e.SelectWorkspace(ctx, opts(), "example.net", true))
	mustNoDiags(t, e.SelectWorkspace(ctx, opts(), "default", false))
	mustNoDiags(t, e.DeleteWorkspace(ctx, opts(), "example.net", false))
	mustNoDiags(t, e.DeleteWorkspace(ctx, opts(), "example.org", true))
	list, d = e.Workspaces(ctx, opts())
	mustNoDiags(t, d)
	if strings.Join(list.Names, " ") != "default" {
		t.Errorf("after the deletes: %v", list.Names)
	}
	// Forgotten, not destroyed: the file is still there.
	if _, err := os.Stat(filepath.Join(data, "example.org.txt")); err != nil {
		t.Errorf("delete -force touched a host: %v", err)
	}
}
