package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

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
	s, d := e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	p, d := s.Plan(context.Background())
	mustNoDiags(t, d)
	if _, err := s.Apply(ctx, p); err == nil {
		t.Fatal("apply succeeded after a hard interrupt")
	}
	s.Close()
	opts.Stop = nil
	if got := readData(data, "b"); got != "new b" {
		t.Fatalf("b = %q: the interrupted apply did not write it", got)
	}

	cf.interrupted = nil
	s, d = e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	if r := s.State.Resources["fake_file.b"]; r != nil {
		t.Fatalf("the killed apply recorded b: %+v", r)
	}
	p, d = s.Plan(context.Background())
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
