package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/render"
	"github.com/mailplan/mailplan/engine/states"
)

// mvEnv is a plan directory with fake files under data, for the moved,
// removed and takeover tests.
type mvEnv struct {
	t    *testing.T
	e    *Engine
	ff   *fakeFile
	dir  string
	data string
	opts Options
}

// mvHeader starts every main.mp.hcl of these tests.
const mvHeader = "variable \"data\" { type = string }\n"

func newMvEnv(t *testing.T, originals map[string]string) *mvEnv {
	t.Helper()
	m := &mvEnv{t: t, ff: &fakeFile{}, dir: t.TempDir(), data: t.TempDir()}
	for name, content := range originals {
		if err := os.WriteFile(filepath.Join(m.data, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m.e = newTestEngine(m.ff)
	m.opts = Options{Dir: m.dir, Vars: []VarArg{{Value: "data=" + m.data}}, Parallelism: 4}
	return m
}

// write writes plan files, by name relative to the plan directory; main
// gets mvHeader. A file given as "" is removed.
func (m *mvEnv) write(files map[string]string) {
	m.t.Helper()
	for name, src := range files {
		p := filepath.Join(m.dir, name)
		if src == "" {
			os.Remove(p)
			continue
		}
		if name == "main.mp.hcl" {
			src = mvHeader + src
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			m.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
}

// plan plans (and with apply, applies) the plan directory, and returns
// the plan, its text and the apply's error.
func (m *mvEnv) plan(destroy, apply bool) (*plans.Plan, string, error) {
	m.t.Helper()
	ctx := context.Background()
	o := m.opts
	o.Destroy = destroy
	s, p, _ := openPlan(m.t, m.e, o)
	defer s.Close()
	var buf bytes.Buffer
	if err := render.PlanText(&buf, p.Plan, render.TextOptions{}); err != nil {
		m.t.Fatal(err)
	}
	text := strings.ReplaceAll(buf.String(), m.data, "DATA")
	if !apply {
		return p.Plan, text, nil
	}
	_, err := s.Apply(ctx, p)
	return p.Plan, text, err
}

// apply writes main as main.mp.hcl and applies it; the test fails if the
// apply does.
func (m *mvEnv) apply(main string) {
	m.t.Helper()
	m.write(map[string]string{"main.mp.hcl": main})
	m.mustApply()
}

// mustApply applies the plan directory; the test fails if that fails.
func (m *mvEnv) mustApply() {
	m.t.Helper()
	if _, _, err := m.plan(false, true); err != nil {
		m.t.Fatal(err)
	}
}

// mustDestroy destroys; the test fails if that fails.
func (m *mvEnv) mustDestroy() {
	m.t.Helper()
	if _, _, err := m.plan(true, true); err != nil {
		m.t.Fatal(err)
	}
}

// planDiags plans and returns the diagnostics.
func (m *mvEnv) planDiags() hcl.Diagnostics {
	m.t.Helper()
	ctx := context.Background()
	s, d := m.e.Open(ctx, m.opts)
	if d.HasErrors() {
		return d
	}
	defer s.Close()
	_, d2 := s.Plan(ctx)
	return append(d, d2...)
}

func (m *mvEnv) rollback() error {
	m.t.Helper()
	s, d := m.e.Open(context.Background(), m.opts)
	mustNoDiags(m.t, d)
	defer s.Close()
	_, err := s.Rollback(context.Background(), false)
	return err
}

func (m *mvEnv) state() *states.State {
	m.t.Helper()
	s, d := m.e.OpenState(context.Background(), Options{Dir: m.dir}, false)
	mustNoDiags(m.t, d)
	return s.State
}

// files returns the data directory's files and their contents.
func (m *mvEnv) files() map[string]string {
	m.t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(m.data)
	if err != nil {
		m.t.Fatal(err)
	}
	for _, e := range entries {
		out[e.Name()] = readData(m.data, e.Name())
	}
	return out
}

// original is what destroy puts back for a state record: the fake
// snapshot's content, or "(absent)".
func original(t *testing.T, r *states.Resource) string {
	t.Helper()
	var s fakeSnap
	if err := json.Unmarshal(r.Original, &s); err != nil {
		t.Fatalf("%s: original %q: %v", r.Addr, r.Original, err)
	}
	if !s.Exists {
		return "(absent)"
	}
	return s.Content
}

func addrsOf(st *states.State) []string {
	out := []string{}
	for a := range st.Resources {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// moved returns a copy of st's resources with the moves made.
func movedRecords(t *testing.T, st *states.State, moves map[string]string) map[string]*states.Resource {
	t.Helper()
	c := &states.State{Resources: map[string]*states.Resource{}}
	for a, r := range st.Resources {
		c.Resources[a] = r
	}
	for from, to := range moves {
		if err := c.Move(from, to); err != nil {
			t.Fatal(err)
		}
	}
	return c.Resources
}

var moduleM = `
variable "data" { type = string }` + fileRes("f", "m", "managed m") + `
`

func TestMoved(t *testing.T) {
	tests := []struct {
		name      string
		originals map[string]string
		before    map[string]string
		after     map[string]string
		// wantText are lines of the plan of after.
		wantText []string
		// wantActions are actions in that plan, by address.
		wantActions map[string]plans.Action
		// wantOriginal is, by address, what destroy puts back; its keys
		// are the state's addresses after the apply.
		wantOriginal map[string]string
		// renamed are the moves a rollback keeps.
		renamed map[string]string
		// kept are data files destroy leaves as mailplan left them (they
		// are no longer managed).
		kept map[string]string
	}{
		{
			name:         "moved resource",
			originals:    map[string]string{"aliases": "orig"},
			before:       map[string]string{"main.mp.hcl": fileRes("aliases", "aliases", "managed")},
			after:        map[string]string{"main.mp.hcl": fileRes("etc_aliases", "aliases", "managed") + movedBlock("fake_file.aliases", "fake_file.etc_aliases")},
			wantText:     []string{"No changes. Your servers match the plan.", "  # fake_file.aliases has moved to fake_file.etc_aliases"},
			wantActions:  map[string]plans.Action{"fake_file.etc_aliases": plans.NoOp},
			wantOriginal: map[string]string{"fake_file.etc_aliases": "orig"},
			renamed:      map[string]string{"fake_file.aliases": "fake_file.etc_aliases"},
		},
		{
			name:         "moved resource, updated",
			originals:    map[string]string{"aliases": "orig"},
			before:       map[string]string{"main.mp.hcl": fileRes("aliases", "aliases", "managed")},
			after:        map[string]string{"main.mp.hcl": fileRes("etc_aliases", "aliases", "managed 2") + movedBlock("fake_file.aliases", "fake_file.etc_aliases")},
			wantText:     []string{"  # fake_file.etc_aliases will be updated in-place", "  # (moved from fake_file.aliases)", "Plan: 0 to add, 1 to change, 0 to destroy."},
			wantActions:  map[string]plans.Action{"fake_file.etc_aliases": plans.Update},
			wantOriginal: map[string]string{"fake_file.etc_aliases": "orig"},
			renamed:      map[string]string{"fake_file.aliases": "fake_file.etc_aliases"},
		},
		{
			name:      "count index to for_each key",
			originals: map[string]string{"x": "orig x"},
			before: map[string]string{"main.mp.hcl": `
resource "fake_file" "x" {
  count   = 1
  path    = "${var.data}/x"
  content = "managed x"
}`},
			after: map[string]string{"main.mp.hcl": `
resource "fake_file" "x" {
  for_each = toset(["k"])
  path     = "${var.data}/x"
  content  = "managed x"
}` + movedBlock("fake_file.x[0]", `fake_file.x["k"]`)},
			wantText:     []string{`  # fake_file.x[0] has moved to fake_file.x["k"]`},
			wantActions:  map[string]plans.Action{`fake_file.x["k"]`: plans.NoOp},
			wantOriginal: map[string]string{`fake_file.x["k"]`: "orig x"},
			renamed:      map[string]string{"fake_file.x[0]": `fake_file.x["k"]`},
		},
		{
			name:      "count added",
			originals: map[string]string{"x": "orig x"},
			before:    map[string]string{"main.mp.hcl": fileRes("x", "x", "managed x")},
			after: map[string]string{"main.mp.hcl": `
resource "fake_file" "x" {
  count   = 1
  path    = "${var.data}/x"
  content = "managed x"
}` + movedBlock("fake_file.x", "fake_file.x[0]")},
			wantText:     []string{`  # fake_file.x has moved to fake_file.x[0]`},
			wantActions:  map[string]plans.Action{`fake_file.x[0]`: plans.NoOp},
			wantOriginal: map[string]string{`fake_file.x[0]`: "orig x"},
			renamed:      map[string]string{"fake_file.x": "fake_file.x[0]"},
		},
		{
			name:         "moved module",
			originals:    map[string]string{"m": "orig m"},
			before:       map[string]string{"modules/m/main.mp.hcl": moduleM, "main.mp.hcl": moduleCall("a")},
			after:        map[string]string{"main.mp.hcl": moduleCall("b") + movedBlock("module.a", "module.b")},
			wantText:     []string{"  # module.a.fake_file.f has moved to module.b.fake_file.f"},
			wantActions:  map[string]plans.Action{"module.b.fake_file.f": plans.NoOp},
			wantOriginal: map[string]string{"module.b.fake_file.f": "orig m"},
			renamed:      map[string]string{"module.a.fake_file.f": "module.b.fake_file.f"},
		},
		{
			name:         "resource into a module",
			originals:    map[string]string{"m": "orig m"},
			before:       map[string]string{"modules/m/main.mp.hcl": moduleM, "main.mp.hcl": fileRes("f", "m", "managed m")},
			after:        map[string]string{"main.mp.hcl": moduleCall("a") + movedBlock("fake_file.f", "module.a.fake_file.f")},
			wantText:     []string{"  # fake_file.f has moved to module.a.fake_file.f"},
			wantActions:  map[string]plans.Action{"module.a.fake_file.f": plans.NoOp},
			wantOriginal: map[string]string{"module.a.fake_file.f": "orig m"},
			renamed:      map[string]string{"fake_file.f": "module.a.fake_file.f"},
		},
		{
			name:      "moved inside a module",
			originals: map[string]string{"m": "orig m"},
			before: map[string]string{"modules/m/main.mp.hcl": moduleM, "main.mp.hcl": `
module "a" {
  source   = "./modules/m"
  for_each = toset(["k"])
  data     = var.data
}`},
			after: map[string]string{"modules/m/main.mp.hcl": `
variable "data" { type = string }` + fileRes("g", "m", "managed m") + movedBlock("fake_file.f", "fake_file.g")},
			wantText:     []string{`  # module.a["k"].fake_file.f has moved to module.a["k"].fake_file.g`},
			wantActions:  map[string]plans.Action{`module.a["k"].fake_file.g`: plans.NoOp},
			wantOriginal: map[string]string{`module.a["k"].fake_file.g`: "orig m"},
			renamed:      map[string]string{`module.a["k"].fake_file.f`: `module.a["k"].fake_file.g`},
		},
		{
			name:         "chain",
			originals:    map[string]string{"a": "orig a"},
			before:       map[string]string{"main.mp.hcl": fileRes("a", "a", "managed a")},
			after:        map[string]string{"main.mp.hcl": fileRes("c", "a", "managed a") + movedBlock("fake_file.b", "fake_file.c") + movedBlock("fake_file.a", "fake_file.b")},
			wantText:     []string{"  # fake_file.a has moved to fake_file.c"},
			wantActions:  map[string]plans.Action{"fake_file.c": plans.NoOp},
			wantOriginal: map[string]string{"fake_file.c": "orig a"},
			renamed:      map[string]string{"fake_file.a": "fake_file.c"},
		},
		{
			name:      "moved keeps dependencies",
			originals: map[string]string{"a": "orig a", "b": "orig b"},
			before: map[string]string{"main.mp.hcl": fileRes("a", "a", "managed a") + `
resource "fake_file" "b" {
  path    = "${var.data}/b"
  content = "managed b"
  depends_on = [fake_file.a]
}`},
			after: map[string]string{"main.mp.hcl": fileRes("first", "a", "managed a") + `
resource "fake_file" "b" {
  path    = "${var.data}/b"
  content = "managed b"
  depends_on = [fake_file.first]
}` + movedBlock("fake_file.a", "fake_file.first")},
			wantText:     []string{"  # fake_file.a has moved to fake_file.first"},
			wantActions:  map[string]plans.Action{"fake_file.first": plans.NoOp, "fake_file.b": plans.NoOp},
			wantOriginal: map[string]string{"fake_file.first": "orig a", "fake_file.b": "orig b"},
			renamed:      map[string]string{"fake_file.a": "fake_file.first"},
		},
		{
			name:         "removed",
			originals:    map[string]string{"a": "orig a", "b": "orig b"},
			before:       map[string]string{"main.mp.hcl": fileRes("a", "a", "managed a") + fileRes("b", "b", "managed b")},
			after:        map[string]string{"main.mp.hcl": fileRes("b", "b", "managed b") + removedBlock("fake_file.a")},
			wantText:     []string{"No changes. Your servers match the plan.", "  # fake_file.a will no longer be managed by mailplan", "      # nothing on the servers changes; destroy will no longer put back what was there before mailplan"},
			wantActions:  map[string]plans.Action{"fake_file.a": plans.Forget, "fake_file.b": plans.NoOp},
			wantOriginal: map[string]string{"fake_file.b": "orig b"},
			kept:         map[string]string{"a": "managed a"},
		},
		{
			name:         "removed module",
			originals:    map[string]string{"m": "orig m"},
			before:       map[string]string{"modules/m/main.mp.hcl": moduleM, "main.mp.hcl": moduleCall("a")},
			after:        map[string]string{"main.mp.hcl": removedBlock("module.a")},
			wantText:     []string{"  # module.a.fake_file.f will no longer be managed by mailplan"},
			wantActions:  map[string]plans.Action{"module.a.fake_file.f": plans.Forget},
			wantOriginal: map[string]string{},
			kept:         map[string]string{"m": "managed m"},
		},
		{
			name:      "removed, destroy = true",
			originals: map[string]string{"a": "orig a"},
			before:    map[string]string{"main.mp.hcl": fileRes("a", "a", "managed a")},
			after: map[string]string{"main.mp.hcl": `
removed {
  from = fake_file.a
  lifecycle {
    destroy = true
  }
}`},
			wantText:     []string{"  # fake_file.a will be destroyed", "Plan: 0 to add, 0 to change, 1 to destroy."},
			wantActions:  map[string]plans.Action{"fake_file.a": plans.Delete},
			wantOriginal: map[string]string{},
		},
		{
			name:         "implicit takeover",
			originals:    map[string]string{"aliases": "orig"},
			before:       map[string]string{"main.mp.hcl": fileRes("aliases", "aliases", "managed")},
			after:        map[string]string{"main.mp.hcl": fileRes("etc_aliases", "aliases", "managed")},
			wantText:     []string{"No changes. Your servers match the plan.", "  # fake_file.etc_aliases takes over fake_file.aliases (both manage the file DATA/aliases); what mailplan first found there stays what destroy puts back"},
			wantActions:  map[string]plans.Action{"fake_file.etc_aliases": plans.NoOp},
			wantOriginal: map[string]string{"fake_file.etc_aliases": "orig"},
		},
		{
			name:      "implicit takeover, updated",
			originals: map[string]string{"aliases": "orig"},
			before:    map[string]string{"main.mp.hcl": fileRes("aliases", "aliases", "managed")},
			after:     map[string]string{"main.mp.hcl": fileRes("etc_aliases", "aliases", "managed 2")},
			wantText: []string{
				"  # fake_file.etc_aliases will be updated in-place",
				"  # fake_file.etc_aliases takes over fake_file.aliases (both manage the file DATA/aliases); what mailplan first found there stays what destroy puts back",
				"Plan: 0 to add, 1 to change, 0 to destroy.",
			},
			wantActions:  map[string]plans.Action{"fake_file.etc_aliases": plans.Update},
			wantOriginal: map[string]string{"fake_file.etc_aliases": "orig"},
		},
		{
			name:         "implicit takeover of a file mailplan created",
			before:       map[string]string{"main.mp.hcl": fileRes("aliases", "aliases", "managed")},
			after:        map[string]string{"main.mp.hcl": fileRes("etc_aliases", "aliases", "managed")},
			wantText:     []string{"  # fake_file.etc_aliases takes over fake_file.aliases (both manage the file DATA/aliases); what mailplan first found there stays what destroy puts back"},
			wantActions:  map[string]plans.Action{"fake_file.etc_aliases": plans.NoOp},
			wantOriginal: map[string]string{"fake_file.etc_aliases": "(absent)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMvEnv(t, tt.originals)
			m.write(tt.before)
			if _, _, err := m.plan(false, true); err != nil {
				t.Fatalf("first apply: %v", err)
			}
			s0, f0 := m.state(), m.files()

			m.write(tt.after)
			p, text, _ := m.plan(false, false)
			for _, l := range tt.wantText {
				if !strings.Contains(text, l+"\n") {
					t.Errorf("plan lacks %q:\n%s", l, text)
				}
			}
			deletes := false
			for _, a := range tt.wantActions {
				deletes = deletes || a == plans.Delete
			}
			if strings.Contains(text, "will be destroyed") != deletes {
				t.Errorf("plan destroys:\n%s", text)
			}
			got := map[string]plans.Action{}
			for _, c := range p.Changes {
				got[c.Addr] = c.Action
			}
			if diff := cmp.Diff(tt.wantActions, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if !p.NeedsApply() {
				t.Error("NeedsApply is false")
			}

			if _, _, err := m.plan(false, true); err != nil {
				t.Fatalf("apply: %v", err)
			}
			st := m.state()
			gotOrig := map[string]string{}
			for a, r := range st.Resources {
				gotOrig[a] = original(t, r)
			}
			if diff := cmp.Diff(tt.wantOriginal, gotOrig); diff != "" {
				t.Errorf("what destroy puts back, by address (-want +got):\n%s", diff)
			}
			again, text, _ := m.plan(false, false)
			if again.NeedsApply() || !strings.HasPrefix(text, "No changes.") || strings.Contains(text, "#") {
				t.Errorf("plan after apply is not empty:\n%s", text)
			}

			// A rollback puts the state back as it was (moves stay: they
			// changed nothing on a host), and the files.
			if err := m.rollback(); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if diff := cmp.Diff(movedRecords(t, s0, tt.renamed), m.state().Resources); diff != "" {
				t.Errorf("state after rollback (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(f0, m.files()); diff != "" {
				t.Errorf("files after rollback (-want +got):\n%s", diff)
			}

			// Apply again, then destroy: what was there before mailplan
			// comes back, not mailplan's content.
			if _, _, err := m.plan(false, true); err != nil {
				t.Fatalf("apply again: %v", err)
			}
			if _, _, err := m.plan(true, true); err != nil {
				t.Fatalf("destroy: %v", err)
			}
			want := map[string]string{}
			for n, c := range tt.originals {
				want[n] = c
			}
			for n, c := range tt.kept {
				want[n] = c
			}
			if diff := cmp.Diff(want, m.files()); diff != "" {
				t.Errorf("files after destroy (-want +got):\n%s", diff)
			}
			if left := addrsOf(m.state()); len(left) != 0 {
				t.Errorf("state after destroy manages %v", left)
			}
		})
	}
}
