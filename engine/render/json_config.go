package render

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// jsonConfig is the configuration key of the plan document: the modules
// as written, not evaluated, in the shape of Terraform's.
type jsonConfig struct {
	RootModule *jsonConfigModule `json:"root_module"`
}

type jsonConfigModule struct {
	Outputs     map[string]jsonConfigOutput   `json:"outputs,omitempty"`
	Resources   []jsonConfigResource          `json:"resources,omitempty"`
	ModuleCalls map[string]jsonModuleCall     `json:"module_calls,omitempty"`
	Variables   map[string]jsonConfigVariable `json:"variables,omitempty"`
}

type jsonConfigResource struct {
	// Address is relative to the module, as in Terraform.
	Address           string              `json:"address"`
	Mode              string              `json:"mode"`
	Type              string              `json:"type"`
	Name              string              `json:"name"`
	Expressions       map[string]jsonExpr `json:"expressions,omitempty"`
	CountExpression   *jsonExpr           `json:"count_expression,omitempty"`
	ForEachExpression *jsonExpr           `json:"for_each_expression,omitempty"`
	DependsOn         []string            `json:"depends_on,omitempty"`
}

type jsonModuleCall struct {
	Source            string              `json:"source"`
	Expressions       map[string]jsonExpr `json:"expressions,omitempty"`
	CountExpression   *jsonExpr           `json:"count_expression,omitempty"`
	ForEachExpression *jsonExpr           `json:"for_each_expression,omitempty"`
	Module            *jsonConfigModule   `json:"module,omitempty"`
	DependsOn         []string            `json:"depends_on,omitempty"`
}

type jsonConfigVariable struct {
	Default     json.RawMessage `json:"default,omitempty"`
	Description string          `json:"description,omitempty"`
	Sensitive   bool            `json:"sensitive,omitempty"`
}

type jsonConfigOutput struct {
	Expression  jsonExpr `json:"expression"`
	Sensitive   bool     `json:"sensitive,omitempty"`
	Description string   `json:"description,omitempty"`
	DependsOn   []string `json:"depends_on,omitempty"`
}

// jsonExpr is an expression as Terraform describes one: its value when it
// is a constant, else what it refers to. A constant that is sensitive (a
// sensitive attribute's, the default of a sensitive variable, an input to
// one, a sensitive output's, or a value the plan holds as sensitive) is
// null, with mailplan_sensitive set.
type jsonExpr struct {
	ConstantValue json.RawMessage `json:"constant_value,omitempty"`
	References    []string        `json:"references,omitempty"`
	Sensitive     bool            `json:"mailplan_sensitive,omitempty"`
}

// configWalker renders modules, knowing the plan's secrets.
type configWalker struct {
	registry *resource.Registry
	// secrets are the JSON encodings (without quotes) of the sensitive
	// strings the plan holds: a constant that contains one is hidden even
	// where nothing declares it sensitive (a literal a module passes on to
	// a sensitive attribute).
	secrets []string
}

func newConfigWalker(reg *resource.Registry, p *plans.Plan) *configWalker {
	w := &configWalker{registry: reg}
	add := func(v cty.Value) {
		if v == cty.NilVal {
			return
		}
		u, pvm := v.UnmarkDeepWithPaths()
		for _, pm := range pvm {
			if _, ok := pm.Marks[sensitive]; !ok {
				continue
			}
			sv, err := pm.Path.Apply(u)
			if err != nil {
				continue
			}
			w.addSecret(sv)
		}
	}
	for _, c := range p.Changes {
		add(c.Before)
		add(c.After)
	}
	for _, o := range p.Outputs {
		if o.Sensitive && o.After != cty.NilVal {
			u, _ := o.After.UnmarkDeep()
			w.addSecret(u)
		}
		add(o.After)
	}
	return w
}

// addSecret records every known, non-empty string inside v.
func (w *configWalker) addSecret(v cty.Value) {
	_ = cty.Walk(v, func(_ cty.Path, e cty.Value) (bool, error) {
		if e.IsKnown() && !e.IsNull() && e.Type() == cty.String && e.AsString() != "" {
			b, _ := json.Marshal(e.AsString())
			w.secrets = append(w.secrets, string(b[1:len(b)-1]))
		}
		return true, nil
	})
}

func configModule(m *configs.Module, reg *resource.Registry, p *plans.Plan) *jsonConfigModule {
	return newConfigWalker(reg, p).module(m)
}

func (w *configWalker) module(m *configs.Module) *jsonConfigModule {
	out := &jsonConfigModule{}
	for _, name := range sortedKeys(m.Variables) {
		v := m.Variables[name]
		jv := jsonConfigVariable{Description: v.Description, Sensitive: v.Sensitive}
		if v.HasDefault && !v.Sensitive {
			jv.Default = w.constant(v.Default)
		}
		if out.Variables == nil {
			out.Variables = map[string]jsonConfigVariable{}
		}
		out.Variables[name] = jv
	}
	for _, name := range sortedKeys(m.Outputs) {
		o := m.Outputs[name]
		if out.Outputs == nil {
			out.Outputs = map[string]jsonConfigOutput{}
		}
		out.Outputs[name] = jsonConfigOutput{
			Expression: w.expr(o.Expr, o.Sensitive), Sensitive: o.Sensitive,
			Description: o.Description, DependsOn: traversalStrings(o.DependsOn),
		}
	}
	for _, key := range sortedKeys(m.Resources) {
		r := m.Resources[key]
		jr := jsonConfigResource{
			Address: r.Addr(), Mode: "managed", Type: r.Type, Name: r.Name,
			CountExpression: w.optExpr(r.Count), ForEachExpression: w.optExpr(r.ForEach),
			DependsOn: traversalStrings(r.DependsOn),
		}
		var schema *resource.Schema
		if w.registry != nil {
			if t, ok := w.registry.Get(r.Type); ok {
				schema = t.Schema()
			}
		}
		// The meta-arguments are hidden from the rest of the body.
		attrs, _ := r.Config.JustAttributes()
		for name, a := range attrs {
			// Without the type's schema, no constant is known not to be
			// sensitive.
			secret := schema == nil || schema.Attributes[name] == nil || schema.Attributes[name].Sensitive
			if jr.Expressions == nil {
				jr.Expressions = map[string]jsonExpr{}
			}
			jr.Expressions[name] = w.expr(a.Expr, secret)
		}
		out.Resources = append(out.Resources, jr)
	}
	for _, name := range sortedKeys(m.ModuleCalls) {
		c := m.ModuleCalls[name]
		child := m.Children[name]
		jc := jsonModuleCall{
			Source: c.Source, CountExpression: w.optExpr(c.Count), ForEachExpression: w.optExpr(c.ForEach),
			DependsOn: traversalStrings(c.DependsOn),
		}
		for in, a := range c.Inputs {
			// An input to a sensitive variable is as secret as it.
			secret := child == nil || child.Variables[in] == nil || child.Variables[in].Sensitive
			if jc.Expressions == nil {
				jc.Expressions = map[string]jsonExpr{}
			}
			jc.Expressions[in] = w.expr(a.Expr, secret)
		}
		if child != nil {
			jc.Module = w.module(child)
		}
		if out.ModuleCalls == nil {
			out.ModuleCalls = map[string]jsonModuleCall{}
		}
		out.ModuleCalls[name] = jc
	}
	return out
}

func (w *configWalker) optExpr(e hcl.Expression) *jsonExpr {
	if e == nil {
		return nil
	}
	x := w.expr(e, false)
	return &x
}

// expr describes e: the references it makes, or, when it makes none and
// evaluates without a context, its constant value (hidden when secret).
func (w *configWalker) expr(e hcl.Expression, secret bool) jsonExpr {
	var out jsonExpr
	if e == nil {
		return out
	}
	vars := e.Variables()
	if len(vars) > 0 {
		out.References = references(vars)
		return out
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return out
	}
	if secret || v.ContainsMarked() {
		return jsonExpr{ConstantValue: json.RawMessage("null"), Sensitive: true}
	}
	c := w.constant(v)
	if c == nil {
		return jsonExpr{ConstantValue: json.RawMessage("null"), Sensitive: true}
	}
	out.ConstantValue = c
	return out
}

// constant is v as JSON, or nil when it holds one of the plan's secrets
// or cannot be encoded.
func (w *configWalker) constant(v cty.Value) json.RawMessage {
	if v.IsNull() {
		return json.RawMessage("null")
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil
	}
	for _, s := range w.secrets {
		if strings.Contains(string(b), s) {
			return nil
		}
	}
	return b
}

// references are the traversals' addresses, each followed by its
// shorter prefixes down to two steps, as Terraform lists them
// ("file.a.path", "file.a"); each once, in source order.
func references(ts []hcl.Traversal) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range ts {
		parts := traversalParts(t)
		for n := len(parts); n >= 1; n-- {
			if n < 2 && len(parts) >= 2 {
				break
			}
			s := strings.Join(parts[:n], "")
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// traversalParts are t's steps as written: "var", ".x", "[0]", `["k"]`.
// A splat or anything else ends it.
func traversalParts(t hcl.Traversal) []string {
	var parts []string
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, "."+s.Name)
		case hcl.TraverseIndex:
			switch {
			case !s.Key.IsKnown() || s.Key.IsNull():
				return parts
			case s.Key.Type() == cty.String:
				parts = append(parts, fmt.Sprintf("[%q]", s.Key.AsString()))
			case s.Key.Type() == cty.Number:
				parts = append(parts, "["+s.Key.AsBigFloat().Text('f', -1)+"]")
			default:
				return parts
			}
		default:
			return parts
		}
	}
	return parts
}

func traversalStrings(ts []hcl.Traversal) []string {
	var out []string
	for _, t := range ts {
		out = append(out, strings.Join(traversalParts(t), ""))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
