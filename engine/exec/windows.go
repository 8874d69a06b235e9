package exec

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/dag"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// A window (resource.Windower) opens with its instance's apply and closes
// at a node of its own in the apply graph, once what it covers is done.

// closeSuffix names a window's close node in the apply graph.
const closeSuffix = " (close)"

// windowOf returns the window an item is, or nil: an instance of a
// Windower type in the configuration, covering something.
func windowOf(it *item) resource.Windower {
	if it == nil || it.inst == nil || len(it.inst.During) == 0 {
		return nil
	}
	w, _ := it.typ.(resource.Windower)
	return w
}

// planWindows checks that the windows' extra edges (lang gives each
// covered instance a dependency on its window, and the window those of
// what it covers) leave no cycle, and makes each window a change when
// something it covers changes: it opens only for work.
func planWindows(items map[string]*item) hcl.Diagnostics {
	var diags hcl.Diagnostics
	any := false
	for _, it := range items {
		any = any || windowOf(it) != nil
	}
	if !any {
		return nil
	}
	g := dag.New[string]()
	for addr, it := range items {
		g.Add(addr)
		for _, d := range it.deps {
			if _, ok := items[d]; ok {
				g.Connect(addr, d)
			}
		}
	}
	if _, err := g.TopoOrder(); err != nil {
		for _, c := range g.Cycles() {
			var rng *hcl.Range
			for _, a := range c {
				if it := items[a]; windowOf(it) != nil {
					rng = it.inst.DeclRange.Ptr()
					break
				}
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Window in a dependency cycle",
				Detail: fmt.Sprintf("These resources wait for each other once the windows' during lists are taken into account: %s. A window opens after everything what it covers waits for, and before what it covers; "+
					"remove the dependency that leads from what a window covers back to the window.", strings.Join(c, " → ")),
				Subject: rng,
			})
		}
		return diags
	}
	for _, addr := range sortedKeys(items) {
		it := items[addr]
		if windowOf(it) == nil || it.change == nil || it.change.Action != plans.NoOp {
			continue
		}
		n := 0
		for _, c := range it.inst.During {
			if ci := items[c]; ci != nil && ci.change != nil && ci.change.Action != plans.NoOp && ci.change.Action != plans.Forget {
				n++
			}
		}
		if n == 0 {
			continue
		}
		it.change.Action = plans.Update
		it.adopt = false
		what := fmt.Sprintf("%d changes", n)
		if n == 1 {
			what = "1 change"
		}
		if it.change.Summary == "" {
			it.change.Summary = "held while " + what + " apply"
		} else {
			it.change.Summary += "; covers " + what
		}
	}
	return nil
}

// windowEdges adds the close node of each window that opens in this
// apply to the apply graph g: it waits for the window and everything it
// covers, and everything else that waits for the window or for something
// it covers waits for the close instead. It returns the close nodes, by
// name, with their windows.
func windowEdges(g *dag.Graph[string], items map[string]*item) map[string]*item {
	closes := map[string]*item{}
	for addr, it := range items {
		if windowOf(it) == nil || it.change == nil {
			continue
		}
		switch it.change.Action {
		case plans.NoOp, plans.Delete, plans.Forget:
			continue
		}
		name := addr + closeSuffix
		closes[name] = it
		g.Add(name)
		g.Connect(name, addr)
		covered := map[string]bool{}
		for _, c := range it.inst.During {
			covered[c] = true
			if _, ok := items[c]; ok {
				g.Connect(name, c)
			}
		}
		for other, ot := range items {
			if other == addr || covered[other] || ot.change == nil || ot.change.Action == plans.Delete {
				continue
			}
			for _, d := range ot.deps {
				if d == addr || covered[d] {
					g.Connect(other, name)
					break
				}
			}
		}
	}
	return closes
}

// closeWindow closes a window its instance's apply opened (w.open holds
// what that apply left for the close), then finishes the instance's
// change as item would have: after hooks, the journal, the report.
func (w *applyWalk) closeWindow(ctx context.Context, it *item) error {
	w.mu.Lock()
	c := w.open[it.addr]
	delete(w.open, it.addr)
	w.mu.Unlock()
	if c == nil {
		// Its apply finished without opening (nothing left to do).
		return nil
	}
	win := windowOf(it)
	w.r.event(it.addr, Event{Kind: EventStart, Action: string(c.action), Text: "Closing the window..."})
	resp, err := w.r.closeWindow(ctx, win, resource.ApplyRequest{
		Addr: it.addr, Config: it.config, Current: c.cur, Planned: it.planned, Snapshot: c.before,
		Journal: &changeJournal{j: w.j, index: c.index}, Interrupted: it.interrupted, Logger: c.log,
	})
	if err == nil && resp.Private != nil {
		c.private = resp.Private
	}
	if err == nil {
		err = w.r.runHooks(ctx, it, "after_apply")
	}
	if err == nil {
		err = w.journalDone(ctx, c)
	}
	if err != nil {
		w.r.event(it.addr, Event{Kind: EventFailed, Action: string(c.action), Elapsed: w.r.now().Sub(c.start), Err: err})
		return fmt.Errorf("close: %w", err)
	}
	return w.report(c)
}

// closeWindow calls Close, turning a panic into an error.
func (r *Runner) closeWindow(ctx context.Context, win resource.Windower, req resource.ApplyRequest) (resp resource.ApplyResponse, err error) {
	defer r.recovered(req.Addr, "close", &err)
	return win.Close(ctx, req)
}

// closeLeft closes the windows still open after a failed apply whose
// changes are kept (-no-rollback): what they cover stays as the apply left
// it, but the service a window holds is let go. Their failures join the
// report's.
func (w *applyWalk) closeLeft(ctx context.Context, items map[string]*item) {
	w.mu.Lock()
	var left []string
	for addr := range w.open {
		left = append(left, addr)
	}
	w.mu.Unlock()
	sort.Strings(left)
	for _, addr := range left {
		if err := w.closeWindow(ctx, items[addr]); err != nil {
			w.mu.Lock()
			w.rep.Failed = append(w.rep.Failed, ResourceError{Addr: addr + closeSuffix, Err: err})
			w.mu.Unlock()
		}
	}
}
