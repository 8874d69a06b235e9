package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/resource"
)

// fakePanic is a test resource type that panics in the methods its
// panic_on attribute names ("read", "plan", "apply", "restore", several
// joined with commas). Its object is an entry in memory; Apply journals
// before making it and panics after, as a type with a bug half way
// through its work would.
type fakePanic struct {
	mu       sync.Mutex
	made     map[string]bool
	restores []string // names restored, in order
	// also are methods that panic whatever the configuration says (a
	// destroy restores with the configuration the state recorded).
	also string
}

var _ resource.Type = (*fakePanic)(nil)

func (f *fakePanic) Name() string { return "fake_panic" }

func (f *fakePanic) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{
		"name":     {Type: cty.String, Required: true},
		"panic_on": {Type: cty.String},
	}}
}

func (f *fakePanic) panicsIn(cfg cty.Value, method string) bool {
	on := f.also
	if v := cfg.GetAttr("panic_on"); !v.IsNull() {
		on += "," + v.AsString()
	}
	return strings.Contains(","+on+",", ","+method+",")
}

func (f *fakePanic) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	if f.panicsIn(req.Config, "read") {
		panic("read boom")
	}
	f.mu.Lock()
	made := f.made[req.Config.GetAttr("name").AsString()]
	f.mu.Unlock()
	snap, _ := json.Marshal(made)
	cur := cty.NullVal(f.Schema().ImpliedType())
	if made {
		cur = req.Config
	}
	return resource.ReadResponse{Current: cur, Snapshot: snap}, nil
}

func (f *fakePanic) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	if f.panicsIn(req.Config, "plan") {
		panic("plan boom")
	}
	return resource.PlanResponse{Planned: req.Config}, nil
}

func (f *fakePanic) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	name := req.Config.GetAttr("name").AsString()
	if err := req.Journal.Record(ctx, []byte(`"made"`)); err != nil {
		return resource.ApplyResponse{}, err
	}
	f.mu.Lock()
	if f.made == nil {
		f.made = map[string]bool{}
	}
	f.made[name] = true
	f.mu.Unlock()
	if f.panicsIn(req.Config, "apply") {
		panic(errors.New("apply boom"))
	}
	return resource.ApplyResponse{}, nil
}

func (f *fakePanic) Restore(ctx context.Context, req resource.RestoreRequest) error {
	name := req.Config.GetAttr("name").AsString()
	if f.panicsIn(req.Config, "restore") {
		f.mu.Lock()
		n := len(f.restores)
		f.mu.Unlock()
		_ = f.restores[n] // a runtime error (index out of range), not a panic(…) call
	}
	var before bool
	if len(req.Snapshot) > 0 {
		if err := json.Unmarshal(req.Snapshot, &before); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restores = append(f.restores, name)
	if !before {
		delete(f.made, name)
	}
	return nil
}

var panicPlan = `
variable "data" { type = string }
variable "panic_on" { type = string }` + fileRes("a", "a", "new a") + `
resource "fake_panic" "x" {
  name     = "x"
  panic_on = var.panic_on
}` + fileRes("z", "z", "new z", "fake_panic.x") + `
`

func panicEngine(t *testing.T, panicOn string) (*Engine, *fakeFile, *fakePanic, Options, string) {
	t.Helper()
	dir, data := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "a"), []byte("original a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writePlan(t, dir, panicPlan)
	ff, fp := &fakeFile{}, &fakePanic{}
	e := newTestEngine(ff)
	e.Registry = resource.NewRegistry(ff, fp)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}, {Value: "panic_on=" + panicOn}}, Parallelism: 1}
	return e, ff, fp, opts, data
}

// A panic in a type's Read or Plan, on plan's refresh goroutines, is a
// diagnostic naming the resource at its block; the process goes on.
func TestPanicInPlanIsDiagnostic(t *testing.T) {
	for _, method := range []string{"read", "plan"} {
		t.Run(method, func(t *testing.T) {
			e, _, _, opts, _ := panicEngine(t, method)
			ctx := context.Background()
			s, d := e.Open(ctx, opts)
			mustNoDiags(t, d)
			defer s.Close()
			_, d = s.Plan(ctx)
			if !d.HasErrors() {
				t.Fatal("plan passed")
			}
			var found bool
			for _, diag := range d {
				if diag.Summary != "Cannot "+method+" fake_panic.x" {
					continue
				}
				found = true
				if !strings.Contains(diag.Detail, method+" of fake_panic.x panicked: "+method+" boom") || strings.Contains(diag.Detail, "goroutine") {
					t.Errorf("detail: %s", diag.Detail)
				}
				if diag.Subject == nil || !strings.HasSuffix(diag.Subject.Filename, "main.mp.hcl") {
					t.Errorf("subject: %v", diag.Subject)
				}
			}
			if !found {
				t.Errorf("no diagnostic naming fake_panic.x: %s", d.Error())
			}
		})
	}
}

// A panic in Apply after the type journalled a step fails that resource:
// the apply stops and rolls back as after an error, the panicking type's
// Restore included (its journal entry made it), and the run is closed.
// A panic in its Restore too fails only its rollback: every other change
// is still undone and the state says the rollback failed.
func TestPanicInApplyRollsBack(t *testing.T) {
	tests := []struct {
		name         string
		panicOn      string
		wantStatus   string
		wantRestored []string // fakePanic's Restore calls that returned
		wantRBErr    bool
	}{
		{"apply", "apply", "rolled_back", []string{"x"}, false},
		{"apply and restore", "apply,restore", "rollback_failed", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ff, fp, opts, data := panicEngine(t, tt.panicOn)
			ctx := context.Background()
			s, p, _ := openPlan(t, e, opts)
			rep, err := s.Apply(ctx, p)
			s.Close()
			if err == nil {
				t.Fatal("apply passed")
			}
			if len(rep.Failed) != 1 || rep.Failed[0].Addr != "fake_panic.x" {
				t.Fatalf("failed: %v", rep.Failed)
			}
			var pe *exec.PanicError
			if !errors.As(rep.Failed[0].Err, &pe) || pe.Op != "apply" || pe.Addr != "fake_panic.x" || len(pe.Stack) == 0 {
				t.Errorf("failure: %#v", rep.Failed[0].Err)
			}
			if diff := cmp.Diff([]string{"apply a", "restore a"}, ff.order); diff != "" {
				t.Errorf("fake_file (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRestored, fp.restores); diff != "" {
				t.Errorf("fake_panic restores (-want +got):\n%s", diff)
			}
			if b, _ := os.ReadFile(filepath.Join(data, "a")); string(b) != "original a\n" {
				t.Errorf("a = %q after rollback", b)
			}
			if _, err := os.Stat(filepath.Join(data, "z")); !os.IsNotExist(err) {
				t.Error("z, which depends on the panicking resource, was applied")
			}
			if tt.wantRBErr {
				if len(rep.RollbackErrors) != 1 || rep.RollbackErrors[0].Addr != "fake_panic.x" ||
					!strings.Contains(rep.RollbackErrors[0].Err.Error(), "restore of fake_panic.x panicked") {
					t.Errorf("rollback errors: %v", rep.RollbackErrors)
				}
			} else if len(rep.RollbackErrors) != 0 {
				t.Errorf("rollback errors: %v", rep.RollbackErrors)
			}
			st, d := e.OpenState(ctx, Options{Dir: opts.Dir}, false)
			mustNoDiags(t, d)
			if got := st.State.LastApply.Status; got != tt.wantStatus {
				t.Errorf("status after the apply = %s, want %s", got, tt.wantStatus)
			}
		})
	}
}

// A destroy whose Restore panics is incomplete, with the resource named;
// what does not wait for it is still destroyed.
func TestPanicInDestroy(t *testing.T) {
	e, _, fp, opts, data := panicEngine(t, "")
	if _, err := applyDir(t, e, opts); err != nil {
		t.Fatal(err)
	}
	fp.also = "restore"
	opts.Destroy = true
	ctx := context.Background()
	s, p, _ := openPlan(t, e, opts)
	defer s.Close()
	rep, err := s.Apply(ctx, p)
	if err == nil {
		t.Fatal("destroy passed")
	}
	if len(rep.Failed) != 1 || rep.Failed[0].Addr != "fake_panic.x" || !strings.Contains(rep.Failed[0].Err.Error(), "restore of fake_panic.x panicked") {
		t.Errorf("failed: %v", rep.Failed)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "a")); string(b) != "original a\n" {
		t.Errorf("a = %q after destroy", b)
	}
	if _, err := os.Stat(filepath.Join(data, "z")); !os.IsNotExist(err) {
		t.Error("z not destroyed")
	}
}
