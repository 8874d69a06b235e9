package configs

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/addrs"
)

// Moved is a `moved { from = ADDR  to = ADDR }` block: the object the state
// knows at from is now at to. Both ends are static references relative
// to the module that declares the block.
type Moved struct {
	Move      addrs.Move
	FromRange hcl.Range
	ToRange   hcl.Range
	DeclRange hcl.Range
}

// Removed is a `removed { from = ADDR }` block: mailplan stops managing
// the resource (or every resource of the module call) at from. With
// `lifecycle { destroy = true }` it is destroyed instead, as if the block
// were not there.
type Removed struct {
	// Scope is the declaring module, by call names.
	Scope     []string
	From      addrs.Target
	FromRange hcl.Range
	Destroy   bool
	DeclRange hcl.Range
}

var movedSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "from", Required: true}, {Name: "to", Required: true}},
}

var removedSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "from", Required: true}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "lifecycle"}},
}

var removedLifecycleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "destroy"}},
}

// staticAddr reads a moved or removed block's address: a reference such
// as file.x["k"], never a string or any other expression.
func staticAddr(a *hcl.Attribute) (addrs.Target, hcl.Diagnostics) {
	trav, diags := hcl.AbsTraversalForExpr(a.Expr)
	if diags.HasErrors() {
		return addrs.Target{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid address",
			Detail:   fmt.Sprintf("%s must be a static reference to a resource or a module call, written without quotes: file.aliases, file.x[0], file.x[\"key\"], module.m.", a.Name),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	return addrs.ParseTargetTraversal(trav)
}

func decodeMoved(b *hcl.Block, scope []string) (*Moved, hcl.Diagnostics) {
	content, diags := b.Body.Content(movedSchema)
	if diags.HasErrors() {
		return nil, diags
	}
	fa, ta := content.Attributes["from"], content.Attributes["to"]
	from, d := staticAddr(fa)
	diags = append(diags, d...)
	to, d2 := staticAddr(ta)
	diags = append(diags, d2...)
	if d.HasErrors() || d2.HasErrors() {
		return nil, diags
	}
	mv := &Moved{FromRange: fa.Expr.Range(), ToRange: ta.Expr.Range(), DeclRange: b.DefRange}
	m, why := addrs.NewMove(scope, from, to)
	if why != "" {
		rng := hcl.RangeBetween(fa.Expr.Range(), ta.Expr.Range())
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid moved block",
			Detail:   fmt.Sprintf("This moves %s to %s, but %s.", from, to, why),
			Subject:  &rng,
		})
	}
	mv.Move = m
	return mv, diags
}

func decodeRemoved(b *hcl.Block, scope []string) (*Removed, hcl.Diagnostics) {
	content, diags := b.Body.Content(removedSchema)
	if diags.HasErrors() {
		return nil, diags
	}
	fa := content.Attributes["from"]
	from, d := staticAddr(fa)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	rm := &Removed{Scope: scope, From: from, FromRange: fa.Expr.Range(), DeclRange: b.DefRange}
	keyed := from.Key != nil
	for _, s := range from.Module {
		keyed = keyed || s.Key != nil
	}
	if keyed {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Instance keys not allowed",
			Detail:   fmt.Sprintf("A removed block names a whole resource or a whole module call, without [...] keys: %s is one instance. To stop managing one instance only, use `mailplan state rm`.", from),
			Subject:  fa.Expr.Range().Ptr(),
		})
	}
	seen := false
	for _, lb := range content.Blocks {
		if seen {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate lifecycle block", Detail: "A removed block may have one lifecycle block.", Subject: lb.DefRange.Ptr()})
			continue
		}
		seen = true
		lc, d := lb.Body.Content(removedLifecycleSchema)
		diags = append(diags, d...)
		if a, ok := lc.Attributes["destroy"]; ok {
			v, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if v.IsNull() || v.Type().FriendlyName() != "bool" {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid destroy value", Detail: "destroy must be true or false.", Subject: a.Expr.Range().Ptr()})
				} else {
					rm.Destroy = v.True()
				}
			}
		}
	}
	return rm, diags
}

// checkMoves rejects moved blocks of one module that contradict each
// other: two moves of one address, two moves to one address, and moves in
// a circle. Chains (a → b, b → c) are fine: what the state has at a ends
// up at c.
func (m *Module) checkMoves() hcl.Diagnostics {
	var diags hcl.Diagnostics
	byFrom := map[string]*Moved{}
	byTo := map[string]*Moved{}
	for _, mv := range m.Moved {
		from, to := mv.Move.FromString(), mv.Move.ToString()
		if prev, dup := byFrom[from]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Ambiguous move",
				Detail:   fmt.Sprintf("%s is moved twice: to %s here and to %s at %s. Keep one of the moved blocks.", mv.Move.From, mv.Move.To, prev.Move.To, prev.DeclRange),
				Subject:  mv.FromRange.Ptr(),
			})
			continue
		}
		if prev, dup := byTo[to]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Two moves to one address",
				Detail:   fmt.Sprintf("Both %s (here) and %s (at %s) move to %s; only one object can be there. Keep one of the moved blocks.", mv.Move.From, prev.Move.From, prev.DeclRange, mv.Move.To),
				Subject:  mv.ToRange.Ptr(),
			})
			continue
		}
		byFrom[from], byTo[to] = mv, mv
	}
	reported := map[*Moved]bool{}
	for _, start := range m.Moved {
		if byFrom[start.Move.FromString()] != start || reported[start] {
			continue
		}
		chain := []*Moved{start}
		cur := start
		for {
			next, ok := byFrom[cur.Move.ToString()]
			if !ok {
				break
			}
			if next == start {
				var parts []string
				for _, c := range chain {
					parts = append(parts, fmt.Sprintf("%s → %s (%s)", c.Move.From, c.Move.To, c.DeclRange))
					reported[c] = true
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Cyclic moves",
					Detail:   "These moved blocks go round in a circle, so no address is where the object ends up: " + strings.Join(parts, ", ") + ". Remove one of them.",
					Subject:  start.DeclRange.Ptr(),
				})
				break
			}
			if len(chain) > len(m.Moved) {
				break // a circle that does not include start; reported from one of its members
			}
			chain = append(chain, next)
			cur = next
		}
	}
	return diags
}
