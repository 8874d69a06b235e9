package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

type rollbackResult struct {
	restored []string
	errors   []ResourceError
	left     []ResourceError
}

// rollbackRun undoes the changes of run not yet undone, newest first: each
// change's journal and before-snapshot are restored, and the state's record
// of the instance is put back. Each step is journalled, before ("restoring")
// and after ("restored"), so that a rollback retried after a failure or a
// crash undoes only what is left. The way back never turns around: a
// change that cannot be undone is reported, every change that does not
// wait for it is still undone, and the changes of the instances it
// depended on are left (their dependent still stands) with the reason.
func (r *Runner) rollbackRun(ctx context.Context, j *journal, run *states.Apply, items map[string]*item) rollbackResult {
	var res rollbackResult
	log := r.logger().Named("rollback")
	j.mu.Lock()
	j.run = run
	changes := append([]*states.Change(nil), run.Changes...)
	j.mu.Unlock()
	// heldBy maps an instance to the dependent whose change could not be
	// undone: undoing the instance's own changes would pull it from under
	// that dependent.
	heldBy := map[string]string{}
	hold := func(ch *states.Change, by string) {
		deps := ch.Deps
		if len(deps) == 0 && ch.Prior != nil {
			deps = ch.Prior.Deps
		}
		for _, d := range deps {
			if _, ok := heldBy[d]; !ok {
				heldBy[d] = by
			}
		}
	}
	record := func(rec *states.Record) error {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.record(ctx, rec)
	}
	// Until it ends, a rollback is one that did not finish: killed half
	// way, the state says so (plan warns, destroy waits, a retry goes on).
	if run.Status != states.StatusRollbackFailed {
		if err := record(&states.Record{Op: states.OpStatus, Status: states.StatusRollbackFailed}); err != nil {
			res.errors = append(res.errors, ResourceError{Addr: "(state)", Err: fmt.Errorf("journal: %w", err)})
			return res
		}
	}
	// undone finishes the undoing of a change: its on_rollback hooks,
	// then the journal.
	undone := func(ch *states.Change, i int, inst *lang.Instance, fail func(error)) {
		if inst != nil {
			for _, h := range inst.Hooks {
				if h.When != "on_rollback" || r.Hooks == nil {
					continue
				}
				if _, err := r.Hooks.RunHook(ctx, h.Host, h.Command); err != nil {
					// A failing on_rollback hook is reported; the rollback goes on.
					r.event(ch.Addr, Event{Text: fmt.Sprintf("on_rollback hook %v failed: %s", h.Command, err)})
				}
			}
		}
		if err := record(&states.Record{Op: states.OpRestored, Index: i, Addr: ch.Addr, Resource: ch.Prior}); err != nil {
			fail(fmt.Errorf("journal: %w", err))
			return
		}
		res.restored = append(res.restored, ch.Addr)
		r.event(ch.Addr, Event{Kind: EventRollbackComplete, Text: "Rollback complete"})
	}
	// The changes of one batch undone one after the other wait in rb for
	// their shared last step (resource.Batcher).
	rb := &restoreBatch{r: r}
	for i := len(changes) - 1; i >= 0; i-- {
		ch := changes[i]
		if ch.Restored {
			continue
		}
		t, known := r.Registry.Get(ch.Type)
		var cfg cty.Value
		var cfgErr error
		key := ""
		if known {
			cfg, cfgErr = decodeValue(ch.Config, t.Schema().ImpliedType(), nil)
			if cfgErr == nil {
				key = rb.keyOf(t, ch.Addr, cfg)
			}
		}
		if rb.key != "" && key != rb.key {
			rb.flush(ctx, undone)
		}
		if by, ok := heldBy[ch.Addr]; ok {
			res.left = append(res.left, ResourceError{Addr: ch.Addr, Err: fmt.Errorf("not rolled back: %s depends on it and could not be rolled back", by)})
			hold(ch, by)
			continue
		}
		fail := func(err error) {
			res.errors = append(res.errors, ResourceError{Addr: ch.Addr, Err: err})
			r.event(ch.Addr, Event{Kind: EventRollbackFailed, Err: err, Text: "Rollback failed: " + err.Error()})
			hold(ch, ch.Addr)
		}
		if !known {
			fail(fmt.Errorf("unknown resource type %q", ch.Type))
			continue
		}
		if cfgErr != nil {
			fail(cfgErr)
			continue
		}
		var inst *lang.Instance
		if it, ok := items[ch.Addr]; ok && it.inst != nil {
			inst = it.inst
			// The recorded configuration says what was changed; the live
			// one only lends the secrets the state leaves out.
			cfg = withLiveConnections(t.Schema(), withSecrets(cfg, it.config), it.config)
		}
		done := &states.Record{Op: states.OpRestored, Index: i, Addr: ch.Addr, Resource: ch.Prior}
		if (ch.Action == states.ActionAdopt || ch.Action == states.ActionForget) && len(ch.Journal) == 0 {
			// Nothing changed on the host: only the state's record goes
			// back (forgotten again, or remembered again). An adoption
			// whose Adopt recorded entries is undone like any change.
			if err := record(done); err != nil {
				fail(err)
			}
			continue
		}
		if !ch.Restoring {
			if err := record(&states.Record{Op: states.OpRestoring, Index: i}); err != nil {
				fail(fmt.Errorf("journal: %w", err))
				continue
			}
		}
		r.event(ch.Addr, Event{Kind: EventRollbackStart, Text: "Rolling back..."})
		batch := rb.join(key, t)
		err := r.restore(ctx, t, resource.RestoreRequest{Addr: ch.Addr, Config: cfg, Snapshot: ch.Before, Journal: ch.Journal, Logger: log.With("addr", ch.Addr), Batch: batch})
		if err != nil {
			fail(err)
			continue
		}
		if _, ok := batch.Deferred(); ok {
			rb.wait(ch, i, inst, batch, fail)
			continue
		}
		undone(ch, i, inst, fail)
	}
	rb.flush(ctx, undone)
	status := states.StatusRolledBack
	if len(res.errors) > 0 || len(res.left) > 0 {
		status = states.StatusRollbackFailed
	}
	if err := r.finishRun(ctx, j, status, func() { j.st.Outputs = run.PriorOutputs }); err != nil {
		res.errors = append(res.errors, ResourceError{Addr: "(state)", Err: err})
	}
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
// differs from what it left. An error means it could not be checked. For
// each instance only its newest change not yet undone counts, and not at
// all when mailplan itself started to undo that change (a rollback that
// failed half way left it so) or the change never completed.
func (r *Runner) CheckRollback(ctx context.Context, st *states.State, cfg *lang.Result) ([]string, error) {
	run := st.LastApply
	if run == nil || run.Status == states.StatusRolledBack {
		return nil, ErrNothingToRollBack
	}
	var drifted []string
	seen := map[string]bool{}
	for i := len(run.Changes) - 1; i >= 0; i-- {
		ch := run.Changes[i]
		if ch.Restored || seen[ch.Addr] {
			continue
		}
		seen[ch.Addr] = true
		if ch.Restoring || !ch.Done || len(ch.After) == 0 {
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
		resp, err := r.read(ctx, t, resource.ReadRequest{Addr: ch.Addr, Config: cfg0, Logger: r.logger()})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ch.Addr, err)
		}
		if len(ch.Journal) == 0 && bytes.Equal(resp.Snapshot, ch.Before) {
			// Already what the rollback would put back (a dead server's
			// service is stopped, as it was before the apply): nobody's
			// change would be overwritten.
			continue
		}
		after, err := decodeValue(ch.After, objType, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ch.Addr, err)
		}
		cur := resp.Current
		if cur == cty.NilVal {
			cur = cty.NullVal(objType)
		}
		cur = keptAfter(t, cfg0, cur, after)
		a, _ := lang.StripSensitive(after)
		c, _ := lang.StripSensitive(markLike(cur, cfg0, t.Schema()))
		if fingerprint(t, a) != fingerprint(t, c) {
			drifted = append(drifted, ch.Addr)
		}
	}
	sort.Strings(drifted)
	return drifted, nil
}

// Pending lists the changes of the last apply a rollback would undo, newest
// first, as "ADDR (ACTION)".
func Pending(st *states.State) []string {
	var out []string
	if st.LastApply == nil || st.LastApply.Status == states.StatusRolledBack {
		return nil
	}
	for i := len(st.LastApply.Changes) - 1; i >= 0; i-- {
		ch := st.LastApply.Changes[i]
		if !ch.Restored {
			out = append(out, fmt.Sprintf("%s (%s)", ch.Addr, ch.Action))
		}
	}
	return out
}

// Rollback undoes what the most recent apply recorded in st did and was not
// undone yet, as `mailplan rollback` does. An apply that had changed
// nothing (killed right after it started) is closed.
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
	rep.Left = res.left
	if len(res.errors) > 0 || len(res.left) > 0 {
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
