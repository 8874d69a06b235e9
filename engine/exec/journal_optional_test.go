package exec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// fakeGate is a gate (Checker) that is also an Adopter, and records a
// journal entry from Check and from Adopt, as a type that holds something
// while it checks (and must let go of it on rollback) would. An instance
// named "new" does not exist yet, and its Apply fails.
type fakeGate struct {
	mu sync.Mutex
	// failCheck makes Check fail after recording its entry.
	failCheck bool
	// quiet: Check and Adopt record nothing.
	quiet    bool
	restores []string
}

var (
	_ resource.Checker = (*fakeGate)(nil)
	_ resource.Adopter = (*fakeGate)(nil)
)

func (f *fakeGate) Name() string { return "fake_gate" }

func (f *fakeGate) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{
		"name": {Type: cty.String, Required: true, Identity: true, ShowUnchanged: true},
		"note": {Type: cty.String},
	}}
}

func (f *fakeGate) Read(_ context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	name := req.Config.GetAttr("name").AsString()
	if name == "new" {
		return resource.ReadResponse{Current: cty.NullVal(f.Schema().ImpliedType()), Snapshot: []byte("none")}, nil
	}
	return resource.ReadResponse{Current: req.Config, Snapshot: []byte("snap-" + name)}, nil
}

func (f *fakeGate) Plan(_ context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	return resource.PlanResponse{Planned: req.Config}, nil
}

func (f *fakeGate) Apply(context.Context, resource.ApplyRequest) (resource.ApplyResponse, error) {
	return resource.ApplyResponse{}, errors.New("apply boom")
}

func (f *fakeGate) Restore(_ context.Context, req resource.RestoreRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var js []string
	for _, e := range req.Journal {
		js = append(js, string(e))
	}
	f.restores = append(f.restores, fmt.Sprintf("%s %s %v", req.Addr, req.Snapshot, js))
	return nil
}

func (f *fakeGate) Check(ctx context.Context, req resource.ApplyRequest) error {
	if !f.quiet {
		if err := req.Journal.Record(ctx, []byte("check "+req.Addr)); err != nil {
			return err
		}
	}
	if f.failCheck {
		return errors.New("check boom")
	}
	return nil
}

func (f *fakeGate) Adopt(ctx context.Context, req resource.ApplyRequest) error {
	if f.quiet {
		return nil
	}
	return req.Journal.Record(ctx, []byte("adopt "+req.Addr))
}

// memManager is a states.Manager in memory, without a journal of its own:
// every record is a whole write.
type memManager struct{ writes int }

func (m *memManager) Read(context.Context) (*states.State, error) { return states.NewState("l"), nil }
func (m *memManager) Write(_ context.Context, s *states.State) error {
	m.writes++
	s.Serial++
	return nil
}

func gateConfig(t *testing.T, f *fakeGate, names ...string) *lang.Result {
	t.Helper()
	cfg := &lang.Result{Instances: map[string]*lang.Instance{}}
	var prev string
	for _, n := range names {
		addr := "fake_gate." + n
		ri, err := addrs.ParseResourceInstance(addr)
		if err != nil {
			t.Fatal(err)
		}
		inst := &lang.Instance{Addr: ri, Type: f, Config: cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(n), "note": cty.StringVal("x")})}
		if prev != "" {
			inst.Deps = []string{prev}
		}
		cfg.Instances[addr] = inst
		prev = addr
	}
	return cfg
}

func journalOf(run *states.Apply) []string {
	var out []string
	for _, ch := range run.Changes {
		var js []string
		for _, e := range ch.Journal {
			js = append(js, string(e))
		}
		out = append(out, fmt.Sprintf("%s %s %v done=%v restored=%v", ch.Addr, ch.Action, js, ch.Done, ch.Restored))
	}
	return out
}

// Check and Adopt get a working journal: what they record is durable,
// and a rollback hands it to Restore. A type that records nothing leaves
// the journal as it always was.
func TestCheckAndAdoptJournal(t *testing.T) {
	for _, tt := range []struct {
		name         string
		failCheck    bool
		quiet        bool
		instances    []string
		wantErr      string
		wantJournal  []string
		wantRestores []string
		wantManaged  []string
	}{
		{
			name:      "check and adopt record, then the apply succeeds",
			instances: []string{"a"},
			wantJournal: []string{
				"fake_gate.a check [check fake_gate.a] done=true restored=false",
				"fake_gate.a adopt [adopt fake_gate.a] done=true restored=false",
			},
			wantManaged: []string{"fake_gate.a"},
		},
		{
			name:      "a dependent fails: both are undone with their entries",
			instances: []string{"a", "new"},
			wantErr:   "apply failed",
			wantJournal: []string{
				"fake_gate.a check [check fake_gate.a] done=true restored=true",
				"fake_gate.a adopt [adopt fake_gate.a] done=true restored=true",
				"fake_gate.new create [] done=false restored=true",
			},
			wantRestores: []string{"fake_gate.new none []", "fake_gate.a snap-a [adopt fake_gate.a]", "fake_gate.a snap-a [check fake_gate.a]"},
		},
		{
			name:         "the check fails after recording",
			failCheck:    true,
			instances:    []string{"a"},
			wantErr:      "apply failed",
			wantJournal:  []string{"fake_gate.a check [check fake_gate.a] done=false restored=true"},
			wantRestores: []string{"fake_gate.a snap-a [check fake_gate.a]"},
		},
		{
			name:        "nothing recorded: only the adoption is journalled",
			quiet:       true,
			instances:   []string{"a"},
			wantJournal: []string{"fake_gate.a adopt [] done=true restored=false"},
			wantManaged: []string{"fake_gate.a"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := &fakeGate{failCheck: tt.failCheck, quiet: tt.quiet}
			reg := resource.NewRegistry(f)
			r := &Runner{Registry: reg}
			cfg := gateConfig(t, f, tt.instances...)
			st := states.NewState("l")
			p, d := r.Plan(ctx, cfg, st, PlanOptions{})
			if d.HasErrors() {
				t.Fatal(d.Error())
			}
			_, err := r.Apply(ctx, p, st, &memManager{}, ApplyOptions{})
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("apply: %v, want %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantJournal, journalOf(st.LastApply)); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRestores, f.restores); diff != "" {
				t.Errorf("restores (-want +got):\n%s", diff)
			}
			var managed []string
			for a := range st.Resources {
				managed = append(managed, a)
			}
			slices.Sort(managed)
			if diff := cmp.Diff(tt.wantManaged, managed); diff != "" {
				t.Errorf("managed (-want +got):\n%s", diff)
			}
		})
	}
}
