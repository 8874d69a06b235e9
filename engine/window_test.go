package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// fakeWindow is a test window: a "service" whose state ("running" or
// "stopped") is a file, stopped while what the block covers applies. It
// logs its steps into the fakeFile's order, and can fail or call a hook
// at each.
type fakeWindow struct {
	ff *fakeFile
	// fail names steps ("open", "close") that fail.
	fail map[string]bool
	// onStep, when set, is called at the start of each step.
	onStep func(step string)
}

var (
	_ resource.Type     = (*fakeWindow)(nil)
	_ resource.Windower = (*fakeWindow)(nil)
)

func (w *fakeWindow) Name() string { return "fake_window" }

func (w *fakeWindow) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{
		"path": {Type: cty.String, Required: true, ShowUnchanged: true},
	}}
}

type fakeWindowEntry struct {
	Op    string `json:"op"`
	Found string `json:"found,omitempty"`
}

func firstOpen(entries [][]byte) (string, bool) {
	for _, e := range entries {
		var we fakeWindowEntry
		if json.Unmarshal(e, &we) == nil && we.Op == "open" {
			return we.Found, true
		}
	}
	return "", false
}

func (w *fakeWindow) step(s string) error {
	if w.onStep != nil {
		w.onStep(s)
	}
	w.ff.mu.Lock()
	defer w.ff.mu.Unlock()
	w.ff.order = append(w.ff.order, s+" svc")
	if w.fail[s] {
		return errors.New("injected " + s + " failure")
	}
	return nil
}

func (w *fakeWindow) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	b, err := os.ReadFile(req.Config.GetAttr("path").AsString())
	if err != nil {
		return resource.ReadResponse{}, err
	}
	return resource.ReadResponse{Current: req.Config, Snapshot: b}, nil
}

func (w *fakeWindow) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	_, open := firstOpen(req.Interrupted)
	return resource.PlanResponse{Planned: req.Config, Summary: "stop svc, start it after", Unfinished: open}, nil
}

func (w *fakeWindow) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	if err := w.step("open"); err != nil {
		return resource.ApplyResponse{}, err
	}
	found, ok := firstOpen(req.Interrupted)
	if !ok {
		found = string(req.Snapshot)
	}
	e, _ := json.Marshal(fakeWindowEntry{Op: "open", Found: found})
	if err := req.Journal.Record(ctx, e); err != nil {
		return resource.ApplyResponse{}, err
	}
	return resource.ApplyResponse{}, os.WriteFile(req.Planned.GetAttr("path").AsString(), []byte("stopped"), 0o644)
}

func (w *fakeWindow) Close(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	if err := w.step("close"); err != nil {
		return resource.ApplyResponse{}, err
	}
	found, ok := firstOpen(req.Interrupted)
	if !ok {
		found = string(req.Snapshot)
	}
	e, _ := json.Marshal(fakeWindowEntry{Op: "close"})
	if err := req.Journal.Record(ctx, e); err != nil {
		return resource.ApplyResponse{}, err
	}
	return resource.ApplyResponse{}, os.WriteFile(req.Planned.GetAttr("path").AsString(), []byte(found), 0o644)
}

func (w *fakeWindow) Restore(ctx context.Context, req resource.RestoreRequest) error {
	found, ok := firstOpen(req.Journal)
	if !ok {
		return nil
	}
	w.ff.mu.Lock()
	w.ff.order = append(w.ff.order, "restore svc")
	w.ff.mu.Unlock()
	return os.WriteFile(req.Config.GetAttr("path").AsString(), []byte(found), 0o644)
}

// windowPlan: a; the window svc, open during b and c (c after b); d
// after c, so after the window closes; e on its own.
var windowPlan = `
variable "data" { type = string }
resource "fake_window" "svc" {
  path   = "${var.data}/svc"
  during = [fake_file.b, fake_file.c]
}` + fileRes("a", "a", "new a") + fileRes("b", "b", "new b", "fake_file.a") + fileRes("c", "c", "new c", "fake_file.b") +
	fileRes("d", "d", "new d", "fake_file.c") + fileRes("e", "e", "new e") + "\n"

type windowBed struct {
	e    *Engine
	ff   *fakeFile
	fw   *fakeWindow
	opts Options
	data string
	// seen is the service's state each file's apply saw.
	mu   sync.Mutex
	seen map[string]string
}

func newWindowBed(t *testing.T) *windowBed {
	dir, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(data, "a"), []byte("old a"), 0o644)
	os.WriteFile(filepath.Join(data, "svc"), []byte("running"), 0o644)
	writePlan(t, dir, windowPlan)
	b := &windowBed{data: data, seen: map[string]string{}}
	b.ff = &fakeFile{failOn: map[string]bool{}, failRestore: map[string]bool{}, onApply: func(path string) {
		b.mu.Lock()
		b.seen[filepath.Base(path)] = readData(data, "svc")
		b.mu.Unlock()
	}}
	b.fw = &fakeWindow{ff: b.ff, fail: map[string]bool{}}
	b.e = newTestEngine(b.ff)
	b.e.Registry = resource.NewRegistry(b.ff, b.fw)
	b.opts = Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Parallelism: 2}
	return b
}

func (b *windowBed) state() map[string]string {
	out := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d", "e", "svc"} {
		out[n] = readData(b.data, n)
	}
	return out
}

var (
	windowBefore = map[string]string{"a": "old a", "b": "(absent)", "c": "(absent)", "d": "(absent)", "e": "(absent)", "svc": "running"}
	windowAfter  = map[string]string{"a": "new a", "b": "new b", "c": "new c", "d": "new d", "e": "new e", "svc": "running"}
)

func (b *windowBed) check(t *testing.T, after string, want map[string]string) {
	t.Helper()
	got := b.state()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", after, k, got[k], v)
		}
	}
}

func (b *windowBed) order() []string {
	b.ff.mu.Lock()
	defer b.ff.mu.Unlock()
	return append([]string(nil), b.ff.order...)
}

func before(order []string, x, y string) bool {
	i, j := slices.Index(order, x), slices.Index(order, y)
	return i >= 0 && j >= 0 && i < j
}

// The window opens after what the covered resources wait for, before
// them, and closes before what waits for them; they see the service
// stopped, the rest sees it running; a second plan has nothing to do
// and the window stays shut.
func TestWindowOrder(t *testing.T) {
	b := newWindowBed(t)
	s, p, _ := openPlan(t, b.e, b.opts)
	var summary string
	for _, c := range p.Plan.Changes {
		if c.Addr == "fake_window.svc" {
			summary = string(c.Action) + ": " + c.Summary
		}
	}
	if summary != "update: stop svc, start it after; covers 2 changes" {
		t.Errorf("window in the plan: %q", summary)
	}
	if _, err := s.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b.check(t, "apply", windowAfter)
	o := b.order()
	for _, pair := range [][2]string{{"apply a", "open svc"}, {"open svc", "apply b"}, {"apply c", "close svc"}, {"close svc", "apply d"}} {
		if !before(o, pair[0], pair[1]) {
			t.Errorf("%q is not before %q: %v", pair[0], pair[1], o)
		}
	}
	want := map[string]string{"a": "running", "b": "stopped", "c": "stopped", "d": "running"}
	for k, v := range want {
		if b.seen[k] != v {
			t.Errorf("%s saw the service %s, want %s", k, b.seen[k], v)
		}
	}
	b.ff.order = nil
	s, p, _ = openPlan(t, b.e, b.opts)
	if p.Plan.NeedsApply() {
		t.Errorf("second plan needs an apply: %+v", p.Plan.Changes)
	}
	if _, err := s.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if o := b.order(); len(o) != 0 {
		t.Errorf("a no-change apply did %v", o)
	}
	// Destroy puts back what the files were; the window has nothing to
	// undo and the service keeps running.
	o2 := b.opts
	o2.Destroy = true
	if _, err := applyDir(t, b.e, o2); err != nil {
		t.Fatal(err)
	}
	b.check(t, "destroy", windowBefore)
}

// A failure at any step rolls the whole apply back: the covered changes
// are undone before the window, so the service starts only once they are.
func TestWindowFailureAtEachStep(t *testing.T) {
	for _, step := range []string{"a", "open", "b", "c", "close", "d"} {
		t.Run(step, func(t *testing.T) {
			b := newWindowBed(t)
			if step == "open" || step == "close" {
				b.fw.fail[step] = true
			} else {
				b.ff.failOn[filepath.Join(b.data, step)] = true
			}
			if _, err := applyDir(t, b.e, b.opts); err == nil {
				t.Fatal("apply succeeded")
			}
			b.check(t, "rollback", windowBefore)
			o := b.order()
			if slices.Contains(o, "restore svc") {
				for _, f := range []string{"restore b", "restore c"} {
					if slices.Contains(o, f) && !before(o, f, "restore svc") {
						t.Errorf("%s after the window's restore: %v", f, o)
					}
				}
			}
			// Nothing is left to do but the whole apply again.
			b.fw.fail, b.ff.failOn = map[string]bool{}, map[string]bool{}
			if _, err := applyDir(t, b.e, b.opts); err != nil {
				t.Fatal(err)
			}
			b.check(t, "apply after the rollback", windowAfter)
		})
	}
}

// Killed at each step (a second interrupt: the apply stops at once,
// leaving its journal open, as a SIGKILL would), the user's next command
// ends byte for byte back (rollback) or fully forward (apply), with the
// service running either way.
func TestWindowKilledAtEachStep(t *testing.T) {
	for _, step := range []string{"apply a", "open svc", "apply b", "apply c", "close svc", "apply d"} {
		for _, then := range []string{"apply", "rollback"} {
			t.Run(strings.ReplaceAll(step, " ", "_")+"/"+then, func(t *testing.T) {
				b := newWindowBed(t)
				kill, stop, ctx := killAt(step)
				b.ff.onApply = func(path string) { kill("apply " + filepath.Base(path)) }
				b.fw.onStep = func(s string) { kill(s + " svc") }
				o := b.opts
				o.Stop = stop
				applyInterrupted(t, b.e, o, ctx)
				b.ff.onApply, b.fw.onStep = nil, nil
				afterKill(t, b.e, b.opts, then)
				if then == "apply" {
					b.check(t, "apply after the kill", windowAfter)
				} else {
					b.check(t, "rollback after the kill", windowBefore)
				}
			})
		}
	}
}

// during is only for windows, names resources or modules, and a window
// cannot wait for what it covers.
func TestWindowConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"not a window", `
variable "data" { type = string }
resource "fake_file" "x" {
  path    = "${var.data}/x"
  content = "x"
  during  = [fake_file.y]
}` + fileRes("y", "y", "y"), "does not open a window"},
		{"value", `
variable "data" { type = string }
resource "fake_window" "svc" {
  path   = "${var.data}/svc"
  during = [var.data]
}`, "during lists resources and module calls"},
		{"waits for what it covers", `
variable "data" { type = string }
resource "fake_window" "svc" {
  path       = "${var.data}/svc"
  during     = [fake_file.y]
  depends_on = [fake_file.y]
}` + fileRes("y", "y", "y"), "depends on fake_file.y, which it lists in during"},
		{"cycle", `
variable "data" { type = string }
resource "fake_window" "svc" {
  path       = "${var.data}/svc"
  during     = [fake_file.y]
  depends_on = [fake_file.z]
}` + fileRes("y", "y", "y") + fileRes("z", "z", "z", "fake_file.y"), "Window in a dependency cycle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newWindowBed(t)
			writePlan(t, b.opts.Dir, tc.src)
			s, d := b.e.Open(context.Background(), b.opts)
			if !d.HasErrors() {
				_, d = s.Plan(context.Background())
				s.Close()
			}
			if !d.HasErrors() || !strings.Contains(d.Error(), tc.want) {
				t.Errorf("diagnostics %q, want one with %q", d.Error(), tc.want)
			}
		})
	}
}

// Several windows over one piece of work (Postfix and Dovecot on two
// servers around one copy) open side by side and close after it; none
// waits for another's close.
func TestWindowsOverOneChange(t *testing.T) {
	b := newWindowBed(t)
	os.WriteFile(filepath.Join(b.data, "svc2"), []byte("running"), 0o644)
	writePlan(t, b.opts.Dir, `
variable "data" { type = string }
resource "fake_window" "w" {
  for_each = toset(["svc", "svc2"])
  path     = "${var.data}/${each.key}"
  during   = [fake_file.b]
}`+fileRes("a", "a", "new a")+fileRes("b", "b", "new b", "fake_file.a")+fileRes("d", "d", "new d", "fake_file.b")+"\n")
	if _, err := applyDir(t, b.e, b.opts); err != nil {
		t.Fatal(err)
	}
	o := b.order()
	if n := strings.Count(strings.Join(o, ","), "open svc"); n != 2 {
		t.Errorf("%d windows opened: %v", n, o)
	}
	if !before(o, "apply b", "close svc") || !before(o, "close svc", "apply d") || b.seen["b"] != "stopped" || b.seen["d"] != "running" {
		t.Errorf("order %v, b saw %s, d saw %s", o, b.seen["b"], b.seen["d"])
	}
	for _, f := range []string{"svc", "svc2"} {
		if got := readData(b.data, f); got != "running" {
			t.Errorf("%s = %s after the apply", f, got)
		}
	}
}
