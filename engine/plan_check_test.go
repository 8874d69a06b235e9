package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailplan/mailplan/engine/resource"
)

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
