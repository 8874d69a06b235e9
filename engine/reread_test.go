package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

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
	s, p, d := openPlan(t, e, opts)
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
	s, d = e.OpenState(ctx, opts, false)
	mustNoDiags(t, d)
	if len(s.State.Resources) != 0 {
		t.Errorf("state manages %d resources", len(s.State.Resources))
	}
}
