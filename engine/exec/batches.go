package exec

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/dag"
	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// A batch (resource.Batcher) is the changes of one apply that share their
// last step on one target: their applies leave it to a node of its own in
// the apply graph, which runs it once for all of them, then finishes each
// change as item would have.

// batch is one batch of an apply.
type batch struct {
	key     string
	typ     resource.Batcher
	members []string
	// order is each member's place in the apply graph's order: the
	// deferred items go to FinishBatch in it.
	order map[string]int
}

// batchMember reports whether the change of it may join a batch, and
// under which key.
func batchMember(r *Runner, it *item) (resource.Batcher, string) {
	b, ok := it.typ.(resource.Batcher)
	if !ok || it.inst == nil || it.change == nil || it.waiting {
		return nil, ""
	}
	switch it.change.Action {
	case plans.Create, plans.Update, plans.Replace:
	default:
		return nil, ""
	}
	key, err := r.batchKey(it.addr, b, it.config)
	if err != nil {
		// A type that cannot name its batch applies alone.
		r.logger().Named("apply").Warn("no batch", "addr", it.addr, "error", err)
		return nil, ""
	}
	return b, key
}

// applyGraph is the graph an apply walks: the instances with their
// dependencies, the windows' close nodes (windows.go), and a finish node
// per batch of two or more changes, unless that node would make a cycle
// (something outside the batch waits for one member and another waits
// for it); such a batch's members apply alone.
func (r *Runner) applyGraph(p *Planned) (*dag.Graph[string], map[string]*item, map[string]*batch) {
	exclude := map[string]bool{}
	for {
		g := dependencyGraph(p)
		closes := windowEdges(g, p.items)
		batches := batchEdges(r, g, p.items, exclude)
		if len(batches) == 0 {
			return g, closes, nil
		}
		order, err := g.TopoOrder()
		if err == nil {
			at := make(map[string]int, len(order))
			for i, n := range order {
				at[n] = i
			}
			for _, b := range batches {
				for _, m := range b.members {
					b.order[m] = at[m]
				}
			}
			return g, closes, batches
		}
		dropped := false
		for _, c := range g.Cycles() {
			for _, n := range c {
				if b := batches[n]; b != nil && !exclude[b.key] {
					exclude[b.key], dropped = true, true
				}
			}
		}
		if !dropped {
			// A cycle without a batch: the walk reports it.
			for _, b := range batches {
				exclude[b.key] = true
			}
		}
	}
}

// dependencyGraph is the instances of p with what each waits for: its
// dependencies, the other way round between two deletes, and the old
// instances a new one waits to be destroyed (moved.go).
func dependencyGraph(p *Planned) *dag.Graph[string] {
	g := dag.New[string]()
	for addr, it := range p.items {
		g.Add(addr)
		for _, d := range it.deps {
			dep, ok := p.items[d]
			if !ok {
				continue
			}
			if it.change.Action == plans.Delete && dep.change.Action == plans.Delete {
				g.Connect(d, addr) // remove dependents first
			} else if it.change.Action != plans.Delete {
				g.Connect(addr, d)
			}
		}
		for _, d := range it.after {
			if _, ok := p.items[d]; ok {
				g.Connect(addr, d)
			}
		}
	}
	return g
}

// batchEdges adds the finish node of each batch of two or more changes
// whose key is not excluded: it waits for every member, and every other
// node that waits for a member waits for it too.
func batchEdges(r *Runner, g *dag.Graph[string], items map[string]*item, exclude map[string]bool) map[string]*batch {
	byKey := map[string]*batch{}
	for _, addr := range sortedKeys(items) {
		typ, key := batchMember(r, items[addr])
		if key == "" || exclude[key] {
			continue
		}
		b := byKey[key]
		if b == nil {
			b = &batch{key: key, typ: typ, order: map[string]int{}}
			byKey[key] = b
		}
		b.members = append(b.members, addr)
	}
	out := map[string]*batch{}
	for i, key := range sortedKeys(byKey) {
		b := byKey[key]
		if len(b.members) < 2 {
			continue
		}
		name := fmt.Sprintf("(batch %d: %s and %d more)", i+1, b.members[0], len(b.members)-1)
		out[name] = b
		g.Add(name)
		member := map[string]bool{}
		for _, m := range b.members {
			member[m] = true
			g.Connect(name, m)
		}
		for _, n := range g.Nodes() {
			if n == name || member[n] {
				continue
			}
			for _, d := range g.Deps(n) {
				if member[d] {
					g.Connect(n, name)
					break
				}
			}
		}
	}
	return out
}

// errBatchFailed is the error of a finish node whose failed members are
// reported on their own.
var errBatchFailed = errors.New("a change of the batch failed")

// finishBatch runs the last step of the batch b (the finish node name)
// for the members whose applies deferred it, then finishes each of their
// changes as item would have: after hooks, the journal, the report.
func (w *applyWalk) finishBatch(ctx context.Context, name string, b *batch) error {
	w.mu.Lock()
	cs := w.deferred[name]
	delete(w.deferred, name)
	w.mu.Unlock()
	if len(cs) == 0 {
		return nil
	}
	sort.Slice(cs, func(i, j int) bool { return b.order[cs[i].it.addr] < b.order[cs[j].it.addr] })
	items := make([]any, len(cs))
	for i, c := range cs {
		items[i], _ = c.batch.Deferred()
	}
	errs := w.r.finishBatch(ctx, b.typ, cs[0].it.addr, items)
	failed := false
	for i, c := range cs {
		err := errs[i]
		if err == nil {
			err = w.r.runHooks(ctx, c.it, "after_apply")
		}
		if err == nil {
			err = w.journalDone(ctx, c)
		}
		if err == nil {
			err = w.report(c)
		}
		if err == nil {
			continue
		}
		failed = true
		w.r.event(c.it.addr, Event{Kind: EventFailed, Action: string(c.action), Elapsed: w.r.now().Sub(c.start), Err: err})
		w.mu.Lock()
		w.rep.Failed = append(w.rep.Failed, ResourceError{Addr: c.it.addr, Err: err})
		w.mu.Unlock()
	}
	if failed {
		return errBatchFailed
	}
	return nil
}

// finishBatch calls FinishBatch, turning a panic, or an answer of the
// wrong length, into an error of every item.
func (r *Runner) finishBatch(ctx context.Context, t resource.Batcher, addr string, items []any) []error {
	var errs []error
	var err error
	func() {
		defer r.recovered(addr, "finish", &err)
		errs = t.FinishBatch(ctx, items)
	}()
	if err == nil && len(errs) != len(items) {
		err = fmt.Errorf("internal error: the batch answered for %d changes, not %d. This is a bug in mailplan; please report it", len(errs), len(items))
	}
	if err != nil {
		errs = make([]error, len(items))
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// batchKey calls BatchKey, turning a panic into an error.
func (r *Runner) batchKey(addr string, b resource.Batcher, config cty.Value) (key string, err error) {
	defer r.recovered(addr, "batch", &err)
	return b.BatchKey(config), nil
}

// finishLeft finishes the batches whose finish node did not run after a
// failed apply whose changes are kept (-no-rollback): the members that
// applied get their last step. Their failures join the report's.
func (w *applyWalk) finishLeft(ctx context.Context) {
	w.mu.Lock()
	var left []string
	for name := range w.deferred {
		left = append(left, name)
	}
	w.mu.Unlock()
	sort.Strings(left)
	for _, name := range left {
		_ = w.finishBatch(ctx, name, w.batches[name])
	}
}

// restoreBatch is the changes of a rollback, undone one after the other
// with one BatchKey, whose Restores left their last step to the batch.
type restoreBatch struct {
	r       *Runner
	key     string
	typ     resource.Batcher
	waiting []restoreWait
}

// restoreWait is a change waiting in a restoreBatch: the change, its
// index in the run, its instance in the configuration (nil when gone), its
// Batch, and how it fails.
type restoreWait struct {
	ch    *states.Change
	i     int
	inst  *lang.Instance
	batch *resource.Batch
	fail  func(error)
}

// keyOf is the batch key of cfg, the recorded configuration of the
// change of addr, "" for none.
func (rb *restoreBatch) keyOf(t resource.Type, addr string, cfg cty.Value) string {
	b, ok := t.(resource.Batcher)
	if !ok {
		return ""
	}
	key, err := rb.r.batchKey(addr, b, cfg)
	if err != nil {
		return ""
	}
	return key
}

// join gives the Restore of a change of type t with batch key key its
// Batch: nil for none.
func (rb *restoreBatch) join(key string, t resource.Type) *resource.Batch {
	if key == "" {
		return nil
	}
	rb.key, rb.typ = key, t.(resource.Batcher)
	return &resource.Batch{}
}

// wait adds a change whose Restore deferred its last step.
func (rb *restoreBatch) wait(ch *states.Change, i int, inst *lang.Instance, b *resource.Batch, fail func(error)) {
	rb.waiting = append(rb.waiting, restoreWait{ch: ch, i: i, inst: inst, batch: b, fail: fail})
}

// flush runs the shared last step of the waiting changes, then finishes
// each (undone) or fails it.
func (rb *restoreBatch) flush(ctx context.Context, undone func(*states.Change, int, *lang.Instance, func(error))) {
	ws, typ := rb.waiting, rb.typ
	rb.key, rb.typ, rb.waiting = "", nil, nil
	if len(ws) == 0 {
		return
	}
	items := make([]any, len(ws))
	for k, w := range ws {
		items[k], _ = w.batch.Deferred()
	}
	errs := rb.r.finishBatch(ctx, typ, ws[0].ch.Addr, items)
	for k, w := range ws {
		if errs[k] != nil {
			w.fail(errs[k])
			continue
		}
		undone(w.ch, w.i, w.inst, w.fail)
	}
}
