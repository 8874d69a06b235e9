package lang

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/dag"
	"github.com/mailplan/mailplan/engine/resource"
)

// scope is one module instance being evaluated.
type scope struct {
	e         *evaluator
	mod       *configs.Module
	path      addrs.Module
	inputs    map[string]cty.Value
	inputDeps map[string]depSet
	// extraDeps come from the module call's depends_on.
	extraDeps depSet

	values map[nodeKey]cty.Value
	deps   map[nodeKey]depSet
	// owned are the resource instances a node stands for: a resource's
	// instances, or every instance inside a module call.
	owned map[nodeKey]depSet
	// exports is what a reference to a node depends on.
	exports map[nodeKey]depSet
	// all is every resource instance in this module instance and below.
	all depSet
	// outputDeps are what this module instance's outputs depend on.
	outputDeps depSet
	// pathVal is the value of path.*, made once.
	pathVal cty.Value
}

type node struct {
	key   nodeKey
	rng   hcl.Range
	refs  []hcl.Traversal
	eval  func() hcl.Diagnostics
	label string
	// count and forEach say whether count.* and each.* may be used.
	count, forEach bool
}

func (s *scope) evaluate() hcl.Diagnostics {
	s.values = map[nodeKey]cty.Value{}
	s.deps = map[nodeKey]depSet{}
	s.owned = map[nodeKey]depSet{}
	s.exports = map[nodeKey]depSet{}
	s.all = depSet{}
	s.outputDeps = depSet{}
	var diags hcl.Diagnostics
	nodes := map[nodeKey]*node{}
	add := func(n *node) { nodes[n.key] = n }

	for name, v := range s.mod.Variables {
		v := v
		// A validation refers only to its own variable, so it adds no edge.
		add(&node{key: nodeKey("var." + name), rng: v.DeclRange, label: "var." + name, eval: func() hcl.Diagnostics { return s.evalVariable(v) }})
	}
	for name, l := range s.mod.Locals {
		l := l
		add(&node{key: nodeKey("local." + name), rng: l.DeclRange, label: "local." + name, refs: l.Expr.Variables(), eval: func() hcl.Diagnostics { return s.evalLocal(l) }})
	}
	for name, h := range s.mod.Hosts {
		h := h
		add(&node{key: nodeKey("host." + name), rng: h.DeclRange, label: "host." + name, refs: hcldec.Variables(h.Config, hostSpec), eval: func() hcl.Diagnostics { return s.evalHost(h) }})
	}
	for name, d := range s.mod.DNSServers {
		d := d
		add(&node{key: nodeKey("dns_server." + name), rng: d.DeclRange, label: "dns_server." + name, refs: hcldec.Variables(d.Config, dnsServerSpec), eval: func() hcl.Diagnostics { return s.evalDNSServer(d) }})
	}
	for addr, r := range s.mod.Resources {
		r := r
		t, ok := s.e.reg.Get(r.Type)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown resource type",
				Detail:   fmt.Sprintf("mailplan has no resource type %q. The types are: %s.", r.Type, strings.Join(s.e.reg.Names(), ", ")),
				Subject:  r.TypeRange.Ptr(),
			})
			continue
		}
		refs := resourceRefs(r, t)
		add(&node{key: nodeKey(addr), rng: r.DeclRange, label: s.qualify(addr), refs: refs, count: r.Count != nil, forEach: r.ForEach != nil, eval: func() hcl.Diagnostics { return s.evalResource(r, t) }})
	}
	for name, mc := range s.mod.ModuleCalls {
		mc := mc
		var refs []hcl.Traversal
		if mc.Count != nil {
			refs = append(refs, mc.Count.Variables()...)
		}
		if mc.ForEach != nil {
			refs = append(refs, mc.ForEach.Variables()...)
		}
		for _, a := range mc.Inputs {
			refs = append(refs, a.Expr.Variables()...)
		}
		refs = append(refs, mc.DependsOn...)
		add(&node{key: nodeKey("module." + name), rng: mc.DeclRange, label: s.qualify("module." + name), refs: refs, count: mc.Count != nil, forEach: mc.ForEach != nil, eval: func() hcl.Diagnostics { return s.evalModuleCall(mc) }})
	}
	for name, o := range s.mod.Outputs {
		o := o
		refs := append(o.Expr.Variables(), o.DependsOn...)
		add(&node{key: nodeKey("output." + name), rng: o.DeclRange, label: s.qualify("output." + name), refs: refs, eval: func() hcl.Diagnostics { return s.evalOutput(o) }})
	}

	// Edges from references.
	g := dag.New[nodeKey]()
	for k := range nodes {
		g.Add(k)
	}
	for _, n := range nodes {
		seen := map[nodeKey]bool{}
		for _, tr := range n.refs {
			if d := repetitionRef(n, tr); d != nil {
				diags = append(diags, d)
				continue
			}
			k, d := s.refKey(tr)
			diags = append(diags, d...)
			if k == "" || k == n.key && strings.HasPrefix(string(k), "var.") {
				continue
			}
			if k == n.key {
				if !seen[k] {
					seen[k] = true
					rng := tr.SourceRange()
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Self-referential block",
						Detail:   fmt.Sprintf("%s refers to itself, so it cannot be evaluated. Use the value itself instead of the reference.", n.label),
						Subject:  &rng,
					})
				}
				continue
			}
			if _, ok := nodes[k]; !ok {
				continue // reported by refKey, or a type whose block failed
			}
			g.Connect(n.key, k)
		}
	}
	// Blocks are evaluated after what they refer to, the smallest key first
	// among those ready. A cycle is reported once per strongly connected
	// set of blocks, along the references from its smallest block.
	order, err := g.TopoOrder()
	var cycles *dag.CycleError[nodeKey]
	if errors.As(err, &cycles) {
		for _, comp := range cycles.Cycles {
			diags = append(diags, cycleDiag(nodes, g.CycleFrom(comp[0])))
		}
	}
	if diags.HasErrors() {
		return diags
	}
	for _, k := range order {
		n := nodes[k]
		d := depSet{}
		for _, dk := range g.Deps(k) {
			d.add(s.exports[dk])
		}
		s.deps[k] = d
		diags = append(diags, n.eval()...)
		if _, ok := s.exports[k]; !ok {
			s.exports[k] = s.deps[k]
		}
		if diags.HasErrors() {
			// Later blocks would only repeat the damage.
			return diags
		}
	}
	for name := range s.mod.Outputs {
		s.outputDeps.add(s.deps[nodeKey("output."+name)])
	}
	return append(diags, s.windows()...)
}

// cycleDiag reports blocks that refer to each other in a circle, c being
// the keys on it in reference order.
func cycleDiag(nodes map[nodeKey]*node, c []nodeKey) *hcl.Diagnostic {
	var parts []string
	for _, k := range c {
		parts = append(parts, fmt.Sprintf("%s (%s)", nodes[k].label, nodes[k].rng.String()))
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Dependency cycle",
		Detail:   "These blocks refer to each other in a circle, so none can be evaluated first: " + strings.Join(parts, " → ") + ". Break the cycle by removing one of the references or depends_on entries.",
		Subject:  nodes[c[0]].rng.Ptr(),
	}
}

// repetitionRef reports a reference to count or each in a block without
// count or for_each.
func repetitionRef(n *node, tr hcl.Traversal) *hcl.Diagnostic {
	var meta, detail string
	switch tr.RootName() {
	case "count":
		if n.count {
			return nil
		}
		meta, detail = "count", "count.index can be used only in a resource or module block that sets count."
	case "each":
		if n.forEach {
			return nil
		}
		meta, detail = "for_each", "each.key and each.value can be used only in a resource or module block that sets for_each."
	default:
		return nil
	}
	rng := tr.SourceRange()
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Reference to %q in context without %s", tr.RootName(), meta),
		Detail:   detail,
		Subject:  &rng,
	}
}

func (s *scope) qualify(a string) string {
	if s.path.IsRoot() {
		return a
	}
	return s.path.String() + "." + a
}

// resourceRefs lists the traversals in a resource block that make graph
// edges.
func resourceRefs(r *configs.Resource, t resource.Type) []hcl.Traversal {
	var refs []hcl.Traversal
	if r.Count != nil {
		refs = append(refs, r.Count.Variables()...)
	}
	if r.ForEach != nil {
		refs = append(refs, r.ForEach.Variables()...)
	}
	refs = append(refs, hcldec.Variables(r.Config, schemaSpec(t.Schema()))...)
	refs = append(refs, r.DependsOn...)
	if r.Lifecycle.PreventDestroy != nil {
		refs = append(refs, r.Lifecycle.PreventDestroy.Variables()...)
	}
	for _, h := range r.Hooks {
		refs = append(refs, h.Host.Variables()...)
		refs = append(refs, h.Command.Variables()...)
	}
	return refs
}

// refKey maps a traversal to the node it refers to, or "" for count, each,
// path and self.
func (s *scope) refKey(tr hcl.Traversal) (nodeKey, hcl.Diagnostics) {
	root := tr.RootName()
	attr := func(i int) (string, bool) {
		if len(tr) <= i {
			return "", false
		}
		switch a := tr[i].(type) {
		case hcl.TraverseAttr:
			return a.Name, true
		case hcl.TraverseIndex:
			if a.Key.Type() == cty.String {
				return a.Key.AsString(), true
			}
		}
		return "", false
	}
	rng := tr.SourceRange()
	bad := func(summary, detail string) (nodeKey, hcl.Diagnostics) {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}}
	}
	switch root {
	case "count", "each", "path", "self", "mailplan":
		return "", nil
	case "var", "local", "host", "dns_server", "module", "output":
		name, ok := attr(1)
		if !ok {
			return bad("Invalid reference", fmt.Sprintf("A reference to %s must be followed by a name, e.g. %s.example.", root, root))
		}
		k := nodeKey(root + "." + name)
		var exists bool
		switch root {
		case "var":
			_, exists = s.mod.Variables[name]
		case "local":
			_, exists = s.mod.Locals[name]
		case "host":
			_, exists = s.mod.Hosts[name]
		case "dns_server":
			_, exists = s.mod.DNSServers[name]
		case "module":
			_, exists = s.mod.ModuleCalls[name]
		case "output":
			return bad("Invalid reference", "Outputs cannot be referred to inside the module that declares them; use the expression itself.")
		}
		if !exists {
			what := map[string]string{"var": "input variable", "local": "local value", "host": "host", "dns_server": "dns_server", "module": "module call"}[root]
			return bad("Reference to undeclared "+what, fmt.Sprintf("%s %s named %q has not been declared in %s.", article(what), what, name, s.where()))
		}
		return k, nil
	}
	if _, isType := s.e.reg.Get(root); isType {
		name, ok := attr(1)
		if !ok {
			return bad("Invalid reference", fmt.Sprintf("A reference to a resource type must be followed by the resource name, e.g. %s.example.", root))
		}
		if _, ok := s.mod.Resources[root+"."+name]; !ok {
			return bad("Reference to undeclared resource", fmt.Sprintf("A resource %q %q has not been declared in %s.", root, name, s.where()))
		}
		return nodeKey(root + "." + name), nil
	}
	for _, r := range s.mod.Resources {
		if r.Type == root {
			return "", nil // an unknown type, reported on its block
		}
	}
	return bad("Reference to undeclared resource or object", fmt.Sprintf("%q is not a variable, local, host, dns_server, module or resource type. Valid references are var.NAME, local.NAME, host.NAME, dns_server.NAME, module.NAME.OUTPUT and TYPE.NAME.", root))
}

func (s *scope) where() string {
	if s.path.IsRoot() {
		return "the root module"
	}
	return s.path.String()
}

// evalContext builds an EvalContext with exactly the objects the given
// traversals refer to, plus extra variables (count, each).
func (s *scope) evalContext(refs []hcl.Traversal, extra map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]map[string]cty.Value{}
	put := func(root, name string, v cty.Value) {
		if vars[root] == nil {
			vars[root] = map[string]cty.Value{}
		}
		vars[root][name] = v
	}
	for _, tr := range refs {
		root := tr.RootName()
		k, _ := s.refKey(tr)
		if k == "" {
			continue
		}
		name := strings.TrimPrefix(string(k), root+".")
		v, ok := s.values[k]
		if !ok {
			v = cty.DynamicVal
		}
		put(root, name, v)
	}
	ctxVars := map[string]cty.Value{}
	for root, m := range vars {
		ctxVars[root] = cty.ObjectVal(m)
	}
	ctxVars["path"] = s.pathValue()
	ctxVars["mailplan"] = cty.ObjectVal(map[string]cty.Value{"workspace": cty.StringVal(s.e.workspace)})
	for k, v := range extra {
		ctxVars[k] = v
	}
	return &hcl.EvalContext{Variables: ctxVars, Functions: s.functions()}
}

func (s *scope) functions() map[string]function.Function {
	if s.e.funcs == nil {
		s.e.funcs = Functions(s.e.rootDir)
	}
	return s.e.funcs
}

// article is "An" before a vowel, else "A".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}
