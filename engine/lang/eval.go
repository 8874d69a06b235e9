package lang

import (
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/dag"
	"github.com/mailplan/mailplan/engine/resource"
)

// InputValue is a root variable's value with where it came from.
type InputValue struct {
	// Raw is the value as given, before type conversion. A string from
	// -var or the environment is parsed as HCL when the variable's type is
	// not a string.
	Value cty.Value
	// Source names where it came from, for messages (e.g. "-var", a file).
	Source string
	// Range points into a variable file, when it came from one.
	Range *hcl.Range
}

// Input is what Evaluate needs.
type Input struct {
	Root      *configs.Module
	Registry  *resource.Registry
	Variables map[string]*InputValue
	// AllowUnknown evaluates required variables that have no value as
	// unknown instead of failing, as `validate` does: it checks a plan
	// without its values. Rules that need a value are skipped.
	AllowUnknown bool
}

// Result is an evaluated configuration.
type Result struct {
	// Instances are every resource instance, by address string.
	Instances map[string]*Instance
	// Outputs are the root module's outputs.
	Outputs map[string]*OutputValue
	// Variables are the root module's final variable values (marked).
	Variables map[string]cty.Value
	// SensitiveVariables names the root variables declared sensitive.
	SensitiveVariables map[string]bool
	// Moved and Removed are the moved and removed blocks of every module,
	// the root's first.
	Moved   []*configs.Moved
	Removed []*configs.Removed
}

// Addrs returns the instance addresses, sorted.
func (r *Result) Addrs() []string {
	out := make([]string, 0, len(r.Instances))
	for a := range r.Instances {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Instance is one resource instance with its evaluated configuration.
type Instance struct {
	Addr   addrs.ResourceInstance
	Type   resource.Type
	Config cty.Value // marked where sensitive
	// Deps are the addresses of the instances this one depends on.
	Deps           []string
	Hooks          []*Hook
	PreventDestroy bool
	IgnoreChanges  []string
	IgnoreAll      bool
	// Body is the resource block's body, for pointing at attributes.
	Body      hcl.Body
	DeclRange hcl.Range
}

// AttrRange returns the source range of an attribute of the instance's
// block, or the block's own range.
func (i *Instance) AttrRange(path cty.Path) hcl.Range {
	if len(path) > 0 {
		if ga, ok := path[0].(cty.GetAttrStep); ok {
			if sb, ok := i.Body.(*hclsyntax.Body); ok {
				if a, ok := sb.Attributes[ga.Name]; ok {
					return exprRange(a.Expr, path[1:])
				}
			}
		}
	}
	return i.DeclRange
}

// exprRange follows the rest of a path into list and object literals, so
// that a problem with entries[2].key points at that key, not at the whole
// list. It stops where the source is not a literal.
func exprRange(e hclsyntax.Expression, path cty.Path) hcl.Range {
	if len(path) == 0 {
		return e.Range()
	}
	switch x := e.(type) {
	case *hclsyntax.TupleConsExpr:
		if ix, ok := path[0].(cty.IndexStep); ok && ix.Key.Type() == cty.Number {
			if n, acc := ix.Key.AsBigFloat().Int64(); acc == 0 && n >= 0 && int(n) < len(x.Exprs) {
				return exprRange(x.Exprs[n], path[1:])
			}
		}
	case *hclsyntax.ObjectConsExpr:
		var name string
		switch st := path[0].(type) {
		case cty.GetAttrStep:
			name = st.Name
		case cty.IndexStep:
			if st.Key.Type() == cty.String {
				name = st.Key.AsString()
			}
		}
		for _, item := range x.Items {
			k, diags := item.KeyExpr.Value(nil)
			if diags.HasErrors() || k.Type() != cty.String || k.IsNull() {
				continue
			}
			if k.AsString() == name {
				return exprRange(item.ValueExpr, path[1:])
			}
		}
	}
	return e.Range()
}

// Hook is an evaluated hook block.
type Hook struct {
	When      string
	Host      resource.Host
	Command   []string
	DeclRange hcl.Range
}

// OutputValue is an evaluated output.
type OutputValue struct {
	Value     cty.Value
	Sensitive bool
}

// Evaluate evaluates the whole configuration.
func Evaluate(in Input) (*Result, hcl.Diagnostics) {
	res := &Result{
		Instances:          map[string]*Instance{},
		Outputs:            map[string]*OutputValue{},
		Variables:          map[string]cty.Value{},
		SensitiveVariables: map[string]bool{},
	}
	if in.Root == nil {
		return res, nil
	}
	res.Moved, res.Removed = collectMoves(in.Root)
	rootDir, _ := filepath.Abs(in.Root.Dir)
	e := &evaluator{reg: in.Registry, result: res, rootDir: rootDir, allowUnknown: in.AllowUnknown}
	var diags hcl.Diagnostics

	vars := map[string]cty.Value{}
	for name, v := range in.Root.Variables {
		iv, ok := in.Variables[name]
		if !ok {
			if !v.HasDefault && in.AllowUnknown {
				vars[name] = cty.UnknownVal(v.Type)
				continue
			}
			if !v.HasDefault {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "No value for required variable",
					Detail:   fmt.Sprintf("The variable %q has no default, so a value is required: set it with -var '%s=...', a -var-file, or the environment variable MAILPLAN_VAR_%s.", name, name, name),
					Subject:  v.DeclRange.Ptr(),
				})
				vars[name] = cty.DynamicVal
				continue
			}
			vars[name] = v.Default
			continue
		}
		val, d := convertRootVariable(v, iv)
		diags = append(diags, d...)
		vars[name] = val
	}
	for name, iv := range in.Variables {
		if _, ok := in.Root.Variables[name]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("A value was given for %q (from %s), but the plan declares no variable of that name. Declare it with a variable block, or remove the value.", name, iv.Source),
				Subject:  iv.Range,
			})
		}
	}
	if diags.HasErrors() {
		return res, diags
	}
	s := &scope{e: e, mod: in.Root, path: nil, inputs: vars, inputDeps: map[string]depSet{}}
	diags = append(diags, s.evaluate()...)
	for name, v := range in.Root.Variables {
		res.Variables[name] = s.values[nodeKey("var."+name)]
		if v.Sensitive {
			res.SensitiveVariables[name] = true
		}
	}
	for name, o := range in.Root.Outputs {
		val := s.values[nodeKey("output."+name)]
		res.Outputs[name] = &OutputValue{Value: val, Sensitive: o.Sensitive}
	}
	if !diags.HasErrors() {
		diags = append(diags, checkMoves(in.Root, res, in.AllowUnknown)...)
	}
	return res, diags
}

type evaluator struct {
	allowUnknown bool
	reg          *resource.Registry
	result       *Result
	rootDir      string
	// funcs are built once: every instance's EvalContext shares them.
	funcs map[string]function.Function
	// instances counts the resource instances so far, against
	// MaxTotalInstances.
	instances int
}

type nodeKey string

type depSet map[string]bool

func (d depSet) add(o depSet) {
	for k := range o {
		d[k] = true
	}
}

func (d depSet) sorted() []string {
	out := make([]string, 0, len(d))
	for k := range d {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

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
	return diags
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
	case "count", "each", "path", "self":
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

func (s *scope) evalVariable(v *configs.Variable) hcl.Diagnostics {
	k := nodeKey("var." + v.Name)
	val, ok := s.inputs[v.Name]
	if !ok {
		val = v.Default
	}
	if val == cty.NilVal {
		val = cty.NullVal(v.Type)
	}
	s.deps[k] = depSet{}
	if d, ok := s.inputDeps[v.Name]; ok {
		s.deps[k].add(d)
	}
	if v.Sensitive {
		val = val.Mark(Sensitive)
	}
	s.values[k] = val
	var diags hcl.Diagnostics
	if !val.IsWhollyKnown() {
		return nil
	}
	for _, vr := range v.Validations {
		ctx := &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})},
			Functions: s.functions(),
		}
		cond, d := vr.Condition.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		cond, _ = cond.Unmark()
		if cond.IsNull() || !cond.IsKnown() || cond.Type() != cty.Bool {
			r := vr.Condition.Range()
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid validation condition", Detail: "The condition must give true or false.", Subject: &r})
			continue
		}
		if cond.True() {
			continue
		}
		msgV, d := vr.ErrorMessage.Value(ctx)
		msg := "The value is not valid."
		if !d.HasErrors() {
			if mv, _ := msgV.Unmark(); mv.Type() == cty.String && !mv.IsNull() {
				msg = mv.AsString()
			}
		}
		r := vr.Condition.Range()
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", msg, r.String()),
			Subject:  v.DeclRange.Ptr(),
		})
	}
	return diags
}

func (s *scope) evalLocal(l *configs.Local) hcl.Diagnostics {
	k := nodeKey("local." + l.Name)
	v, diags := l.Expr.Value(s.evalContext(l.Expr.Variables(), nil))
	s.values[k] = v
	return diags
}

func (s *scope) evalOutput(o *configs.Output) hcl.Diagnostics {
	k := nodeKey("output." + o.Name)
	v, diags := o.Expr.Value(s.evalContext(o.Expr.Variables(), nil))
	if !diags.HasErrors() && IsSensitive(v) && !o.Sensitive {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Output refers to sensitive values",
			Detail:   "This output's value comes from a sensitive value; add sensitive = true to the output block to show that you mean to pass it on.",
			Subject:  o.Expr.Range().Ptr(),
		})
	}
	if o.Sensitive {
		v = v.Mark(Sensitive)
	}
	s.deps[k].add(s.dependsOn(o.DependsOn))
	s.values[k] = v
	return diags
}

// dependsOn resolves depends_on entries: a resource means its instances, a
// module every resource inside it.
func (s *scope) dependsOn(trs []hcl.Traversal) depSet {
	out := depSet{}
	for _, tr := range trs {
		k, _ := s.refKey(tr)
		out.add(s.owned[k])
		out.add(s.exports[k])
	}
	return out
}

var hostSpec = hcldec.ObjectSpec{
	"transport":     &hcldec.AttrSpec{Name: "transport", Type: cty.String},
	"address":       &hcldec.AttrSpec{Name: "address", Type: cty.String},
	"port":          &hcldec.AttrSpec{Name: "port", Type: cty.Number},
	"user":          &hcldec.AttrSpec{Name: "user", Type: cty.String},
	"identity_file": &hcldec.AttrSpec{Name: "identity_file", Type: cty.String},
	"known_hosts":   &hcldec.AttrSpec{Name: "known_hosts", Type: cty.String},
	"sudo":          &hcldec.AttrSpec{Name: "sudo", Type: cty.Bool},
}

var dnsServerSpec = hcldec.ObjectSpec{
	"address":        &hcldec.AttrSpec{Name: "address", Type: cty.String, Required: true},
	"tsig_key_name":  &hcldec.AttrSpec{Name: "tsig_key_name", Type: cty.String},
	"tsig_algorithm": &hcldec.AttrSpec{Name: "tsig_algorithm", Type: cty.String},
	"tsig_secret":    &hcldec.AttrSpec{Name: "tsig_secret", Type: cty.String},
}

// decodeSettings decodes the body of a host or dns_server block, the node
// k, with spec. While the block has errors or values not known yet, k's
// value is an unknown of type t and m is nil; otherwise m is the block's
// attributes, unmarked, and marks the marks they had.
func (s *scope) decodeSettings(k nodeKey, body hcl.Body, spec hcldec.ObjectSpec, t cty.Type) (m map[string]cty.Value, marks cty.ValueMarks, diags hcl.Diagnostics) {
	v, diags := hcldec.Decode(body, spec, s.evalContext(hcldec.Variables(body, spec), nil))
	if diags.HasErrors() {
		s.values[k] = cty.UnknownVal(t)
		return nil, nil, diags
	}
	if !v.IsWhollyKnown() {
		s.values[k] = cty.UnknownVal(t)
		return nil, nil, nil
	}
	v, marks = v.UnmarkDeep()
	return v.AsValueMap(), marks, diags
}

// orString is v, or the string def when v is null.
func orString(v cty.Value, def string) cty.Value {
	if !v.IsNull() {
		return v
	}
	return cty.StringVal(def)
}

func (s *scope) evalHost(h *configs.Host) hcl.Diagnostics {
	k := nodeKey("host." + h.Name)
	m, marks, diags := s.decodeSettings(k, h.Config, hostSpec, resource.HostType)
	if m == nil {
		return diags
	}
	str := func(name, def string) cty.Value { return orString(m[name], def) }
	transport := str("transport", "ssh")
	attrRange := func(name string) *hcl.Range {
		if sb, ok := h.Config.(*hclsyntax.Body); ok {
			if a, ok := sb.Attributes[name]; ok {
				return a.Expr.Range().Ptr()
			}
		}
		return h.DeclRange.Ptr()
	}
	switch transport.AsString() {
	case "ssh":
		if m["address"].IsNull() || m["address"].AsString() == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("host %q is reached over SSH and needs an address; or set transport = \"local\" for this machine.", h.Name),
				Subject:  h.DeclRange.Ptr(),
			})
		}
	case "local":
	default:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid transport",
			Detail:   fmt.Sprintf("transport must be \"ssh\" or \"local\", not %q.", transport.AsString()),
			Subject:  attrRange("transport"),
		})
	}
	port := m["port"]
	if port.IsNull() {
		port = cty.NumberIntVal(22)
	} else if bf := port.AsBigFloat(); !bf.IsInt() || bf.Cmp(big.NewFloat(1)) < 0 || bf.Cmp(big.NewFloat(65535)) > 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid port", Detail: "port must be a whole number from 1 to 65535.", Subject: attrRange("port")})
	}
	sudo := m["sudo"]
	if sudo.IsNull() {
		sudo = cty.False
	}
	if len(marks) > 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Sensitive value in a host block",
			Detail:   "Host settings are shown in plans and kept in state, so they cannot come from sensitive values.",
			Subject:  h.DeclRange.Ptr(),
		})
	}
	s.values[k] = cty.ObjectVal(map[string]cty.Value{
		"name":          cty.StringVal(h.Name),
		"transport":     transport,
		"address":       str("address", ""),
		"port":          port,
		"user":          str("user", "root"),
		"identity_file": str("identity_file", ""),
		"known_hosts":   str("known_hosts", "~/.ssh/known_hosts"),
		"sudo":          sudo,
	})
	return diags
}

func (s *scope) evalDNSServer(d *configs.DNSServer) hcl.Diagnostics {
	k := nodeKey("dns_server." + d.Name)
	m, _, diags := s.decodeSettings(k, d.Config, dnsServerSpec, resource.DNSServerType)
	if m == nil {
		return diags
	}
	str := func(name, def string) cty.Value { return orString(m[name], def) }
	addr := m["address"].AsString()
	if !strings.Contains(strings.TrimPrefix(addr, "["), "]:") && strings.Count(addr, ":") != 1 {
		addr += ":53"
	}
	s.values[k] = cty.ObjectVal(map[string]cty.Value{
		"name":           cty.StringVal(d.Name),
		"address":        cty.StringVal(addr),
		"tsig_key_name":  str("tsig_key_name", ""),
		"tsig_algorithm": str("tsig_algorithm", "hmac-sha256"),
		"tsig_secret":    str("tsig_secret", "").Mark(Sensitive),
	})
	return diags
}

// article is "An" before a vowel, else "A".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}
