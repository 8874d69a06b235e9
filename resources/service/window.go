package service

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// Window is the `service_window` resource type: a service held in a
// state (stopped, usually) while the resources its block lists in
// `during` apply, and put back as it was found once they are done. It
// owns the service only for that time, so another module may still have
// a service_state say how the service ends, as long as one of the two
// comes after the other.
type Window struct {
	hosts Hosts
}

var (
	_ resource.Type        = (*Window)(nil)
	_ resource.Validator   = (*Window)(nil)
	_ resource.Windower    = (*Window)(nil)
	_ resource.PlanChecker = (*Window)(nil)
)

// NewWindow returns the service_window type, reaching hosts through hosts.
func NewWindow(hosts Hosts) *Window { return &Window{hosts: hosts} }

var windowSchema = func() *resource.Schema {
	s := &resource.Schema{Attributes: map[string]*resource.Attribute{}}
	for name, a := range schema.Attributes {
		c := *a
		s.Attributes[name] = &c
	}
	s.Attributes["host"].ShowUnchanged = true
	s.Attributes["service"].ShowUnchanged = true
	s.Attributes["state"] = &resource.Attribute{Type: cty.String, Default: cty.StringVal(Stopped),
		Description: `The state the service is held in while the covered resources apply: "stopped" (default) or "running". Afterwards it is put back as it was found.`}
	return s
}()

// Name implements resource.Type.
func (*Window) Name() string { return "service_window" }

// Schema implements resource.Type.
func (*Window) Schema() *resource.Schema { return windowSchema }

// Validate implements resource.Validator: the rules of service_state.
func (*Window) Validate(ctx context.Context, config cty.Value) error {
	return (*State)(nil).Validate(ctx, config)
}

// windowEntry is a journal entry: "open" before the service is brought to
// the window's state (with the state it was found in), "close" before it
// is put back.
type windowEntry struct {
	Op      string `json:"op"`
	Found   string `json:"found,omitempty"`
	Manager string `json:"manager,omitempty"`
}

// found is the state the first "open" entry of entries recorded: what an
// earlier, interrupted apply found before it changed the service.
func found(entries [][]byte) (windowEntry, bool) {
	for _, e := range entries {
		var we windowEntry
		if json.Unmarshal(e, &we) == nil && we.Op == "open" && (we.Found == Running || we.Found == Stopped) {
			return we, true
		}
	}
	return windowEntry{}, false
}

// Read implements resource.Type: the configuration with the manager in
// use; the state the service is in now goes to the snapshot (it is what
// the window closes back to), not to the value: a window has no state of
// its own to differ.
func (w *Window) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	r, err := readService(ctx, w.hosts, req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	return resource.ReadResponse{Current: value(r.cfg, r.c.State, r.snap.Manager), Snapshot: r.snapJSON}, nil
}

// Plan implements resource.Type. The engine makes the window a change
// when something it covers changes; Plan says what the window will do
// then, and asks to finish a window an interrupted apply left open.
func (w *Window) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	c, err := decode(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	current, _ := req.Current.UnmarkDeep()
	if current.IsNull() {
		return resource.PlanResponse{}, fmt.Errorf("plan service_window: no state was read for %s", c.Service)
	}
	var snap snapshot
	if err := json.Unmarshal(req.Snapshot, &snap); err != nil {
		return resource.PlanResponse{}, fmt.Errorf("plan service_window: bad snapshot: %w", err)
	}
	now := snap.State
	open, wasOpen := found(req.Interrupted)
	if wasOpen {
		now = open.Found
	}
	resp := resource.PlanResponse{Planned: current, Unfinished: wasOpen}
	switch {
	case now == c.State:
		resp.Summary = fmt.Sprintf("%s (%s) is %s already; it stays %s", c.Service, snap.Manager, now, now)
	default:
		resp.Summary = fmt.Sprintf("%s %s (%s), %s it again after", action(c.State), c.Service, snap.Manager, action(now))
	}
	if wasOpen {
		resp.Summary = fmt.Sprintf("an interrupted apply left %s %s: %s it again once what the window covers is done", c.Service, c.State, action(now))
	}
	return resp, nil
}

// Apply implements resource.Type: it opens the window, bringing the
// service to the window's state after journalling the state it found
// (the one an interrupted apply found, when it is carried on).
func (w *Window) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	c, ctl, h, err := w.control(ctx, req.Planned, req.Snapshot)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	open, ok := found(req.Interrupted)
	if !ok {
		var snap snapshot
		if err := json.Unmarshal(req.Snapshot, &snap); err != nil {
			return resource.ApplyResponse{}, fmt.Errorf("apply service_window: bad snapshot: %w", err)
		}
		open = windowEntry{Op: "open", Found: snap.State, Manager: snap.Manager}
	}
	entry, err := json.Marshal(open)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	if err := req.Journal.Record(ctx, entry); err != nil {
		return resource.ApplyResponse{}, err
	}
	if err := ctl.reach(ctx, h, c.State, req.Logger); err != nil {
		return resource.ApplyResponse{}, fmt.Errorf("open the window: %w", err)
	}
	return resource.ApplyResponse{}, nil
}

// Close implements resource.Windower: the service goes back to the state
// the window found.
func (w *Window) Close(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	_, ctl, h, err := w.control(ctx, req.Planned, req.Snapshot)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	open, ok := found(req.Interrupted)
	if !ok {
		var snap snapshot
		if err := json.Unmarshal(req.Snapshot, &snap); err != nil {
			return resource.ApplyResponse{}, fmt.Errorf("close service_window: bad snapshot: %w", err)
		}
		open.Found = snap.State
	}
	entry, _ := json.Marshal(windowEntry{Op: "close"})
	if err := req.Journal.Record(ctx, entry); err != nil {
		return resource.ApplyResponse{}, err
	}
	if err := ctl.reach(ctx, h, open.Found, req.Logger); err != nil {
		return resource.ApplyResponse{}, fmt.Errorf("close the window: %w", err)
	}
	return resource.ApplyResponse{}, nil
}

// Restore implements resource.Type. A window leaves nothing behind once
// closed, so only a window that opened (its journal has an "open" entry)
// is undone: the service goes back to the state that entry found, after
// reaching the window's own state first when the close never began. A
// destroy, which has no journal, changes nothing.
func (w *Window) Restore(ctx context.Context, req resource.RestoreRequest) error {
	open, ok := found(req.Journal)
	if !ok {
		return nil
	}
	c, err := decode(req.Config)
	if err != nil {
		return err
	}
	h, err := w.hosts.Get(ctx, c.Host)
	if err != nil {
		return err
	}
	mgr := cmpOr(open.Manager, c.Manager)
	if mgr == "" {
		if mgr, err = detect(ctx, h, c.Service); err != nil {
			return err
		}
	}
	ctl, err := controlFor(c, mgr)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if !closing(req.Journal) && open.Found != c.State {
		// The apply stopped while the window was open, maybe half way
		// through bringing the service to the window's state: a stop
		// command returns before the daemon has exited, and its status
		// says running until then. Finish that first, so that what the
		// status says next is not a daemon on its way down.
		if err := ctl.reach(ctx, h, c.State, req.Logger); err != nil {
			return fmt.Errorf("restore: finish opening the window first: %w", err)
		}
	}
	if err := ctl.reach(ctx, h, open.Found, req.Logger); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// closing reports whether entries have a "close" entry: the window's
// close had begun.
func closing(entries [][]byte) bool {
	for _, e := range entries {
		var we windowEntry
		if json.Unmarshal(e, &we) == nil && we.Op == "close" {
			return true
		}
	}
	return false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// control decodes a planned value and returns how to drive the service.
func (w *Window) control(ctx context.Context, planned cty.Value, snapJSON []byte) (config, control, transport.Host, error) {
	c, err := decode(planned)
	if err != nil {
		return c, control{}, nil, err
	}
	mgr := c.Manager
	if mgr == "" {
		var snap snapshot
		if json.Unmarshal(snapJSON, &snap) == nil {
			mgr = snap.Manager
		}
	}
	h, err := w.hosts.Get(ctx, c.Host)
	if err != nil {
		return c, control{}, nil, err
	}
	ctl, err := controlFor(c, mgr)
	return c, ctl, h, err
}

// CheckPlan implements resource.PlanChecker: a window and another window
// or a service_state on the same service must come one after the other
// (one depends on the other, directly or not). Otherwise the window could
// put back the state it found after the service_state had changed it, or
// two windows could each restore the other's state.
func (*Window) CheckPlan(ctx context.Context, req resource.CheckPlanRequest) []resource.PlanProblem {
	deps := map[string][]string{}
	type svc struct{ addr, key, what string }
	var windows, others []svc
	for _, in := range req.Instances {
		deps[in.Addr] = in.Deps
		if in.Planned.IsNull() || (in.Type != "service_window" && in.Type != "service_state") {
			continue
		}
		c, err := decode(in.Config)
		if err != nil {
			continue
		}
		s := svc{addr: in.Addr, key: c.Host.Key() + "\x00" + strings.TrimSuffix(c.Service, ".service"), what: fmt.Sprintf("%s on %s", c.Service, c.Host.String())}
		if in.Type == "service_window" {
			windows = append(windows, s)
		} else {
			others = append(others, s)
		}
	}
	reach := func(from, to string) bool {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			a := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, d := range deps[a] {
				if d == to {
					return true
				}
				if !seen[d] {
					seen[d] = true
					stack = append(stack, d)
				}
			}
		}
		return false
	}
	var probs []resource.PlanProblem
	for i, win := range windows {
		rest := append(append([]svc(nil), windows[i+1:]...), others...)
		for _, o := range rest {
			if o.key != win.key || reach(win.addr, o.addr) || reach(o.addr, win.addr) {
				continue
			}
			probs = append(probs, resource.PlanProblem{Addr: win.addr, Err: resource.Errorf("service", "Service held without an order",
				"%s and %s both act on %s, and neither comes after the other. Add depends_on to the one that must act last (a service_state that says how the service ends usually comes after the window).", win.addr, o.addr, win.what)})
		}
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Addr < probs[j].Addr })
	return probs
}
