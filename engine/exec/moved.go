package exec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// movePlan is what moved and removed blocks, and the implicit takeovers,
// do to the state a plan starts from. Nothing here touches a host: moves
// rename state records, removed blocks drop them, and a takeover hands
// one instance's record to another.
type movePlan struct {
	// view is the state with the moves and takeovers made, in memory.
	view *states.State
	// moves are the explicit moves, old address → new, in order.
	moves []plans.Move
	// prev maps a moved instance's new address to its old one.
	prev map[string]string
	// forget are the instances (at their new addresses) removed blocks
	// drop.
	forget map[string]bool
	// takeovers are by the address of the instance that takes over.
	takeovers map[string]*takeover
	// after maps a new instance to the instances, to be destroyed, that
	// own part of what it claims, when it cannot simply take them over:
	// it waits for them and is planned again once they are gone.
	after map[string][]string
	// afterWhat says what they share, for the plan.
	afterWhat map[string]string
}

// takeover is an instance no longer configured whose record another,
// new instance that owns exactly the same part of a host inherits.
type takeover struct {
	from string
	// prior is the state's record of from, exactly: the forget change
	// journals it, so that a rollback puts it back.
	prior *states.Resource
	what  string
}

// planMoves applies the moved blocks to the state's addresses, finds what
// removed blocks forget and which new instances take over old ones.
func (r *Runner) planMoves(cfg *lang.Result, st *states.State, opts PlanOptions) (*movePlan, hcl.Diagnostics) {
	mp := &movePlan{prev: map[string]string{}, forget: map[string]bool{}, takeovers: map[string]*takeover{}, after: map[string][]string{}, afterWhat: map[string]string{}}
	moves, diags := resolveMoves(cfg.Moved, st)
	if diags.HasErrors() {
		return mp, diags
	}
	view := &states.State{Version: st.Version, Serial: st.Serial, Lineage: st.Lineage, Outputs: st.Outputs, Resources: map[string]*states.Resource{}}
	for a, res := range st.Resources {
		view.Resources[a] = res
	}
	for _, m := range moves {
		if err := view.Move(m.From, m.To); err != nil {
			return mp, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot move", Detail: err.Error()})
		}
		mp.prev[m.To] = m.From
	}
	mp.moves = moves
	mp.view = view

	for _, a := range sortedKeys(view.Resources) {
		if _, configured := cfg.Instances[a]; configured {
			continue
		}
		ri, d := addrs.ParseResourceInstance(a)
		if d.HasErrors() {
			continue
		}
		for _, rm := range cfg.Removed {
			if !rm.Destroy && addrs.Removes(rm.Scope, rm.From, ri) {
				mp.forget[a] = true
			}
		}
	}
	if !opts.Destroy {
		diags = append(diags, r.findTakeovers(cfg, mp)...)
	}
	return mp, diags
}

// resolveMoves works out where each instance of the state ends up: the
// moved blocks are applied to its address in turn (a → b, then b → c),
// each at most once. Two instances ending up at one address, or one
// landing where the state already has another, is an error.
func resolveMoves(stmts []*configs.Moved, st *states.State) ([]plans.Move, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if len(stmts) == 0 {
		return nil, nil
	}
	type dest struct {
		from string
		by   *configs.Moved
	}
	landed := map[string]dest{}
	var moves []plans.Move
	for _, a := range sortedKeys(st.Resources) {
		ri, d := addrs.ParseResourceInstance(a)
		if d.HasErrors() {
			continue
		}
		cur := ri
		used := map[*configs.Moved]bool{}
		var last *configs.Moved
		for {
			matched := false
			for _, mv := range stmts {
				if used[mv] {
					continue
				}
				n, ok := mv.Move.Apply(cur)
				if !ok || n.String() == cur.String() {
					continue
				}
				used[mv] = true
				cur, last, matched = n, mv, true
				break
			}
			if !matched {
				break
			}
		}
		to := cur.String()
		if to == a {
			continue
		}
		if _, taken := st.Resources[to]; taken {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Moved object's new address is taken",
				Detail: fmt.Sprintf("This moves %s to %s, but the state already manages %s: both cannot be there. If %s is the object you mean to keep, remove this moved block; otherwise drop one of them from the state with `mailplan state rm`.",
					a, to, to, to),
				Subject: last.ToRange.Ptr(),
			})
			continue
		}
		if prev, dup := landed[to]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Two objects move to one address",
				Detail:   fmt.Sprintf("Both %s (by the moved block at %s) and %s (by this one) would move to %s; only one can be there. Change the moved blocks, or drop one of them from the state with `mailplan state rm`.", prev.from, prev.by.DeclRange, a, to),
				Subject:  last.ToRange.Ptr(),
			})
			continue
		}
		landed[to] = dest{from: a, by: last}
		moves = append(moves, plans.Move{From: a, To: to})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return moves, diags
}

// exclusiveClaims returns the sorted keys of the exclusive claims among
// claims, and a name for what they cover.
func exclusiveClaims(claims []resource.Claim) ([]string, string) {
	var keys, whats []string
	for _, c := range claims {
		if c.Shared {
			continue
		}
		keys = append(keys, c.Key)
		whats = append(whats, c.What)
	}
	sort.Strings(keys)
	return keys, strings.Join(whats, ", ")
}

// findTakeovers looks for an instance the state manages, no longer in the
// configuration, that owns (resource.Claimer, exclusively) what a new
// instance owns. Destroying the one and creating the other in the same
// apply would race, and even in order it would put back what was there
// before mailplan, live, until the new one is applied, which would then
// record mailplan's own earlier work as what destroy puts back. So when
// both are of one type and own exactly the same parts, the new instance
// takes the old one's record over (an implicit move, journalled so that a
// rollback puts the old record back); otherwise the new instance waits for
// the old one's destroy and is planned again once it is done.
func (r *Runner) findTakeovers(cfg *lang.Result, mp *movePlan) hcl.Diagnostics {
	type owner struct {
		addr string
		keys []string
		what string
	}
	byKey := map[string][]*owner{}
	var diags hcl.Diagnostics
	for _, a := range sortedKeys(mp.view.Resources) {
		if _, configured := cfg.Instances[a]; configured || mp.forget[a] {
			continue
		}
		res := mp.view.Resources[a]
		t, ok := r.Registry.Get(res.Type)
		if !ok {
			continue
		}
		c, ok := t.(resource.Claimer)
		if !ok {
			continue
		}
		v, err := decodeValue(res.Config, t.Schema().ImpliedType(), res.Sensitive)
		if err != nil || v.IsNull() {
			continue
		}
		keys, what := exclusiveClaims(c.Claims(v))
		o := &owner{addr: a, keys: keys, what: what}
		for _, k := range keys {
			byKey[k] = append(byKey[k], o)
		}
	}
	if len(byKey) == 0 {
		return nil
	}
	taken := map[string]bool{}
	for _, a := range cfg.Addrs() {
		if _, managed := mp.view.Resources[a]; managed {
			continue
		}
		inst := cfg.Instances[a]
		c, ok := inst.Type.(resource.Claimer)
		if !ok {
			continue
		}
		keys, what := exclusiveClaims(c.Claims(inst.Config))
		var olds []*owner
		seen := map[*owner]bool{}
		for _, k := range keys {
			for _, o := range byKey[k] {
				if !seen[o] {
					seen[o] = true
					olds = append(olds, o)
				}
			}
		}
		if len(olds) == 0 {
			continue
		}
		if o := olds[0]; len(olds) == 1 && !taken[o.addr] && mp.view.Resources[o.addr].Type == inst.Type.Name() && strings.Join(o.keys, "\x00") == strings.Join(keys, "\x00") {
			taken[o.addr] = true
			prior := mp.view.Resources[o.addr]
			if err := mp.view.Move(o.addr, a); err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot take over " + o.addr, Detail: err.Error()})
				continue
			}
			mp.takeovers[a] = &takeover{from: o.addr, prior: prior, what: what}
			continue
		}
		for _, o := range olds {
			mp.after[a] = append(mp.after[a], o.addr)
		}
		mp.afterWhat[a] = what
	}
	return diags
}

// annotate marks an item with what the moves do to it.
func (mp *movePlan) annotate(it *item) {
	if mp == nil {
		return
	}
	it.prev = mp.prev[it.addr]
	it.forget = mp.forget[it.addr]
	it.takeover = mp.takeovers[it.addr]
	it.after = mp.after[it.addr]
	it.afterWhat = mp.afterWhat[it.addr]
}

// noteMoves puts what the moves do into the plan's change for it.
func noteMoves(it *item, ch *plans.Change) {
	ch.PreviousAddr = it.prev
	if it.takeover != nil {
		ch.TakesOver = it.takeover.from
		ch.TakesOverWhat = it.takeover.what
	}
	if len(it.after) > 0 && ch.Reason == "" {
		ch.Reason = fmt.Sprintf("it waits until %s, which also manages %s, is destroyed, and is read and planned again then", strings.Join(it.after, ", "), it.afterWhat)
	}
}
