package exec

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// planItem reads one instance and works out its change (it.change), in
// steps: whether a ForceNew attribute replaces it, what is there now, then
// a delete, a persisted wait that is not over, or the type's Plan and the
// action that follows from it.
func (r *Runner) planItem(ctx context.Context, it *item, opts PlanOptions) hcl.Diagnostics {
	schema := it.typ.Schema()
	it.change = newChange(it, schema.ImpliedType())
	for _, name := range slices.Sorted(maps.Keys(schema.Attributes)) {
		if schema.Attributes[name].ShowUnchanged {
			it.change.ShowUnchanged = append(it.change.ShowUnchanged, name)
		}
	}
	replacePaths := forceNewPaths(it, schema, opts)
	replace := len(replacePaths) > 0
	if d := r.refreshItem(ctx, it, schema, opts.NoRefresh && it.prior != nil && !replace); d != nil {
		return d
	}
	if it.inst == nil || opts.Destroy {
		return planDelete(it, schema)
	}
	if r.planWait(it) {
		return nil
	}
	resp, d := r.planByType(ctx, it, schema, replace)
	if d != nil {
		return d
	}
	return planAction(it, schema, resp, replacePaths)
}

// newChange is the instance's change before anything is known: a no-op
// from null to null.
func newChange(it *item, objType cty.Type) *plans.Change {
	// The configuration's instances are stored under their address's
	// String: no need to parse it again.
	var ri addrs.ResourceInstance
	if it.inst != nil {
		ri = it.inst.Addr
	} else {
		ri, _ = addrs.ParseResourceInstance(it.addr)
	}
	ch := &plans.Change{
		Addr:   it.addr,
		Module: ri.Module.String(),
		Type:   ri.Resource.Type,
		Name:   ri.Resource.Name,
		Key:    keyString(ri.Key),
		Action: plans.NoOp,
		Before: cty.NullVal(objType),
		After:  cty.NullVal(objType),
	}
	noteMoves(it, ch)
	return ch
}

// planFail is the diagnostic of a step (what) that failed with err: the
// type's attribute errors point at the attributes, anything else at the
// resource block.
func planFail(it *item, what string, err error) hcl.Diagnostics {
	if it.inst != nil {
		if _, ok := err.(*resource.AttrError); ok {
			return lang.AttrDiagnostics(it.inst, err)
		}
		if _, ok := err.(resource.AttrErrors); ok {
			return lang.AttrDiagnostics(it.inst, err)
		}
	}
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cannot " + what + " " + it.addr,
		Detail:   err.Error(),
	}
	if it.inst != nil {
		d.Subject = it.inst.DeclRange.Ptr()
	}
	return hcl.Diagnostics{d}
}

// forceNewPaths lists, sorted, the ForceNew attributes whose configuration
// changed since the last apply: the instance is replaced (the new object
// is read; the old one is restored from the state). It sets it.oldConfig,
// the configuration that removes the old object.
func forceNewPaths(it *item, schema *resource.Schema, opts PlanOptions) []string {
	var paths []string
	if it.prior != nil && it.inst != nil && !opts.Destroy {
		oldCfg, err := it.priorConfig()
		if err == nil && !oldCfg.IsNull() {
			if !it.priorConfigIsLive() {
				// The state holds no secrets: the live configuration lends
				// them, for the comparison and for removing the old
				// object. (The live configuration has nothing to borrow.)
				oldCfg = withLiveConnections(schema, withSecrets(oldCfg, it.config), it.config)
			}
			for name, a := range schema.Attributes {
				if a.ForceNew && !sameForceNew(a, oldCfg.GetAttr(name), it.config.GetAttr(name)) {
					paths = append(paths, name)
				}
			}
			it.oldConfig = oldCfg
		}
	}
	sort.Strings(paths)
	return paths
}

// refreshItem sets what is there now (it.current, it.snapshot, it.readFP):
// read from the host, or, fromState (-refresh=false), what the last apply
// reached.
func (r *Runner) refreshItem(ctx context.Context, it *item, schema *resource.Schema, fromState bool) hcl.Diagnostics {
	objType := schema.ImpliedType()
	if fromState {
		cur, err := it.priorResult()
		if err != nil {
			return planFail(it, "decode state of", err)
		}
		it.current = cur
	} else {
		log := r.logger().Named("plan").With("addr", it.addr)
		resp, err := r.read(ctx, it.typ, resource.ReadRequest{Addr: it.addr, Config: it.config, Logger: log})
		if err != nil {
			return planFail(it, "read", err)
		}
		it.current = keptCurrent(it, resp.Current)
		it.snapshot = resp.Snapshot
	}
	if it.current == cty.NilVal {
		it.current = cty.NullVal(objType)
	}
	it.current = markLike(it.current, it.config, schema)
	it.readFP = fingerprint(it.typ, it.current)
	return nil
}

// planDelete plans the instance away: destroy, or no longer in the
// configuration (a removed block only forgets it).
func planDelete(it *item, schema *resource.Schema) hcl.Diagnostics {
	objType := schema.ImpliedType()
	ch := it.change
	ch.Before = it.current
	if it.prior != nil {
		if prior, err := it.priorResult(); err == nil && it.current.IsNull() {
			ch.Before = markLike(prior, it.config, schema)
		}
	}
	if it.forget {
		// A removed block: the state forgets it, the host keeps it.
		ch.Action = plans.Forget
		it.planned = cty.NullVal(objType)
		return nil
	}
	ch.Action = plans.Delete
	if it.inst == nil {
		ch.Reason = "not in the configuration"
	}
	ch.Summary = "puts back what was there before mailplan first changed it"
	if it.inst != nil && it.inst.PreventDestroy {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Instance cannot be destroyed",
			Detail:   fmt.Sprintf("%s has lifecycle.prevent_destroy set, but the plan would destroy it. To go on, set prevent_destroy to false, or leave it out with -target or -exclude.", it.addr),
			Subject:  it.inst.DeclRange.Ptr(),
		}}
	}
	it.planned = cty.NullVal(objType)
	return nil
}

// planWait reports whether a wait an earlier apply recorded is not over
// yet; the instance then waits (it.waiting) and plans nothing else.
func (r *Runner) planWait(it *item) bool {
	if it.prior == nil || it.prior.Wait == nil {
		return false
	}
	w := it.prior.Wait
	ch := it.change
	ch.Before = it.current
	ch.After = it.current
	if !r.now().Before(w.Until) {
		return false
	}
	it.waiting = true
	ch.Pending = fmt.Sprintf("waiting until %s: %s", w.Until.UTC().Format("2006-01-02 15:04:05 MST"), w.Reason)
	it.planned = it.current
	return true
}

// planByType asks the type what Apply would reach (it.planned), with
// ignore_changes applied and the state's record as Prior; a replace plans
// from nothing.
func (r *Runner) planByType(ctx context.Context, it *item, schema *resource.Schema, replace bool) (resource.PlanResponse, hcl.Diagnostics) {
	objType := schema.ImpliedType()
	config := it.config
	if it.inst.IgnoreAll || len(it.inst.IgnoreChanges) > 0 {
		config = applyIgnore(config, it.current, it.inst, schema)
	}
	var prior *resource.Prior
	if it.prior != nil {
		pc, _ := it.priorConfig()
		pr, _ := it.priorResult()
		prior = &resource.Prior{Config: pc, Result: pr, Private: it.prior.Private}
		if w := it.prior.Wait; w != nil {
			prior.Wait = &resource.Wait{Until: w.Until, Reason: w.Reason, Resume: w.Resume}
		}
	}
	current := it.current
	if replace {
		current = cty.NullVal(objType)
	}
	log := r.logger().Named("plan").With("addr", it.addr)
	resp, err := r.plan(ctx, it.typ, resource.PlanRequest{Addr: it.addr, Config: config, Current: current, Snapshot: it.snapshot, Prior: prior, Interrupted: it.interrupted, Logger: log})
	if err != nil {
		return resp, planFail(it, "plan", err)
	}
	planned := resp.Planned
	if planned == cty.NilVal {
		planned = config
	}
	it.planned = markLike(planned, it.config, schema)
	return resp, nil
}

// planAction sets the change's action from what is there and what the
// type planned: resume, replace, create, no-op (an adoption when the state
// does not have it yet) or update.
func planAction(it *item, schema *resource.Schema, resp resource.PlanResponse, replacePaths []string) hcl.Diagnostics {
	ch := it.change
	ch.Before = it.current
	ch.After = it.planned
	ch.Summary = resp.Summary
	ch.Pending = resp.Pending
	switch {
	case it.prior != nil && it.prior.Wait != nil:
		ch.Action = plans.Resume
	case len(replacePaths) > 0:
		ch.Action = plans.Replace
		ch.ReplacePaths = replacePaths
		ch.Reason = strings.Join(replacePaths, ", ") + " changed"
		if pr, err := it.priorResult(); err == nil {
			ch.Before = markLike(pr, it.oldConfig, schema)
		}
		if it.inst.PreventDestroy {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Instance cannot be destroyed",
				Detail:   fmt.Sprintf("%s has lifecycle.prevent_destroy set, but changing %s replaces it.", it.addr, strings.Join(replacePaths, ", ")),
				Subject:  it.inst.DeclRange.Ptr(),
			}}
		}
	case it.current.IsNull():
		ch.Action = plans.Create
	case equalValues(it.current, it.planned) && resp.Unfinished:
		// Nothing to change, but the interrupted apply's work on it is
		// not finished: Apply carries it on.
		ch.Action = plans.Resume
		ch.Interrupted = true
	case equalValues(it.current, it.planned):
		ch.Action = plans.NoOp
		it.adopt = it.prior == nil
		// Both carry the marks markLike gives from the configuration, so
		// they are the same value: keep one of the two in memory.
		it.planned = it.current
		ch.After = it.current
	default:
		ch.Action = plans.Update
	}
	return nil
}
