package lang

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/resource"
)

// windows resolves the `during` meta-argument of the scope's resources,
// once every block of the scope is evaluated: each instance of a window
// (a type that implements resource.Windower) gets the instances it
// covers, and each covered instance depends on the window. A window must
// not depend on what it covers: it opens before them.
func (s *scope) windows() hcl.Diagnostics {
	var diags hcl.Diagnostics
	var opened []*Instance
	names := make([]string, 0, len(s.mod.Resources))
	for name := range s.mod.Resources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := s.mod.Resources[name]
		if len(r.During) == 0 {
			continue
		}
		t, ok := s.e.reg.Get(r.Type)
		if !ok {
			continue // reported with the block
		}
		if _, ok := t.(resource.Windower); !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported argument",
				Detail:   fmt.Sprintf("%s does not open a window, so it cannot have during: only a window (such as service_window) holds something while other resources apply. Use depends_on to order %s.", r.Type, s.qualify(r.Addr())),
				Subject:  r.DuringRange.Ptr(),
			})
			continue
		}
		covered := depSet{}
		for _, tr := range r.During {
			k, d := s.refKey(tr)
			diags = append(diags, d...)
			if d.HasErrors() || k == "" {
				continue
			}
			ks := string(k)
			if !strings.HasPrefix(ks, "module.") && strings.Count(ks, ".") != 1 || isValueRef(ks) {
				rng := tr.SourceRange()
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid during entry",
					Detail:   fmt.Sprintf("during lists resources and module calls, such as mailbox_copy.final or module.final_pass; %s is neither.", ks),
					Subject:  &rng,
				})
				continue
			}
			if ks == r.Addr() {
				rng := tr.SourceRange()
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Window covers itself", Detail: fmt.Sprintf("%s lists itself in during.", s.qualify(r.Addr())), Subject: &rng})
				continue
			}
			covered.add(s.owned[k])
			covered.add(s.exports[k])
		}
		list := covered.sorted()
		for addr := range s.owned[nodeKey(r.Addr())] {
			w := s.e.result.Instances[addr]
			if w == nil {
				continue
			}
			own := depSet{}
			for _, d := range w.Deps {
				own[d] = true
			}
			var bad []string
			for _, c := range list {
				if own[c] {
					bad = append(bad, c)
				}
			}
			if len(bad) > 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Window depends on what it covers",
					Detail:   fmt.Sprintf("%s depends on %s, which it lists in during: a window opens before what it covers, so it cannot wait for it. Remove the dependency, or the entry from during.", addr, strings.Join(bad, ", ")),
					Subject:  r.DuringRange.Ptr(),
				})
				continue
			}
			w.During = list
			opened = append(opened, w)
		}
	}
	// Then the edges, once every window of the scope knows what it
	// covers. A window opens only once everything the covered instances
	// wait for outside it is done: as late as it can, so that the service
	// is down no longer than the work takes, and never held through
	// another resource's wait. Other windows over the same instances are
	// not among those: windows over one piece of work open side by side.
	for _, w := range opened {
		covered := depSet{}
		for _, c := range w.During {
			covered[c] = true
		}
		wdeps := depSet{}
		for _, d := range w.Deps {
			wdeps[d] = true
		}
		for _, c := range w.During {
			ci := s.e.result.Instances[c]
			if ci == nil {
				continue
			}
			for _, d := range ci.Deps {
				if !covered[d] && d != w.Addr.String() && !s.e.covers(d, c) {
					wdeps[d] = true
				}
			}
		}
		w.Deps = wdeps.sorted()
	}
	for _, w := range opened {
		for _, c := range w.During {
			ci := s.e.result.Instances[c]
			if ci == nil {
				continue
			}
			// Deps may be shared by the instances of one block: copy.
			deps := append(append([]string(nil), ci.Deps...), w.Addr.String())
			sort.Strings(deps)
			ci.Deps = dedupSorted(deps)
		}
	}
	return diags
}

// covers reports whether the instance at addr is a window covering c.
func (e *evaluator) covers(addr, c string) bool {
	w := e.result.Instances[addr]
	return w != nil && slices.Contains(w.During, c)
}

// isValueRef reports a key that names a value, not resources.
func isValueRef(k string) bool {
	for _, p := range []string{"var.", "local.", "host.", "dns_server.", "output."} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
