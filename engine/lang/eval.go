package lang

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/configs"
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
	// Workspace is the selected workspace, mailplan.workspace in
	// expressions ("default" when empty).
	Workspace string
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
	Deps []string
	// During are the instances a window covers (resource.Windower), from
	// its `during` meta-argument, sorted; each of them depends on it.
	During         []string
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
	workspace := in.Workspace
	if workspace == "" {
		workspace = "default"
	}
	e := &evaluator{reg: in.Registry, result: res, rootDir: rootDir, allowUnknown: in.AllowUnknown, workspace: workspace}
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
	workspace    string
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
