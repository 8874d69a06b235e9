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
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

var interruptPlan = `
variable "data" { type = string }` + fileRes("a", "a", "new a") + fileRes("b", "b", "new b", "fake_file.a") + fileRes("c", "c", "new c", "fake_file.b") + `
`

// A first interrupt lets the resource in flight finish, starts nothing new,
// and rolls back what was done.
func TestInterruptRollsBack(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(data, "a"), []byte("old a"), 0o644)
	writePlan(t, dir, interruptPlan)
	stop := make(chan struct{})
	var once sync.Once
	ff := &fakeFile{onApply: func(path string) {
		if filepath.Base(path) == "b" {
			once.Do(func() { close(stop) })
		}
	}}
	e := newTestEngine(ff)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Stop: stop}
	_, err := applyDir(t, e, opts)
	if !errors.Is(err, exec.ErrInterrupted) {
		t.Fatalf("err = %v, want interrupted", err)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "a")); string(b) != "old a" {
		t.Errorf("a = %q after rollback", b)
	}
	for _, n := range []string{"b", "c"} {
		if _, err := os.Stat(filepath.Join(data, n)); !os.IsNotExist(err) {
			t.Errorf("%s exists", n)
		}
	}
	for _, op := range ff.order {
		if op == "apply c" {
			t.Error("c was started after the interrupt")
		}
	}
}

// killAt returns kill, which stops an apply at once (a second interrupt,
// as a SIGKILL would leave it) when it is called with step, and the
// Options.Stop channel and the apply's ctx it closes and cancels.
func killAt(step string) (kill func(string), stop chan struct{}, ctx context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	stop = make(chan struct{})
	var once sync.Once
	return func(s string) {
		if s == step {
			once.Do(func() { close(stop); cancel() })
		}
	}, stop, ctx
}

// afterKill runs the user's next command after a killed apply: then is
// "apply", which must succeed and leave a plan with nothing to do, or
// "rollback", which must succeed. The caller checks what they left.
func afterKill(t *testing.T, e *Engine, opts Options, then string) {
	t.Helper()
	switch then {
	case "apply":
		if _, err := applyDir(t, e, opts); err != nil {
			t.Fatalf("apply after the kill: %v", err)
		}
		s, p, _ := openPlan(t, e, opts)
		if p.Plan.NeedsApply() {
			t.Errorf("plan after the finishing apply needs an apply: %+v", p.Plan.Changes)
		}
		s.Close()
	case "rollback":
		s, d := e.Open(context.Background(), opts)
		mustNoDiags(t, d)
		if _, err := s.Rollback(context.Background(), false); err != nil {
			t.Fatalf("rollback after the kill: %v", err)
		}
		s.Close()
	}
}

// applyInterrupted plans with opts and applies with ctx, which the test
// cancels during the apply (a hard interrupt): the apply must fail.
func applyInterrupted(t *testing.T, e *Engine, opts Options, ctx context.Context) {
	t.Helper()
	s, p, _ := openPlan(t, e, opts)
	defer s.Close()
	if _, err := s.Apply(ctx, p); err == nil {
		t.Fatal("apply succeeded after a hard interrupt")
	}
}

// hardInterrupt applies interruptPlan and abandons it at once (a second
// Ctrl-C, or a kill) while b is being applied, as a SIGKILL would leave it.
func hardInterrupt(t *testing.T) (e *Engine, opts Options, data string) {
	t.Helper()
	dir := t.TempDir()
	data = t.TempDir()
	os.WriteFile(filepath.Join(data, "a"), []byte("old a"), 0o644)
	writePlan(t, dir, interruptPlan)
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	var once sync.Once
	ff := &fakeFile{onApply: func(path string) {
		if filepath.Base(path) == "b" {
			once.Do(func() { close(stop); cancel() })
		}
	}}
	e = newTestEngine(ff)
	opts = Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Stop: stop}
	applyInterrupted(t, e, opts, ctx)
	opts.Stop = nil
	return e, opts, data
}

func readData(data, name string) string {
	b, err := os.ReadFile(filepath.Join(data, name))
	if err != nil {
		return "(absent)"
	}
	return string(b)
}

// checkBack asserts that the data directory is as before the first apply.
func checkBack(t *testing.T, data string) {
	t.Helper()
	for name, want := range map[string]string{"a": "old a", "b": "(absent)", "c": "(absent)"} {
		if got := readData(data, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// A second interrupt abandons the apply at once; the state it leaves lets
// `mailplan rollback` undo what was done, with the drift check on (the
// interrupted change is mailplan's own).
func TestHardInterruptLeavesRollbackableState(t *testing.T) {
	e, opts, data := hardInterrupt(t)
	s, d := e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	if s.State.LastApply == nil || s.State.LastApply.Status != "running" {
		t.Fatalf("last apply status = %+v", s.State.LastApply)
	}
	if _, err := s.Rollback(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkBack(t, data)
	s, d = e.OpenState(context.Background(), opts, false)
	mustNoDiags(t, d)
	if st := s.State.LastApply.Status; st != "rolled_back" {
		t.Errorf("status after rollback = %s", st)
	}
	if len(s.State.Resources) != 0 {
		t.Errorf("state still manages %d resources", len(s.State.Resources))
	}
}

// An apply after an interrupted one continues it: the plan says so, the
// apply finishes, and a later rollback or destroy still puts back what was
// there before both.
func TestContinueInterruptedApply(t *testing.T) {
	for _, then := range []string{"rollback", "destroy"} {
		t.Run(then, func(t *testing.T) {
			e, opts, data := hardInterrupt(t)
			s, d := e.Open(context.Background(), opts)
			mustNoDiags(t, d)
			p, d := s.Plan(context.Background())
			mustNoDiags(t, d)
			if !p.Plan.Continues || !strings.Contains(d.Error(), "continues") {
				t.Errorf("plan does not say it continues: Continues=%v, diags %q", p.Plan.Continues, d.Error())
			}
			if _, err := s.Apply(context.Background(), p); err != nil {
				t.Fatalf("continuing apply: %v", err)
			}
			s.Close()
			for _, n := range []string{"a", "b", "c"} {
				if got := readData(data, n); got != "new "+n {
					t.Errorf("%s = %q after the continuing apply", n, got)
				}
			}
			// A second apply has nothing to do.
			s, d = e.Open(context.Background(), opts)
			mustNoDiags(t, d)
			p, d = s.Plan(context.Background())
			mustNoDiags(t, d)
			if p.Plan.NeedsApply() || s.State.LastApply.Status != "applied" {
				t.Errorf("after the continuing apply: needs apply %v, status %s", p.Plan.NeedsApply(), s.State.LastApply.Status)
			}
			s.Close()
			if then == "rollback" {
				s, d = e.Open(context.Background(), opts)
				mustNoDiags(t, d)
				if _, err := s.Rollback(context.Background(), false); err != nil {
					t.Fatal(err)
				}
				s.Close()
			} else {
				o := opts
				o.Destroy = true
				if _, err := applyDir(t, e, o); err != nil {
					t.Fatal(err)
				}
			}
			checkBack(t, data)
		})
	}
}

// A kill right after the journal's first record, before any change: the
// state is never stuck. rollback closes the empty journal; so does apply.
func TestEmptyInterruptedJournal(t *testing.T) {
	for _, next := range []string{"rollback", "apply"} {
		t.Run(next, func(t *testing.T) {
			dir, data := t.TempDir(), t.TempDir()
			writePlan(t, dir, interruptPlan)
			e := newTestEngine(&fakeFile{})
			opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}}
			s, d := e.Open(context.Background(), opts)
			mustNoDiags(t, d)
			s.State.LastApply = &states.Apply{ID: "x", Operation: "apply", Status: states.StatusRunning}
			if err := s.Backend.Write(context.Background(), s.State); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, d = e.Open(context.Background(), opts)
			mustNoDiags(t, d)
			if next == "rollback" {
				changes, _, err := s.CheckRollback(context.Background())
				if err != nil || len(changes) != 0 {
					t.Fatalf("check rollback: %v %v", changes, err)
				}
				if _, err := s.Rollback(context.Background(), false); err != nil {
					t.Fatal(err)
				}
			} else {
				p, d := s.Plan(context.Background())
				mustNoDiags(t, d)
				if _, err := s.Apply(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			s, d = e.OpenState(context.Background(), opts, false)
			mustNoDiags(t, d)
			want := map[string]string{"rollback": "rolled_back", "apply": "applied"}[next]
			if got := s.State.LastApply.Status; got != want {
				t.Errorf("status %s, want %s", got, want)
			}
			// And destroy is allowed again.
			o := opts
			o.Destroy = true
			if _, err := applyDir(t, e, o); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// carryFile is fakeFile with a fact only its apply knows (Private), as a
// DNS switch time is: Apply journals an entry, writes, and returns the
// fact; Plan asks to carry on an interrupted apply's work when the file is
// written but the fact was never recorded.
type carryFile struct {
	*fakeFile
	mu          sync.Mutex
	planSaw     map[string][][]byte // path -> Interrupted given to Plan
	applySaw    map[string][][]byte // path -> Interrupted given to Apply
	interrupted func(path string)   // called after the entry and the write
}

func (c *carryFile) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	path := req.Config.GetAttr("path").AsString()
	c.mu.Lock()
	c.planSaw[filepath.Base(path)] = req.Interrupted
	c.mu.Unlock()
	resp := resource.PlanResponse{Planned: req.Config}
	if len(req.Interrupted) > 0 && (req.Prior == nil || string(req.Prior.Private) != "fact") {
		resp.Unfinished = true
		resp.Summary = "record the fact"
	}
	return resp, nil
}

func (c *carryFile) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	path := req.Planned.GetAttr("path").AsString()
	c.mu.Lock()
	c.applySaw[filepath.Base(path)] = req.Interrupted
	c.mu.Unlock()
	if err := req.Journal.Record(ctx, []byte("entry "+filepath.Base(path))); err != nil {
		return resource.ApplyResponse{}, err
	}
	if _, err := c.fakeFile.Apply(ctx, req); err != nil {
		return resource.ApplyResponse{}, err
	}
	if c.interrupted != nil {
		c.interrupted(path)
	}
	if err := ctx.Err(); err != nil {
		// A second interrupt while the change was on its way: it was
		// made, but the apply stops before recording it.
		return resource.ApplyResponse{}, err
	}
	return resource.ApplyResponse{Private: []byte("fact")}, nil
}

// An apply killed after a type journalled and made its change, but before
// the result (with Private) was recorded: the next apply gives the type the
// killed change's entries at plan and at apply, turns "nothing to change"
// into a Resume when the type says its work is unfinished, and records
// what the type then returns.
func TestInterruptedEntriesCarried(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(data, "a"), []byte("old a"), 0o644)
	writePlan(t, dir, interruptPlan)
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	var once sync.Once
	cf := &carryFile{fakeFile: &fakeFile{}, planSaw: map[string][][]byte{}, applySaw: map[string][][]byte{}}
	cf.interrupted = func(path string) {
		if filepath.Base(path) == "b" {
			once.Do(func() { close(stop); cancel() })
		}
	}
	e := newTestEngine(cf.fakeFile)
	e.Registry = resource.NewRegistry(cf)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Stop: stop}
	applyInterrupted(t, e, opts, ctx)
	opts.Stop = nil
	if got := readData(data, "b"); got != "new b" {
		t.Fatalf("b = %q: the interrupted apply did not write it", got)
	}

	cf.interrupted = nil
	s, d := e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	if r := s.State.Resources["fake_file.b"]; r != nil {
		t.Fatalf("the killed apply recorded b: %+v", r)
	}
	p, d := s.Plan(context.Background())
	mustNoDiags(t, d)
	if got := cf.planSaw["b"]; len(got) != 1 || string(got[0]) != "entry b" {
		t.Errorf("plan of b was given %q, want the killed change's entry", got)
	}
	if got := cf.planSaw["a"]; len(got) != 0 {
		t.Errorf("plan of a (finished) was given %q", got)
	}
	var b *plans.Change
	for _, c := range p.Plan.Changes {
		if c.Addr == "fake_file.b" {
			b = c
		}
	}
	if b == nil || b.Action != plans.Resume || !b.Interrupted {
		t.Fatalf("b planned as %+v, want a resume of the interrupted work", b)
	}
	if _, err := s.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := cf.applySaw["b"]; len(got) != 1 || string(got[0]) != "entry b" {
		t.Errorf("apply of b was given %q", got)
	}

	s, d = e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	if r := s.State.Resources["fake_file.b"]; r == nil || string(r.Private) != "fact" {
		t.Fatalf("b after carrying on: %+v", r)
	}
	p, d = s.Plan(context.Background())
	mustNoDiags(t, d)
	if p.Plan.NeedsApply() || len(cf.planSaw["b"]) != 0 {
		t.Errorf("after carrying on: needs apply %v, b given %q", p.Plan.NeedsApply(), cf.planSaw["b"])
	}
	// The rollback undoes both runs: back to before the first.
	if _, err := s.Rollback(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkBack(t, data)
	if !strings.Contains(strings.Join(cf.order, " "), "restore b") {
		t.Errorf("rollback did not restore b: %v", cf.order)
	}
}

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
		"name":     {Type: cty.String, Required: true, ShowUnchanged: true},
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
