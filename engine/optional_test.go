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

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// fakeGate is a gate: it changes nothing, its plan is always a no-op, and
// Check passes while open is true.
type fakeGate struct {
	mu      sync.Mutex
	open    bool
	checked int
}

var (
	_ resource.Type    = (*fakeGate)(nil)
	_ resource.Checker = (*fakeGate)(nil)
)

func (g *fakeGate) Name() string { return "fake_gate" }
func (g *fakeGate) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{"name": {Type: cty.String, Required: true}}}
}
func (g *fakeGate) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	snap, _ := json.Marshal(struct{}{})
	return resource.ReadResponse{Current: req.Config, Snapshot: snap}, nil
}
func (g *fakeGate) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	return resource.PlanResponse{Planned: req.Config}, nil
}
func (g *fakeGate) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	return resource.ApplyResponse{}, g.Check(ctx, req)
}
func (g *fakeGate) Restore(ctx context.Context, req resource.RestoreRequest) error { return nil }
func (g *fakeGate) Check(ctx context.Context, req resource.ApplyRequest) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checked++
	if !g.open {
		return errors.New("gate closed")
	}
	return nil
}

// A gate with no planned change is still checked at apply time, before
// its dependents; a closed gate fails the apply, which rolls back.
func TestGateCheckedAtApply(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	writePlan(t, dir, `
variable "data" { type = string }`+fileRes("before", "before", "x")+`
resource "fake_gate" "queue" {
  name       = "queue"
  depends_on = [fake_file.before]
}`+fileRes("after", "after", "y", "fake_gate.queue")+`
`)
	ff, gate := &fakeFile{}, &fakeGate{}
	e := &Engine{Registry: resource.NewRegistry(ff, gate)}
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Parallelism: 1}
	if _, err := applyDir(t, e, opts); err == nil {
		t.Fatal("apply passed a closed gate")
	}
	if gate.checked != 1 {
		t.Errorf("gate checked %d times", gate.checked)
	}
	for _, n := range []string{"before", "after"} {
		if _, err := os.Stat(filepath.Join(data, n)); !os.IsNotExist(err) {
			t.Errorf("%s exists after the failed apply", n)
		}
	}
	gate.open = true
	if _, err := applyDir(t, e, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "after")); err != nil {
		t.Error("the dependent of an open gate was not applied")
	}
}

// checkedFile is fakeFile with a plan-wide check: no two instances may
// plan the same content, and it records what it saw.
type checkedFile struct {
	*fakeFile
	calls int
	seen  []string
}

var _ resource.PlanChecker = (*checkedFile)(nil)

func (c *checkedFile) CheckPlan(ctx context.Context, req resource.CheckPlanRequest) []resource.PlanProblem {
	c.calls++
	var out []resource.PlanProblem
	by := map[string]string{}
	for _, in := range req.Instances {
		c.seen = append(c.seen, in.Addr)
		if in.Planned.IsNull() {
			continue
		}
		content := in.Planned.GetAttr("content").AsString()
		if other, dup := by[content]; dup {
			out = append(out, resource.PlanProblem{Addr: in.Addr, Err: resource.Errorf("content", "Same content twice", "%s plans it too.", other)})
		}
		by[content] = in.Addr
	}
	return out
}

// A PlanChecker sees every instance once all are planned; its problem
// fails the plan with a diagnostic on the attribute, and nothing is
// applied.
func TestPlanChecker(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	writePlan(t, dir, `
variable "data" { type = string }`+fileRes("a", "a", "same")+fileRes("b", "b", "same")+`
`)
	cf := &checkedFile{fakeFile: &fakeFile{}}
	e := &Engine{Registry: resource.NewRegistry(cf)}
	ctx := context.Background()
	s, d := e.Open(ctx, Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}})
	mustNoDiags(t, d)
	defer s.Close()
	_, d = s.Plan(ctx)
	if !d.HasErrors() || d[0].Summary != "Same content twice" || d[0].Subject == nil || !strings.Contains(d[0].Subject.String(), "main.mp.hcl:9") {
		t.Fatalf("diagnostics %v, want 'Same content twice' at main.mp.hcl:9", d)
	}
	if cf.calls != 1 || strings.Join(cf.seen, " ") != "fake_file.a fake_file.b" {
		t.Errorf("CheckPlan called %d times, saw %v; want once with both", cf.calls, cf.seen)
	}
	if _, err := os.Stat(filepath.Join(data, "a")); !os.IsNotExist(err) {
		t.Errorf("a plan that failed its check wrote a file: %v", err)
	}
}

// fakeCopy copies the lines of a source file missing from a destination
// file, as mailbox_copy copies messages: only the paths make a plan stale
// (it is a Fingerprinter), the number of lines still to copy does not.
type fakeCopy struct{}

var (
	_ resource.Type          = fakeCopy{}
	_ resource.Fingerprinter = fakeCopy{}
)

func (fakeCopy) Name() string { return "fake_copy" }

func (fakeCopy) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{
		"source":      {Type: cty.String, Required: true},
		"destination": {Type: cty.String, Required: true},
		"pending":     {Type: cty.Number, Computed: true},
	}}
}

func lines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}

func missing(src, dst string) []string {
	have := map[string]bool{}
	for _, l := range lines(dst) {
		have[l] = true
	}
	var out []string
	for _, l := range lines(src) {
		if !have[l] {
			out = append(out, l)
		}
	}
	return out
}

func (f fakeCopy) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	src, dst := req.Config.GetAttr("source").AsString(), req.Config.GetAttr("destination").AsString()
	b, err := os.ReadFile(dst)
	if errors.Is(err, os.ErrNotExist) {
		b = nil
	} else if err != nil {
		return resource.ReadResponse{}, err
	}
	cur := cty.ObjectVal(map[string]cty.Value{
		"source": cty.StringVal(src), "destination": cty.StringVal(dst), "pending": cty.NumberIntVal(int64(len(missing(src, dst)))),
	})
	return resource.ReadResponse{Current: cur, Snapshot: b}, nil
}

func (fakeCopy) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	m := req.Config.AsValueMap()
	m["pending"] = cty.NumberIntVal(0)
	return resource.PlanResponse{Planned: cty.ObjectVal(m)}, nil
}

func (fakeCopy) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	src, dst := req.Config.GetAttr("source").AsString(), req.Config.GetAttr("destination").AsString()
	all := append(lines(dst), missing(src, dst)...)
	return resource.ApplyResponse{}, os.WriteFile(dst, []byte(strings.Join(all, "\n")+"\n"), 0o644)
}

func (fakeCopy) Restore(ctx context.Context, req resource.RestoreRequest) error {
	dst := req.Config.GetAttr("destination").AsString()
	return os.WriteFile(dst, req.Snapshot, 0o644)
}

func (fakeCopy) Fingerprint(current cty.Value) []byte {
	v, _ := current.UnmarkDeep()
	if v.IsNull() {
		return []byte("null")
	}
	return []byte(v.GetAttr("source").AsString() + "\x00" + v.GetAttr("destination").AsString())
}

// Apply reads again, when it reaches them, the instances the plan found
// already matching: mail that arrived while the plan waited at the prompt
// is copied (an adopted copy, and one already managed), and a file that
// someone changed is not adopted with the wrong original.
func TestApplyReadsNoOpsAgain(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	src, dst := filepath.Join(data, "src"), filepath.Join(data, "dst")
	os.WriteFile(src, []byte("m1\n"), 0o644)
	os.WriteFile(dst, []byte("m1\n"), 0o644)
	os.WriteFile(filepath.Join(data, "f"), []byte("same"), 0o644)
	writePlan(t, dir, `
variable "data" { type = string }
resource "fake_copy" "mail" {
  source      = "${var.data}/src"
  destination = "${var.data}/dst"
}`+fileRes("f", "f", "same")+`
`)
	e := &Engine{Registry: resource.NewRegistry(&fakeFile{}, fakeCopy{})}
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}}
	ctx := context.Background()

	planThen := func(between func()) error {
		t.Helper()
		s, p, _ := openPlan(t, e, opts)
		defer s.Close()
		between()
		_, err := s.Apply(ctx, p)
		return err
	}

	// Adopted: a message arrives between plan and apply.
	if err := planThen(func() { os.WriteFile(src, []byte("m1\nm2\n"), 0o644) }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines(dst), " "); got != "m1 m2" {
		t.Errorf("dst after the adopting apply = %q, want m1 m2", got)
	}
	// Managed and a no-op at plan time: the same.
	if err := planThen(func() { os.WriteFile(src, []byte("m1\nm2\nm3\n"), 0o644) }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines(dst), " "); got != "m1 m2 m3" {
		t.Errorf("dst after the second apply = %q, want m1 m2 m3", got)
	}
	// The rollback of that apply takes back m3 only.
	s, d := e.Open(ctx, opts)
	mustNoDiags(t, d)
	if _, err := s.Rollback(ctx, false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := strings.Join(lines(dst), " "); got != "m1 m2" {
		t.Errorf("dst after rollback = %q, want m1 m2", got)
	}
}

// An adoption whose object changed since the plan is refused, not recorded
// with what is there now as the original of something else.
func TestAdoptChangedSincePlan(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(data, "f"), []byte("same"), 0o644)
	writePlan(t, dir, `
variable "data" { type = string }`+fileRes("f", "f", "same")+`
`)
	e := newTestEngine(&fakeFile{})
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}}
	ctx := context.Background()
	s, p, _ := openPlan(t, e, opts)
	if len(p.Plan.Adopt) != 1 || p.Plan.Changes[0].Action != plans.NoOp {
		t.Fatalf("plan: adopt %v", p.Plan.Adopt)
	}
	os.WriteFile(filepath.Join(data, "f"), []byte("hand edit"), 0o644)
	_, err := s.Apply(ctx, p)
	s.Close()
	if err == nil {
		t.Fatal("adopted an object that changed since the plan")
	}
	if b, _ := os.ReadFile(filepath.Join(data, "f")); string(b) != "hand edit" {
		t.Errorf("f = %q, want the hand edit left alone", b)
	}
	s, d := e.OpenState(ctx, opts, false)
	mustNoDiags(t, d)
	if len(s.State.Resources) != 0 {
		t.Errorf("state manages %d resources", len(s.State.Resources))
	}
}
