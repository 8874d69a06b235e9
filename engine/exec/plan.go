package exec

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/dag"
	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// PlanOptions select what a plan covers.
type PlanOptions struct {
	Destroy     bool
	NoRefresh   bool
	Targets     []addrs.Target
	Excludes    []addrs.Target
	Parallelism int
}

// Planned is a plan with everything apply needs that is not saved in a plan
// file (snapshots, decoded configurations).
type Planned struct {
	Plan  *plans.Plan
	items map[string]*item
	// moves are recorded by apply before anything else.
	moves []plans.Move
}

// item is one resource instance in a plan.
type item struct {
	addr     string
	typ      resource.Type
	inst     *lang.Instance // nil when not in the configuration
	config   cty.Value
	current  cty.Value
	snapshot []byte
	planned  cty.Value
	prior    *states.Resource
	deps     []string
	readFP   string
	change   *plans.Change
	// oldConfig is the configuration of the object a replace removes.
	oldConfig cty.Value
	waiting   bool
	// adopt: matches already, but is not in the state yet.
	adopt bool
	// prev is the address a moved block moved the instance from.
	prev string
	// forget: a removed block drops it from the state.
	forget bool
	// takeover: the instance inherits the record of one no longer
	// configured that owns the same part of a host (moved.go).
	takeover *takeover
	// after are instances being destroyed that own part of what this new
	// one claims: it waits for them and is planned again then.
	after     []string
	afterWhat string
	// interrupted are the journal entries an interrupted apply recorded
	// for the instance without finishing it (interrupted).
	interrupted [][]byte
	// priorVals are prior's Config and Result decoded (prior.go).
	priorVals *priorValues
}

// interrupted returns the journal entries of the changes of addr (or of
// prev, its address before a moved block) in an open run that were
// neither finished nor undone, after the last finished one, oldest first:
// what an apply killed part way through the instance had done.
func interrupted(run *states.Apply, addr, prev string) [][]byte {
	if !run.Open() {
		return nil
	}
	var out [][]byte
	for _, ch := range run.Changes {
		if ch.Addr != addr && (prev == "" || ch.Addr != prev) {
			continue
		}
		if ch.Done || ch.Restored {
			out = nil
			continue
		}
		out = append(out, ch.Journal...)
	}
	return out
}

// Plan refreshes the instances the options select and computes their
// changes. st is the state read under the lock.
func (r *Runner) Plan(ctx context.Context, cfg *lang.Result, st *states.State, opts PlanOptions) (*Planned, hcl.Diagnostics) {
	p := &Planned{Plan: &plans.Plan{Destroy: opts.Destroy, Outputs: map[string]*plans.OutputChange{}}, items: map[string]*item{}}

	// Moves, removed blocks and takeovers rename and drop state records
	// in memory before anything is read; apply records them.
	mp, diags := r.planMoves(cfg, st, opts)
	if diags.HasErrors() {
		return p, diags
	}
	last := st.LastApply
	st = mp.view
	p.moves, p.Plan.Moved = mp.moves, mp.moves

	selected := selectInstances(cfg, st, opts)
	if len(opts.Targets) > 0 && len(selected) == 0 {
		var names []string
		for _, t := range opts.Targets {
			names = append(names, t.String())
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "No resource matches -target",
			Detail:   fmt.Sprintf("Neither the configuration nor the state has %s, so the plan is empty. `mailplan state list` shows the addresses the state knows.", strings.Join(names, ", ")),
		})
	}
	for _, addr := range selected {
		it := &item{addr: addr, prior: st.Resources[addr]}
		mp.annotate(it)
		it.interrupted = interrupted(last, addr, it.prev)
		if inst, ok := cfg.Instances[addr]; ok && !opts.Destroy {
			it.inst = inst
			it.typ = inst.Type
			it.config = inst.Config
			it.deps = inst.Deps
		} else {
			prior := st.Resources[addr]
			if prior == nil {
				continue // destroy of something never managed
			}
			t, ok := r.Registry.Get(prior.Type)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown resource type in state",
					Detail:   fmt.Sprintf("The state manages %s of type %q, which this mailplan does not know. Use a mailplan that has it, or remove it from the state with `mailplan state rm %s`.", addr, prior.Type, addr),
				})
				continue
			}
			it.typ = t
			inst, inCfg := cfg.Instances[addr]
			v, live := cty.NilVal, false
			if inCfg {
				// Destroy of what the configuration still has: most often
				// the recorded configuration is the live one, which then
				// need not be decoded.
				v, live = sameAsRecorded(inst.Config, prior.Config, prior.Sensitive, t.Schema().ImpliedType())
			}
			if !live {
				var err error
				v, err = decodeValue(prior.Config, t.Schema().ImpliedType(), prior.Sensitive)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Corrupt state", Detail: fmt.Sprintf("%s: %s", addr, err)})
					continue
				}
			}
			if inCfg {
				// Destroy: the configuration has the secrets the state lacks.
				if !live {
					v = withSecrets(v, inst.Config)
				}
				it.inst = inst
			}
			it.config = v
			it.deps = prior.Deps
		}
		p.items[addr] = it
	}
	if diags.HasErrors() {
		return p, diags
	}

	diags = append(diags, r.refresh(ctx, p.items, opts)...)
	if diags.HasErrors() {
		return p, diags
	}

	diags = append(diags, planWindows(p.items)...)
	if diags.HasErrors() {
		return p, diags
	}
	markAfterWait(p.items)
	for _, addr := range sortedKeys(p.items) {
		it := p.items[addr]
		p.Plan.Changes = append(p.Plan.Changes, it.change)
		if it.adopt {
			p.Plan.Adopt = append(p.Plan.Adopt, addr)
		}
		if it.waiting && it.prior != nil && it.prior.Wait != nil {
			p.Plan.Waiting = append(p.Plan.Waiting, &plans.Waiting{Addr: addr, Until: it.prior.Wait.Until, Reason: it.prior.Wait.Reason})
		}
	}
	diags = append(diags, r.planOutputs(ctx, p, cfg, st, opts)...)
	return p, diags
}

// markAfterWait notes, on each change that depends (directly or not) on a
// resource whose persisted wait is not over, the wait that holds it back:
// apply skips it until then, and plan says so. With several, the one that
// ends last.
func markAfterWait(items map[string]*item) {
	memo := map[string]*plans.Waiting{}
	visiting := map[string]bool{}
	var blocking func(addr string) *plans.Waiting
	blocking = func(addr string) *plans.Waiting {
		if w, ok := memo[addr]; ok {
			return w
		}
		it := items[addr]
		if it == nil || visiting[addr] {
			return nil
		}
		visiting[addr] = true
		var found *plans.Waiting
		for _, d := range it.deps {
			dep := items[d]
			var w *plans.Waiting
			if dep != nil && dep.waiting && dep.prior != nil && dep.prior.Wait != nil {
				w = &plans.Waiting{Addr: d, Until: dep.prior.Wait.Until, Reason: dep.prior.Wait.Reason}
			} else {
				w = blocking(d)
			}
			if w != nil && (found == nil || w.Until.After(found.Until)) {
				found = w
			}
		}
		visiting[addr] = false
		memo[addr] = found
		return found
	}
	for addr, it := range items {
		if it.change != nil && it.change.Action != plans.NoOp {
			it.change.AfterWait = blocking(addr)
		}
	}
}

// refresh reads and plans every item, on the walker apply runs on: at most
// opts.Parallelism at a time (defaultParallelism when unset), the smallest
// address first. The instances of a plan do not wait for each other, so
// the graph has no edges. Every item is planned even after ctx is
// cancelled (each then fails with the context's error, as a diagnostic
// naming it), so the walk is given a ctx that is never cancelled.
func (r *Runner) refresh(ctx context.Context, items map[string]*item, opts PlanOptions) hcl.Diagnostics {
	g := dag.New[string]()
	for addr := range items {
		g.Add(addr)
	}
	var mu sync.Mutex
	var diags hcl.Diagnostics
	rep, _ := g.Walk(context.WithoutCancel(ctx), parallelism(opts.Parallelism), func(_ context.Context, addr string) error {
		d := r.planItem(ctx, items[addr], opts)
		mu.Lock()
		defer mu.Unlock()
		diags = append(diags, d...)
		return nil
	}, dag.WalkOptions{KeepGoing: true})
	// planItem reports every problem as a diagnostic: a node fails only
	// by panicking.
	for _, f := range rep.Failed {
		diags = append(diags, planPanicDiag(items[f.Node], r.walkPanic(f.Node, "plan", f.Err)))
	}
	return diags
}

// applyIgnore replaces ignored attributes of config with the real values,
// except identity attributes (resource.Attribute.Identity).
func applyIgnore(config, current cty.Value, inst *lang.Instance, schema *resource.Schema) cty.Value {
	if current.IsNull() {
		return config
	}
	m := config.AsValueMap()
	for name := range m {
		ignore := inst.IgnoreAll
		for _, n := range inst.IgnoreChanges {
			ignore = ignore || n == name
		}
		if a := schema.Attributes[name]; ignore && (a == nil || !a.Identity) {
			m[name] = current.GetAttr(name)
		}
	}
	return cty.ObjectVal(m)
}

func (r *Runner) planOutputs(ctx context.Context, p *Planned, cfg *lang.Result, st *states.State, opts PlanOptions) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for name, o := range cfg.Outputs {
		before := cty.NullVal(cty.DynamicPseudoType)
		if so, ok := st.Outputs[name]; ok && len(so.Value) > 0 {
			if v, err := decodeOutput(so); err == nil {
				before = v
			}
		}
		after := o.Value
		if opts.Destroy {
			after = cty.NullVal(cty.DynamicPseudoType)
		}
		oc := &plans.OutputChange{Before: before, After: after, Sensitive: o.Sensitive}
		prior := st.Outputs[name]
		switch {
		case prior != nil && prior.Digest != "" && !opts.Destroy:
			// A sensitive output: only its keyed digest was stored.
			oc.Action = plans.Update
			switch outputMatch(ctx, prior.Digest, after) {
			case resource.DigestEqual:
				oc.Action = plans.NoOp
			case resource.DigestUnknown:
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Sensitive output digest made with another key",
					Detail: fmt.Sprintf("The state keeps output %q as a digest made with a digest key this state no longer has "+
						"(the key file beside the state was lost or replaced), so whether its value changed cannot be told: "+
						"the plan shows it as changed, and the next apply records it with the current key.", name),
				})
			}
		case before.IsNull() && !after.IsNull():
			oc.Action = plans.Create
		case !before.IsNull() && after.IsNull():
			oc.Action = plans.Delete
		case equalValues(before, after):
			oc.Action = plans.NoOp
		default:
			oc.Action = plans.Update
		}
		if o.Sensitive {
			oc.Before = oc.Before.Mark(lang.Sensitive)
			oc.After = oc.After.Mark(lang.Sensitive)
		}
		p.Plan.Outputs[name] = oc
	}
	for name, so := range st.Outputs {
		if _, ok := cfg.Outputs[name]; !ok {
			v, _ := decodeOutput(so)
			p.Plan.Outputs[name] = &plans.OutputChange{Action: plans.Delete, Before: v, After: cty.NullVal(cty.DynamicPseudoType), Sensitive: so.Sensitive}
		}
	}
	return diags
}

// selectInstances lists the addresses a plan covers: the configuration's
// instances and the state's, narrowed by -target (with what targets depend
// on) and -exclude (with what depends on the excluded).
func selectInstances(cfg *lang.Result, st *states.State, opts PlanOptions) []string {
	g := dag.New[string]()
	all := map[string]bool{}
	for addr, inst := range cfg.Instances {
		all[addr] = true
		g.Add(addr)
		for _, d := range inst.Deps {
			g.Add(d)
			g.Connect(addr, d)
		}
	}
	for addr, r := range st.Resources {
		all[addr] = true
		g.Add(addr)
		if _, inCfg := cfg.Instances[addr]; !inCfg {
			for _, d := range r.Deps {
				if g.Has(d) {
					g.Connect(addr, d)
				}
			}
		}
	}
	parse := func(a string) addrs.ResourceInstance {
		ri, _ := addrs.ParseResourceInstance(a)
		return ri
	}
	keep := map[string]bool{}
	if len(opts.Targets) == 0 {
		for a := range all {
			keep[a] = true
		}
	} else {
		for a := range all {
			for _, t := range opts.Targets {
				if t.Contains(parse(a)) {
					keep[a] = true
					walk := g.Ancestors(a)
					if opts.Destroy {
						walk = g.Descendants(a)
					}
					for _, d := range walk {
						keep[d] = true
					}
				}
			}
		}
	}
	for a := range all {
		for _, t := range opts.Excludes {
			if t.Contains(parse(a)) {
				delete(keep, a)
				walk := g.Descendants(a)
				if opts.Destroy {
					walk = g.Ancestors(a)
				}
				for _, d := range walk {
					delete(keep, d)
				}
			}
		}
	}
	out := make([]string, 0, len(keep))
	for a := range keep {
		if all[a] {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// CheckClaims rejects two instances that own the same part of a host.
func CheckClaims(cfg *lang.Result) hcl.Diagnostics {
	var diags hcl.Diagnostics
	type owner struct {
		inst  *lang.Instance
		claim resource.Claim
	}
	owners := map[string]owner{}
	for _, addr := range cfg.Addrs() {
		inst := cfg.Instances[addr]
		c, ok := inst.Type.(resource.Claimer)
		if !ok {
			continue
		}
		for _, cl := range c.Claims(inst.Config) {
			if prev, dup := owners[cl.Key]; dup && !(cl.Shared && prev.claim.Shared) {
				// Report at the exclusive claim, naming the other owner.
				here, other := owner{inst: inst, claim: cl}, prev
				if cl.Shared {
					here, other = prev, owner{inst: inst, claim: cl}
				}
				rng := here.inst.AttrRange(here.claim.Path)
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Two resources manage the same thing",
					Detail: fmt.Sprintf("%s and %s both manage %s. Only one resource may own it; move the setting into one of them. (%s is declared at %s.)",
						other.inst.Addr.String(), here.inst.Addr.String(), here.claim.What, other.inst.Addr.String(), other.inst.AttrRange(other.claim.Path).String()),
					Subject: &rng,
				})
				continue
			}
			if _, dup := owners[cl.Key]; !dup {
				owners[cl.Key] = owner{inst: inst, claim: cl}
			}
		}
	}
	return diags
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func keyString(k addrs.Key) string {
	if k == nil {
		return ""
	}
	return k.String()
}

// FileChanges lists the changes with digests of their planned values, for a
// plan file and for comparing a re-made plan with a saved one.
func (p *Planned) FileChanges() []plans.FileChange {
	var out []plans.FileChange
	for _, addr := range sortedKeys(p.items) {
		it := p.items[addr]
		out = append(out, plans.FileChange{Addr: addr, Action: it.change.Action, Planned: digest(it.planned, it.typ.Schema().ImpliedType())})
	}
	return out
}

// Reads returns the fingerprint of what refresh read, by address.
func (p *Planned) Reads() map[string]string {
	out := map[string]string{}
	for addr, it := range p.items {
		out[addr] = it.readFP
	}
	return out
}
