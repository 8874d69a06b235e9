package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

type rollbackResult struct {
	restored []string
	errors   []ResourceError
}

// rollbackRun undoes the changes of run newest first: each change's journal
// and before-snapshot are restored, and the state's record of the instance
// is put back. It goes on past failures and reports them.
func (r *Runner) rollbackRun(ctx context.Context, j *journal, run *states.Apply, items map[string]*item) rollbackResult {
	var res rollbackResult
	log := r.logger().Named("rollback")
	j.mu.Lock()
	changes := append([]*states.Change(nil), run.Changes...)
	j.mu.Unlock()
	for i := len(changes) - 1; i >= 0; i-- {
		ch := changes[i]
		t, ok := r.Registry.Get(ch.Type)
		if !ok {
			res.errors = append(res.errors, ResourceError{Addr: ch.Addr, Err: fmt.Errorf("unknown resource type %q", ch.Type)})
			continue
		}
		cfg, err := decodeValue(ch.Config, t.Schema().ImpliedType(), nil)
		if err != nil {
			res.errors = append(res.errors, ResourceError{Addr: ch.Addr, Err: err})
			continue
		}
		var inst *lang.Instance
		if it, ok := items[ch.Addr]; ok && it.inst != nil {
			inst = it.inst
			// The recorded configuration says what was changed; the live
			// one only lends the secrets the state leaves out.
			cfg = withLiveConnections(t.Schema(), withSecrets(cfg, it.config), it.config)
		}
		if ch.Action == "adopt" {
			// Nothing changed on the host: only the state forgets it.
			j.mu.Lock()
			werr := j.record(ctx, &states.Record{Op: "resource", Addr: ch.Addr, Resource: ch.Prior})
			j.mu.Unlock()
			if werr != nil {
				res.errors = append(res.errors, ResourceError{Addr: ch.Addr, Err: werr})
			}
			continue
		}
		r.ui().Status(ch.Addr, "Rolling back...")
		err = t.Restore(ctx, resource.RestoreRequest{Addr: ch.Addr, Config: cfg, Snapshot: ch.Before, Journal: ch.Journal, Logger: log.With("addr", ch.Addr)})
		if err != nil {
			res.errors = append(res.errors, ResourceError{Addr: ch.Addr, Err: err})
			r.ui().Status(ch.Addr, "Rollback failed: "+err.Error())
			continue
		}
		if inst != nil {
			for _, h := range inst.Hooks {
				if h.When != "on_rollback" || r.Hooks == nil {
					continue
				}
				if _, err := r.Hooks.RunHook(ctx, h.Host, h.Command); err != nil {
					// A failing on_rollback hook is reported; the rollback goes on.
					r.ui().Status(ch.Addr, fmt.Sprintf("on_rollback hook %v failed: %s", h.Command, err))
				}
			}
		}
		j.mu.Lock()
		werr := j.record(ctx, &states.Record{Op: "resource", Addr: ch.Addr, Resource: ch.Prior})
		j.mu.Unlock()
		if werr != nil {
			res.errors = append(res.errors, ResourceError{Addr: ch.Addr, Err: werr})
		}
		res.restored = append(res.restored, ch.Addr)
		r.ui().Status(ch.Addr, "Rollback complete")
	}
	j.mu.Lock()
	if run.Status == "applied" || run.Status == "kept" || run.Status == "running" {
		j.st.Outputs = run.PriorOutputs
	}
	if len(res.errors) > 0 {
		run.Status = "rollback_failed"
	} else {
		run.Status = "rolled_back"
	}
	run.Finished = r.now().UTC()
	if err := j.write(ctx); err != nil {
		res.errors = append(res.errors, ResourceError{Addr: "(state)", Err: err})
	}
	j.mu.Unlock()
	return res
}

// ErrNothingToRollBack means the state has no apply to undo.
var ErrNothingToRollBack = errors.New("nothing to roll back: the state records no apply that has not been rolled back")

// RollbackOptions change `mailplan rollback`.
type RollbackOptions struct {
	// Force rolls back even when the real state no longer matches what the
	// apply left.
	Force bool
	// Config supplies live configurations (with secrets) by address.
	Config *lang.Result
}

// Drift is a resource whose real state is not what the last apply left.
type Drift struct {
	Addr string
}

// CheckRollback lists the resources of the last apply whose real state
// differs from what it left. An error means it could not be checked.
func (r *Runner) CheckRollback(ctx context.Context, st *states.State, cfg *lang.Result) ([]string, error) {
	run := st.LastApply
	if run == nil || run.Status == "rolled_back" || len(run.Changes) == 0 {
		return nil, ErrNothingToRollBack
	}
	var drifted []string
	for _, ch := range run.Changes {
		if !ch.Done || len(ch.After) == 0 {
			continue
		}
		t, ok := r.Registry.Get(ch.Type)
		if !ok {
			return nil, fmt.Errorf("%s: unknown resource type %q", ch.Addr, ch.Type)
		}
		objType := t.Schema().ImpliedType()
		cfg0, err := decodeValue(ch.Config, objType, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ch.Addr, err)
		}
		if cfg != nil {
			if inst, ok := cfg.Instances[ch.Addr]; ok {
				cfg0 = withLiveConnections(t.Schema(), withSecrets(cfg0, inst.Config), inst.Config)
			}
		}
		resp, err := t.Read(ctx, resource.ReadRequest{Addr: ch.Addr, Config: cfg0, Logger: r.logger()})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ch.Addr, err)
		}
		after, err := decodeValue(ch.After, objType, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ch.Addr, err)
		}
		cur := resp.Current
		if cur == cty.NilVal {
			cur = cty.NullVal(objType)
		}
		a, _ := lang.StripSensitive(after)
		c, _ := lang.StripSensitive(markLike(cur, cfg0, t.Schema()))
		if fingerprint(t, a) != fingerprint(t, c) {
			drifted = append(drifted, ch.Addr)
		}
	}
	return drifted, nil
}

// Rollback undoes the most recent apply recorded in st, as `mailplan
// rollback` does.
func (r *Runner) Rollback(ctx context.Context, st *states.State, mgr states.Manager, opts RollbackOptions) (*ApplyReport, error) {
	rep := &ApplyReport{}
	drifted, err := r.CheckRollback(ctx, st, opts.Config)
	if err != nil {
		return rep, err
	}
	if len(drifted) > 0 && !opts.Force {
		return rep, &DriftError{Addrs: drifted}
	}
	items := map[string]*item{}
	if opts.Config != nil {
		for addr, inst := range opts.Config.Instances {
			items[addr] = &item{addr: addr, inst: inst, typ: inst.Type, config: inst.Config}
		}
	}
	j := &journal{st: st, mgr: mgr}
	res := r.rollbackRun(ctx, j, st.LastApply, items)
	rep.RolledBack = res.restored
	rep.RollbackErrors = res.errors
	if len(res.errors) > 0 {
		return rep, errors.New("rollback incomplete")
	}
	return rep, nil
}

// DriftError is a refused rollback: the real state changed since the apply.
type DriftError struct {
	Addrs []string
}

func (e *DriftError) Error() string {
	return fmt.Sprintf("the real state of %v is no longer what the last apply left; someone changed it since. Rolling back would overwrite that change: look at it, then use -force to roll back anyway", e.Addrs)
}

// withSecrets fills the parts that the state stored as null because they
// were sensitive (a whole attribute, or one inside an object such as a
// dns_server's tsig_secret) with the live configuration's values.
func withSecrets(recorded, live cty.Value) cty.Value {
	if recorded == cty.NilVal || live == cty.NilVal || live.IsNull() || !live.IsKnown() {
		return recorded
	}
	if recorded.IsNull() {
		if lang.IsSensitive(live) {
			return live
		}
		return recorded
	}
	if !recorded.Type().IsObjectType() || !live.Type().IsObjectType() {
		return recorded
	}
	m := recorded.AsValueMap()
	for name, v := range m {
		if !live.Type().HasAttribute(name) {
			continue
		}
		m[name] = withSecrets(v, live.GetAttr(name))
	}
	if len(m) == 0 {
		return recorded
	}
	return cty.ObjectVal(m)
}
