package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/render"
	"github.com/mailplan/mailplan/engine/resource"
)

func writePlan(t *testing.T, dir, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "main.mp.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fileRes is a fake_file resource block, name managing the file under
// var.data with content and depending on dependsOn, on the lines after a
// line end.
func fileRes(name, file, content string, dependsOn ...string) string {
	if len(dependsOn) == 0 {
		return fmt.Sprintf("\nresource \"fake_file\" %q {\n  path    = \"${var.data}/%s\"\n  content = \"%s\"\n}", name, file, content)
	}
	return fmt.Sprintf("\nresource \"fake_file\" %q {\n  path       = \"${var.data}/%s\"\n  content    = \"%s\"\n  depends_on = [%s]\n}", name, file, content, strings.Join(dependsOn, ", "))
}

// movedBlock is a moved block from one address to another, on the lines
// after a line end.
func movedBlock(from, to string) string {
	return fmt.Sprintf("\nmoved {\n  from = %s\n  to   = %s\n}", from, to)
}

// removedBlock is a removed block, on the lines after a line end.
func removedBlock(from string) string {
	return fmt.Sprintf("\nremoved {\n  from = %s\n}", from)
}

// moduleCall calls the module ./modules/m as name, passing var.data, on
// the lines after a line end.
func moduleCall(name string) string {
	return fmt.Sprintf("\nmodule %q {\n  source = \"./modules/m\"\n  data   = var.data\n}", name)
}

func newTestEngine(ff *fakeFile) *Engine {
	if ff.now == nil {
		ff.now = time.Now
	}
	return &Engine{Registry: resource.NewRegistry(ff)}
}

func mustNoDiags(t *testing.T, d hcl.Diagnostics) {
	t.Helper()
	if d.HasErrors() {
		t.Fatalf("diagnostics: %s", d.Error())
	}
}

// openPlan opens a session with opts and plans; the test fails on an
// error diagnostic of either. The caller closes the session.
func openPlan(t *testing.T, e *Engine, opts Options) (*Session, *exec.Planned, hcl.Diagnostics) {
	t.Helper()
	ctx := context.Background()
	s, d := e.Open(ctx, opts)
	mustNoDiags(t, d)
	p, d := s.Plan(ctx)
	if d.HasErrors() {
		s.Close()
		t.Fatalf("diagnostics: %s", d.Error())
	}
	return s, p, d
}

func applyDir(t *testing.T, e *Engine, opts Options) (*plans.Plan, error) {
	t.Helper()
	ctx := context.Background()
	s, p, _ := openPlan(t, e, opts)
	defer s.Close()
	_, err := s.Apply(ctx, p)
	return p.Plan, err
}

// Five resources: three independent, then two chained on the third. The
// third fails: the first two must be rolled back, byte-identical.
func TestApplyFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	data := t.TempDir()
	for _, n := range []string{"a", "b"} {
		os.WriteFile(filepath.Join(data, n), []byte("original "+n+"\n"), 0o644)
	}
	writePlan(t, dir, `
variable "data" { type = string }`+fileRes("a", "a", "new a")+fileRes("b", "b", "new b")+fileRes("c", "c", "new c", "fake_file.a", "fake_file.b")+`
resource "fake_file" "d" {
  path    = "${var.data}/d"
  content = fake_file.c.content
}
resource "fake_file" "e" {
  path    = "${var.data}/e"
  content = fake_file.d.content
}
`)
	ff := &fakeFile{failOn: map[string]bool{filepath.Join(data, "c"): true}}
	e := newTestEngine(ff)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Parallelism: 1}
	_, err := applyDir(t, e, opts)
	if err == nil {
		t.Fatal("apply succeeded; want failure")
	}
	want := []string{"apply a", "apply b", "apply c", "restore c", "restore b", "restore a"}
	if diff := cmp.Diff(want, ff.order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	for _, n := range []string{"a", "b"} {
		b, _ := os.ReadFile(filepath.Join(data, n))
		if string(b) != "original "+n+"\n" {
			t.Errorf("%s = %q after rollback", n, b)
		}
	}
	for _, n := range []string{"c", "d", "e"} {
		if _, err := os.Stat(filepath.Join(data, n)); !os.IsNotExist(err) {
			t.Errorf("%s exists after rollback", n)
		}
	}
	// The state manages nothing and records the rolled-back apply.
	s, d := e.OpenState(context.Background(), Options{Dir: dir}, false)
	mustNoDiags(t, d)
	if len(s.State.Resources) != 0 || s.State.LastApply.Status != "rolled_back" {
		t.Errorf("state after rollback: %d resources, status %s", len(s.State.Resources), s.State.LastApply.Status)
	}
}

func TestApplyRollbackDestroy(t *testing.T) {
	dir := t.TempDir()
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "a"), []byte("before"), 0o600)
	writePlan(t, dir, `
variable "data" { type = string }
variable "content" {
  type    = string
  default = "v1"
}
resource "fake_file" "a" {
  path    = "${var.data}/a"
  content = var.content
}
resource "fake_file" "n" {
  path    = "${var.data}/n"
  content = var.content
}
output "path" { value = fake_file.a.path }
`)
	ff := &fakeFile{}
	e := newTestEngine(ff)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}}
	p, err := applyDir(t, e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a, c, d := p.Counts(); a != 1 || c != 1 || d != 0 {
		t.Errorf("counts %d %d %d", a, c, d)
	}
	read := func(n string) string { b, _ := os.ReadFile(filepath.Join(data, n)); return string(b) }
	if read("a") != "v1" || read("n") != "v1" {
		t.Fatal("not applied")
	}
	// No-op re-plan.
	p, err = applyDir(t, e, opts)
	if err != nil || p.HasChanges() {
		t.Fatalf("re-plan has changes: %v", err)
	}
	// Update, then mailplan rollback.
	opts2 := opts
	opts2.Vars = append(opts2.Vars, VarArg{Value: "content=v2"})
	if _, err := applyDir(t, e, opts2); err != nil {
		t.Fatal(err)
	}
	if read("a") != "v2" {
		t.Fatal("update not applied")
	}
	s, d := e.Open(context.Background(), opts2)
	mustNoDiags(t, d)
	if _, err := s.Rollback(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if read("a") != "v1" || read("n") != "v1" {
		t.Fatalf("rollback: a=%q n=%q", read("a"), read("n"))
	}
	// Destroy restores what was there before mailplan.
	opts.Destroy = true
	if _, err := applyDir(t, e, opts); err != nil {
		t.Fatal(err)
	}
	if read("a") != "before" {
		t.Errorf("destroy: a = %q, want the original", read("a"))
	}
	if _, err := os.Stat(filepath.Join(data, "n")); !os.IsNotExist(err) {
		t.Error("destroy left n")
	}
	st, _ := os.Stat(filepath.Join(dir, ".mailplan", "state.json"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("state mode %v", st.Mode())
	}
}

func TestPersistedWait(t *testing.T) {
	dir := t.TempDir()
	data := t.TempDir()
	writePlan(t, dir, `
variable "data" { type = string }`+fileRes("slow", "slow", "x")+`
resource "fake_file" "after" {
  path    = "${var.data}/after"
  content = fake_file.slow.content
}`+fileRes("free", "free", "y")+`
`)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ff := &fakeFile{waitFor: map[string]time.Duration{filepath.Join(data, "slow"): time.Hour}, now: clock}
	e := newTestEngine(ff)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, MaxWait: time.Minute}
	ctx := context.Background()
	run := func() (*plans.Plan, error) {
		s, d := e.Open(ctx, opts)
		mustNoDiags(t, d)
		defer s.Close()
		s.runner.Now = clock
		p, d := s.Plan(ctx)
		mustNoDiags(t, d)
		rep, err := s.Apply(ctx, p)
		if err == nil && len(rep.Waiting) > 0 && !rep.Waiting[0].Until.Equal(now.Add(time.Hour)) {
			t.Errorf("waiting until %v", rep.Waiting[0].Until)
		}
		return p.Plan, err
	}
	if _, err := run(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "free")); err != nil {
		t.Error("independent resource not applied")
	}
	if _, err := os.Stat(filepath.Join(data, "after")); err == nil {
		t.Error("dependent of a waiting resource was applied")
	}
	// Before the time: plan shows it waiting, nothing else to do.
	now = now.Add(30 * time.Minute)
	p, err := run()
	if err != nil {
		t.Fatal(err)
	}
	pending := ""
	for _, c := range p.Changes {
		if c.Addr == "fake_file.slow" {
			pending = c.Pending
		}
	}
	if len(p.Waiting) != 1 || !strings.Contains(pending, "waiting until") {
		t.Errorf("plan does not show the wait: %+v", p.Waiting)
	}
	// The dependent is shown as held back by that wait; the others not.
	for _, c := range p.Changes {
		switch {
		case c.Addr == "fake_file.after":
			if w := c.AfterWait; w == nil || w.Addr != "fake_file.slow" || !w.Until.Equal(now.Add(30*time.Minute)) {
				t.Errorf("fake_file.after: AfterWait %+v, want fake_file.slow until %v", w, now.Add(30*time.Minute))
			}
		case c.AfterWait != nil:
			t.Errorf("%s: AfterWait %+v", c.Addr, c.AfterWait)
		}
	}
	var text strings.Builder
	render.PlanText(&text, p, render.TextOptions{})
	if !strings.Contains(text.String(), "# after the wait of fake_file.slow, until 2026-11-29 13:00:00 UTC") {
		t.Errorf("plan text does not say what holds fake_file.after back:\n%s", text.String())
	}
	// After it: apply resumes and the dependent follows.
	now = now.Add(time.Hour)
	if _, err := run(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(data, "after"))
	if err != nil || string(b) != "x" {
		t.Errorf("after = %q, %v", b, err)
	}
}

// A resource that already matches is adopted: recorded in the state without
// touching the host, so that destroy later puts back exactly that.
func TestAdoptMatchingResource(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	target := filepath.Join(data, "a")
	os.WriteFile(target, []byte("same"), 0o644)
	writePlan(t, dir, `
variable "data" { type = string }
variable "content" {
  type    = string
  default = "same"
}
resource "fake_file" "a" {
  path    = "${var.data}/a"
  content = var.content
}
`)
	ff := &fakeFile{}
	e := newTestEngine(ff)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}}
	p, err := applyDir(t, e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() || len(p.Adopt) != 1 || !p.NeedsApply() {
		t.Fatalf("plan: changes %v, adopt %v", p.HasChanges(), p.Adopt)
	}
	if len(ff.order) != 0 {
		t.Errorf("adoption touched the host: %v", ff.order)
	}
	p, _ = applyDir(t, e, opts)
	if len(p.Adopt) != 0 {
		t.Errorf("adopted twice: %v", p.Adopt)
	}
	opts2 := opts
	opts2.Vars = append(opts2.Vars, VarArg{Value: "content=changed"})
	if _, err := applyDir(t, e, opts2); err != nil {
		t.Fatal(err)
	}
	opts2.Destroy = true
	if _, err := applyDir(t, e, opts2); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "same" {
		t.Errorf("destroy after adoption: %q", b)
	}
}
