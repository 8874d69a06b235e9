package lang

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/configs"
)

// collectMoves gathers the moved and removed blocks of mod and the modules
// it calls: the root's first, then each child's in call-name order. Their
// addresses stay relative to the module that declares them (the block's
// scope); exec applies them to the state's addresses.
func collectMoves(mod *configs.Module) ([]*configs.Moved, []*configs.Removed) {
	if mod == nil {
		return nil, nil
	}
	moved := append([]*configs.Moved(nil), mod.Moved...)
	removed := append([]*configs.Removed(nil), mod.Removed...)
	names := make([]string, 0, len(mod.Children))
	for n := range mod.Children {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m, r := collectMoves(mod.Children[n])
		moved = append(moved, m...)
		removed = append(removed, r...)
	}
	return moved, removed
}

// checkMoves rejects moved and removed blocks whose from the
// configuration still declares: nothing can move away from (or stop being
// managed at) an address the configuration still wants managed.
// Resources and module calls are checked against the blocks declared;
// single instances against the instances evaluated, unless some are not
// known yet (validate without values).
func checkMoves(root *configs.Module, res *Result, allowUnknown bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, mv := range res.Moved {
		m := mv.Move
		declared := ""
		switch m.Kind {
		case addrs.MoveResource, addrs.MoveModule:
			declared = declaredAt(root, m.Scope, m.From)
		default:
			if allowUnknown {
				continue
			}
			for _, a := range res.Addrs() {
				if _, ok := m.Apply(res.Instances[a].Addr); ok {
					declared = res.Instances[a].DeclRange.String()
					break
				}
			}
		}
		if declared == "" {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Moved object still declared",
			Detail:   fmt.Sprintf("This moves %s to %s, but the configuration still declares %s (at %s), so the state's object there cannot move away. Rename or remove that block, or remove this moved block.", m.From, m.To, m.From, declared),
			Subject:  mv.FromRange.Ptr(),
		})
	}
	for _, rm := range res.Removed {
		if at := declaredAt(root, rm.Scope, rm.From); at != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Removed object still declared",
				Detail:   fmt.Sprintf("This removed block stops mailplan managing %s, but the configuration still declares it (at %s). Remove that block, or this one.", rm.From, at),
				Subject:  rm.FromRange.Ptr(),
			})
		}
	}
	return diags
}

// declaredAt returns where the module scope (by call names from root)
// declares the resource or module call t names, or "".
func declaredAt(root *configs.Module, scope []string, t addrs.Target) string {
	mod := root
	for _, n := range scope {
		if mod == nil {
			return ""
		}
		mod = mod.Children[n]
	}
	steps := t.Module
	if t.Resource == nil {
		if len(steps) == 0 {
			return ""
		}
		steps = steps[:len(steps)-1]
	}
	for _, s := range steps {
		if mod == nil {
			return ""
		}
		mod = mod.Children[s.Name]
	}
	if mod == nil {
		return ""
	}
	if t.Resource != nil {
		if r, ok := mod.Resources[t.Resource.String()]; ok {
			return r.DeclRange.String()
		}
		return ""
	}
	if mc, ok := mod.ModuleCalls[t.Module[len(t.Module)-1].Name]; ok {
		return mc.DeclRange.String()
	}
	return ""
}
