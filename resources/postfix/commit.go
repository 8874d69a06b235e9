package postfix

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
)

// Group commit. The engine applies independent resources in parallel, and
// a plan may hold many maps on one instance (the shadow-copy module makes
// three per domain). Each used to take the edit lock, read its parameter,
// run its own postconf -e, postfix check and postfix reload. Now the maps
// of one instance that apply at the same time join one batch: one lock
// hold, one postconf -n for every parameter of the batch, one postconf -e
// for all their changes (each change journalled first, as before), then
// one postfix check and one reload (settle) for all of them. A batch whose
// combined edit fails is done again one map at a time, so that only the
// map whose edit fails fails.

// joinWait is how long at most the first map of a batch waits for the
// other maps of its instance that are being applied (writing their
// tables) to join it before it edits main.cf without them; joinQuiet is
// how long no other map may have started its apply on the instance
// before it goes: the engine starts the applies that are ready together,
// each after reading its instance again.
const (
	joinWait  = time.Second
	joinQuiet = 150 * time.Millisecond
)

// listing is one map's request to be listed in its parameter.
type listing struct {
	ctx context.Context
	in  instance
	c   mapConfig
	s   mapSnapshot
	j   resource.Journal
	log hclog.Logger

	// tableChanged: Apply wrote the table, so a check (and reload) is
	// due even when the parameter listed it already.
	tableChanged bool

	changed bool // its edit changed the parameter
	err     error
}

// batch is the listings that share one main.cf edit.
type batch struct {
	members []*listing
	done    chan struct{}
}

// queue is where the maps of one instance being applied meet.
type queue struct {
	mu       sync.Mutex
	inflight int       // applies started that have not joined a batch
	last     time.Time // when the last of them started
	open     *batch    // the batch new listings join, not yet taken
}

// arrive notes that a map apply that will list its table has started on
// the instance; the first of a batch waits for it to join. The returned
// leave must be called when the apply ends, joined or not.
func (q *queue) arrive() (join func(), leave func()) {
	q.mu.Lock()
	q.inflight++
	q.last = time.Now()
	q.mu.Unlock()
	var once sync.Once
	gone := func() {
		once.Do(func() {
			q.mu.Lock()
			q.inflight--
			q.mu.Unlock()
		})
	}
	return gone, gone
}

// list lists l's table in its parameter as a member of a batch, then
// runs one postfix check, and one reload when a member of the batch that
// changed something wants it, for the whole batch (settle). join is
// arrive's.
func (in instance) list(l *listing, join func()) error {
	e := in.edits()
	q := &e.queue
	join()
	q.mu.Lock()
	b := q.open
	if b != nil {
		b.members = append(b.members, l)
		q.mu.Unlock()
		<-b.done
		return l.err
	}
	b = &batch{members: []*listing{l}, done: make(chan struct{})}
	q.open = b
	for deadline := time.Now().Add(joinWait); ; {
		now := time.Now()
		if now.After(deadline) || (q.inflight == 0 && now.Sub(q.last) >= joinQuiet) {
			break
		}
		q.mu.Unlock()
		time.Sleep(joinQuiet / 8)
		q.mu.Lock()
	}
	q.mu.Unlock()
	defer close(b.done)

	unlock, err := in.editLock(l.ctx)
	// Listings that came while the lock was taken still join: the batch
	// is closed only now.
	q.mu.Lock()
	q.open = nil
	members := b.members
	q.mu.Unlock()
	if err != nil {
		for _, m := range members {
			m.err = err
		}
		return l.err
	}
	if err := in.listLocked(l.ctx, members); err != nil && len(members) > 1 {
		// One at a time, from what is there now, so that only the map
		// whose change fails fails.
		for _, m := range members {
			was := m.changed
			m.changed, m.err = false, nil
			in.listLocked(l.ctx, []*listing{m})
			m.changed = m.changed || was
		}
	}
	unlock()
	due, reload := false, false
	for _, m := range members {
		if m.err == nil && (m.changed || m.tableChanged) {
			due, reload = true, reload || m.c.Reload
		}
	}
	if !due {
		return l.err
	}
	err = in.settle(l.ctx, reload, l.log)
	for _, m := range members {
		if m.err == nil && (m.changed || m.tableChanged) && (m.c.Reload || !errors.Is(err, errReload)) {
			m.err = err
		}
	}
	return l.err
}

// listLocked adds each member's table to its parameter, in order, as one
// edit: the parameters are read with one postconf -n, each member's
// change is computed from the value the members before it left and
// journalled, then every changed parameter is written with one
// postconf -e. The caller holds the edit lock. An error of the reads or of
// the write is every changed member's, and is returned.
func (in instance) listLocked(ctx context.Context, members []*listing) error {
	return in.editLocked(ctx, nil, members)
}

// editLocked is listLocked with the parameter sets of postfix_config
// changes (a batch's) made first, in the same edit.
func (in instance) editLocked(ctx context.Context, sets []*configSet, members []*listing) error {
	var names []string
	seen := map[string]bool{}
	for _, cs := range sets {
		for _, n := range cs.c.names() {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	for _, m := range members {
		if !seen[m.c.Parameter] {
			seen[m.c.Parameter] = true
			names = append(names, m.c.Parameter)
		}
	}
	fail := func(err error) error {
		for _, cs := range sets {
			if cs.err == nil {
				cs.err = err
			}
		}
		for _, m := range members {
			if m.err == nil {
				m.err = err
			}
		}
		return err
	}
	cur, _, err := in.params(ctx, names)
	if err != nil {
		return fail(err)
	}
	edits := in.edits()
	var order []string
	dirty := map[string]bool{}
	mark := func(n string) {
		if !dirty[n] {
			dirty[n] = true
			order = append(order, n)
		}
	}
	var setsChanged []*configSet
	for _, cs := range sets {
		earlier, want := cs.c.changes(cur, cs.s)
		if len(want) == 0 {
			continue
		}
		if err := journal(ctx, cs.j, configJournal{Params: earlier}); err != nil {
			cs.err = err
			continue
		}
		cs.log.Debug("setting parameters", "count", len(want))
		for _, p := range want {
			cur[p.Name] = p
			mark(p.Name)
		}
		setsChanged = append(setsChanged, cs)
	}
	var changed []*listing
	for _, m := range members {
		c, s := m.c, m.s
		p := cur[c.Parameter]
		if !p.Set && p.Default == "" {
			if p.Default, err = in.builtinDefault(ctx, c.Parameter); err != nil {
				return fail(err)
			}
			cur[c.Parameter] = p
		}
		if s.Param != nil && s.Param.Set == p.Set && s.Param.Value == p.Value {
			p.Raw = s.Param.Raw
		}
		if lists(p.effective(), c.entry()) {
			continue
		}
		je := mapJournal{Param: p}
		base := edits.addition(p).without(p, c.entry())
		if base != p {
			je.Base = &base
		}
		value := addEntry(p.effective(), c.entry(), c.Position)
		if err := journal(m.ctx, m.j, je); err != nil {
			m.err = err
			continue
		}
		edits.add(base, c.entry())
		m.log.Debug("setting parameter", "name", c.Parameter, "value", value)
		cur[c.Parameter] = param{Name: c.Parameter, Set: true, Value: value}
		mark(c.Parameter)
		changed = append(changed, m)
	}
	if len(order) == 0 {
		return nil
	}
	want := make([]param, 0, len(order))
	for _, n := range order {
		want = append(want, cur[n])
	}
	// A write that fails may have been made all the same (the connection
	// broke after it): each changed member reloads either way.
	for _, m := range changed {
		m.changed = true
	}
	for _, cs := range setsChanged {
		cs.changed = true
	}
	if err := in.putAll(ctx, want); err != nil {
		for _, m := range changed {
			m.err = err
		}
		for _, cs := range setsChanged {
			cs.err = err
		}
		return err
	}
	return nil
}

// settleRun is one postfix check, and reload, for every change made on
// the instance before it started.
type settleRun struct {
	reload    bool
	done      chan struct{}
	checkErr  error
	reloadErr error
}

// settler coalesces the checks and reloads of an instance: a request
// joins the run queued (not yet started), if any, else queues one that
// starts once the running one is done. Every request is answered by a
// check (and reload) that started after it was made, so after the change
// it follows.
type settler struct {
	mu      sync.Mutex
	queued  *settleRun
	running *settleRun
}

// settle runs postfix check after a change, then, when reload is set, a
// reload if Postfix runs, sharing both with the other changes made on the
// instance at the same time (see settler).
func (in instance) settle(ctx context.Context, reload bool, log hclog.Logger) error {
	g := &in.edits().settler
	g.mu.Lock()
	r := g.queued
	if r != nil {
		r.reload = r.reload || reload
		g.mu.Unlock()
		<-r.done
		return r.result(reload)
	}
	r = &settleRun{reload: reload, done: make(chan struct{})}
	g.queued = r
	prev := g.running
	g.mu.Unlock()
	if prev != nil {
		<-prev.done
	}
	g.mu.Lock()
	g.queued, g.running = nil, r
	g.mu.Unlock()
	r.checkErr = in.check(ctx)
	if r.checkErr == nil && r.reload {
		r.reloadErr = in.reloadIfRunning(ctx, log)
	}
	g.mu.Lock()
	if g.running == r {
		g.running = nil
	}
	g.mu.Unlock()
	close(r.done)
	return r.result(reload)
}

// errReload marks the error of a reload, which is only the error of the
// changes that asked for it.
var errReload = errors.New("reload")

func (r *settleRun) result(reload bool) error {
	if r.checkErr != nil || !reload || r.reloadErr == nil {
		return r.checkErr
	}
	return fmt.Errorf("%w: %w", errReload, r.reloadErr)
}
