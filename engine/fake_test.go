package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// fakeFile is a test resource type: a file on this machine, written
// directly. It can be told to fail, and to ask for a wait.
type fakeFile struct {
	mu     sync.Mutex
	failOn map[string]bool // paths whose Apply fails
	// failRestore are paths whose Restore fails (a dead server).
	failRestore map[string]bool
	order       []string // paths applied and restored, in order
	// waitFor makes Apply of a path return a wait of this length once.
	waitFor map[string]time.Duration
	now     func() time.Time
	// onApply, when set, is called at the start of every Apply.
	onApply func(path string)
}

var _ resource.Type = (*fakeFile)(nil)

func (f *fakeFile) Name() string { return "fake_file" }

func (f *fakeFile) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{
		"path":    {Type: cty.String, Required: true, ForceNew: true, ShowUnchanged: true},
		"content": {Type: cty.String, Required: true},
		"secret":  {Type: cty.String, Sensitive: true},
	}}
}

type fakeSnap struct {
	Exists  bool   `json:"exists"`
	Content string `json:"content"`
}

func (f *fakeFile) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	path := req.Config.GetAttr("path").AsString()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		snap, _ := json.Marshal(fakeSnap{})
		return resource.ReadResponse{Current: cty.NullVal(f.Schema().ImpliedType()), Snapshot: snap}, nil
	}
	if err != nil {
		return resource.ReadResponse{}, err
	}
	snap, _ := json.Marshal(fakeSnap{Exists: true, Content: string(b)})
	cur := cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(path), "content": cty.StringVal(string(b)), "secret": req.Config.GetAttr("secret"),
	})
	return resource.ReadResponse{Current: cur, Snapshot: snap}, nil
}

func (f *fakeFile) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	return resource.PlanResponse{Planned: req.Config}, nil
}

func (f *fakeFile) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	path := req.Planned.GetAttr("path").AsString()
	if f.onApply != nil {
		f.onApply(path)
	}
	f.mu.Lock()
	f.order = append(f.order, "apply "+filepath.Base(path))
	fail := f.failOn[path]
	wait, hasWait := f.waitFor[path]
	if hasWait && req.Resume == nil {
		f.mu.Unlock()
		return resource.ApplyResponse{Wait: &resource.Wait{Until: f.now().Add(wait), Reason: "test wait", Resume: []byte("resume")}}, nil
	}
	f.mu.Unlock()
	if fail {
		return resource.ApplyResponse{}, errors.New("injected failure")
	}
	c, _ := req.Planned.GetAttr("content").Unmark()
	return resource.ApplyResponse{}, os.WriteFile(path, []byte(c.AsString()), 0o644)
}

func (f *fakeFile) Restore(ctx context.Context, req resource.RestoreRequest) error {
	path := req.Config.GetAttr("path").AsString()
	f.mu.Lock()
	f.order = append(f.order, "restore "+filepath.Base(path))
	fail := f.failRestore[path]
	f.mu.Unlock()
	if fail {
		return errors.New("injected restore failure")
	}
	var s fakeSnap
	if err := json.Unmarshal(req.Snapshot, &s); err != nil {
		return err
	}
	if !s.Exists {
		err := os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.WriteFile(path, []byte(s.Content), 0o644)
}

var _ resource.Claimer = (*fakeFile)(nil)

// Claims owns the path, as the real file type does.
func (f *fakeFile) Claims(config cty.Value) []resource.Claim {
	p := config.GetAttr("path")
	if p.IsNull() || !p.IsKnown() {
		return nil
	}
	p, _ = p.Unmark()
	return []resource.Claim{{Key: "fake_file\x00" + p.AsString(), Path: cty.GetAttrPath("path"), What: "the file " + p.AsString()}}
}
