package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

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
