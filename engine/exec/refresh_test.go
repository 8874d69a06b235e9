package exec

import (
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// ctxGate reads only while its context lives.
type ctxGate struct{ fakeGate }

func (c *ctxGate) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	if err := ctx.Err(); err != nil {
		return resource.ReadResponse{}, err
	}
	return c.fakeGate.Read(ctx, req)
}

// panicSchema panics in Schema, which the engine calls itself while it
// plans (not through the wrappers of Read and Plan).
type panicSchema struct{ fakeGate }

func (p *panicSchema) Schema() *resource.Schema { panic("schema boom") }

// Refresh runs on the walker: every instance is planned, even once the
// context is cancelled (each then fails, named), and a panic while planning
// one is a diagnostic naming it.
func TestRefreshWalk(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := &ctxGate{}
	cfg := gateConfig(t, &g.fakeGate, "a", "b", "c", "d", "e")
	for _, inst := range cfg.Instances {
		inst.Type = g
	}
	r := &Runner{Registry: resource.NewRegistry(g)}
	_, d := r.Plan(ctx, cfg, states.NewState("l"), PlanOptions{Parallelism: 2})
	var got []string
	for _, diag := range d {
		got = append(got, diag.Summary)
	}
	if len(got) != 5 || !strings.Contains(d.Error(), "context canceled") {
		t.Errorf("cancelled plan: %v", d)
	}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if !strings.Contains(strings.Join(got, ";"), "Cannot read fake_gate."+n) {
			t.Errorf("no diagnostic for fake_gate.%s: %v", n, got)
		}
	}

	p := &panicSchema{}
	cfg = gateConfig(t, &p.fakeGate, "x")
	cfg.Instances["fake_gate.x"].Type = p
	r = &Runner{Registry: resource.NewRegistry(p)}
	_, d = r.Plan(context.Background(), cfg, states.NewState("l"), PlanOptions{})
	if len(d) != 1 || d[0].Summary != "Cannot plan fake_gate.x" || !strings.Contains(d[0].Detail, "plan of fake_gate.x panicked: schema boom") ||
		strings.Contains(d[0].Detail, "goroutine") {
		t.Errorf("panic while planning: %v", d)
	}
}

// ignore_changes keeps the real value of every attribute it names but the
// identity ones.
func TestIgnoreChangesKeepsIdentity(t *testing.T) {
	s := (&fakeGate{}).Schema()
	config := cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("cfg"), "note": cty.StringVal("cfg")})
	current := cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("real"), "note": cty.StringVal("real")})
	for _, inst := range []*lang.Instance{{IgnoreAll: true}, {IgnoreChanges: []string{"name", "note"}}} {
		got := applyIgnore(config, current, inst, s)
		if got.GetAttr("name").AsString() != "cfg" || got.GetAttr("note").AsString() != "real" {
			t.Errorf("%+v: %#v", inst, got)
		}
	}
}
