package lang

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/resource"
)

// schemaSpec is the hcldec spec of the settable attributes of a schema.
func schemaSpec(s *resource.Schema) hcldec.ObjectSpec {
	spec := hcldec.ObjectSpec{}
	for name, a := range s.Attributes {
		if a.Computed {
			continue
		}
		spec[name] = &hcldec.AttrSpec{Name: name, Type: a.ValueType(), Required: a.Required}
	}
	return spec
}

// instanceKeys evaluates count or for_each. It returns the keys and, for
// for_each, each.value by key.
func (s *scope) instanceKeys(count, forEach hcl.Expression) ([]addrs.Key, map[string]cty.Value, hcl.Diagnostics) {
	switch {
	case count != nil:
		v, diags := count.Value(s.evalContext(count.Variables(), nil))
		if diags.HasErrors() {
			return nil, nil, diags
		}
		rng := count.Range()
		bad := func(detail string) ([]addrs.Key, map[string]cty.Value, hcl.Diagnostics) {
			return nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid count argument", Detail: detail, Subject: &rng}}
		}
		if v.HasMark(Sensitive) {
			return bad("count cannot come from a sensitive value, since it shows in addresses.")
		}
		if !v.IsKnown() {
			// validate without values: check the block once.
			return []addrs.Key{addrs.IntKey(0)}, nil, nil
		}
		v, err := convert.Convert(v, cty.Number)
		if err != nil || v.IsNull() {
			return bad("count must be a whole number.")
		}
		bf := v.AsBigFloat()
		n, acc := bf.Int64()
		if !bf.IsInt() || bf.Sign() < 0 {
			return bad("count must be a whole number, zero or more.")
		}
		if acc != 0 || n > MaxInstances {
			// Checked before anything is made for each instance.
			if acc != 0 {
				n = -1
			}
			return nil, nil, tooManyCount(n, rng)
		}
		keys := make([]addrs.Key, n)
		for i := range keys {
			keys[i] = addrs.IntKey(i)
		}
		return keys, nil, nil
	case forEach != nil:
		v, diags := forEach.Value(s.evalContext(forEach.Variables(), nil))
		if diags.HasErrors() {
			return nil, nil, diags
		}
		rng := forEach.Range()
		bad := func(detail string) ([]addrs.Key, map[string]cty.Value, hcl.Diagnostics) {
			return nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid for_each argument", Detail: detail, Subject: &rng}}
		}
		if v.HasMark(Sensitive) {
			return bad("for_each cannot come from a sensitive value, since its keys show in addresses.")
		}
		unknown := func() ([]addrs.Key, map[string]cty.Value, hcl.Diagnostics) {
			return []addrs.Key{addrs.StringKey("")}, map[string]cty.Value{"": cty.DynamicVal}, nil
		}
		if !v.IsKnown() {
			return unknown()
		}
		if v.IsNull() {
			return bad("for_each must be a map or a set of strings, not null.")
		}
		if v.CanIterateElements() {
			if n := v.LengthInt(); n > MaxInstances {
				return nil, nil, tooMany("for_each", int64(n), rng)
			}
		}
		t := v.Type()
		values := map[string]cty.Value{}
		// Elements are checked for unknowns as they are read: iterating a
		// set sorts it, and doing that twice was a third of the cost.
		switch {
		case t.IsMapType() || t.IsObjectType():
			for it := v.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				if !ev.IsWhollyKnown() {
					return unknown()
				}
				values[k.AsString()] = ev
			}
		case t.IsSetType():
			// toset([]) is a set of unknown element type: no instances.
			if !t.ElementType().Equals(cty.String) && v.LengthInt() > 0 {
				if !v.IsWhollyKnown() {
					return unknown()
				}
				return bad("A set given to for_each must hold strings; convert it with toset([...]) of strings.")
			}
			for it := v.ElementIterator(); it.Next(); {
				_, ev := it.Element()
				if !ev.IsKnown() {
					return unknown()
				}
				if ev.IsNull() {
					return bad("for_each keys cannot be null.")
				}
				values[ev.AsString()] = ev
			}
		case !v.IsWhollyKnown():
			return unknown()
		case t.IsTupleType() || t.IsListType():
			return bad("for_each takes a map or a set of strings, not a list: a list's positions would become addresses. Use toset(...) for a list of strings.")
		default:
			return bad(fmt.Sprintf("for_each takes a map or a set of strings, not %s.", t.FriendlyName()))
		}
		names := make([]string, 0, len(values))
		for k := range values {
			names = append(names, k)
		}
		sort.Strings(names)
		keys := make([]addrs.Key, len(names))
		for i, n := range names {
			keys[i] = addrs.StringKey(n)
		}
		return keys, values, nil
	}
	return []addrs.Key{addrs.NoKey}, nil, nil
}

// repetition returns the count and each variables for one instance.
func repetition(key addrs.Key, values map[string]cty.Value) map[string]cty.Value {
	switch k := key.(type) {
	case addrs.IntKey:
		return map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(k))})}
	case addrs.StringKey:
		return map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(string(k)), "value": values[string(k)]})}
	}
	return nil
}

// collect turns per-instance values into the value of the whole block: the
// single value, a tuple for count, an object for for_each.
func collect(count, forEach hcl.Expression, keys []addrs.Key, vals []cty.Value) cty.Value {
	switch {
	case count != nil:
		if len(vals) == 0 {
			return cty.EmptyTupleVal
		}
		return cty.TupleVal(vals)
	case forEach != nil:
		m := map[string]cty.Value{}
		for i, k := range keys {
			m[string(k.(addrs.StringKey))] = vals[i]
		}
		return cty.ObjectVal(m)
	}
	if len(vals) == 1 {
		return vals[0]
	}
	return cty.DynamicVal
}

func (s *scope) evalResource(r *configs.Resource, t resource.Type) hcl.Diagnostics {
	k := nodeKey(r.Addr())
	keys, eachValues, diags := s.instanceKeys(r.Count, r.ForEach)
	if diags.HasErrors() {
		s.values[k] = cty.DynamicVal
		return diags
	}
	if d := s.e.countInstances(len(keys), s.qualify(r.Addr()), r.DeclRange); d.HasErrors() {
		s.values[k] = cty.DynamicVal
		return d
	}
	schema := t.Schema()
	spec := schemaSpec(schema)
	refs := hcldec.Variables(r.Config, spec)
	deps := depSet{}
	deps.add(s.deps[k])
	deps.add(s.dependsOn(r.DependsOn))
	deps.add(s.extraDeps)
	// One sorted slice, shared by the instances, which never change it:
	// sorting it per instance made a for_each that depends on another
	// for_each cost the product of their sizes.
	sortedDeps := deps.sorted()
	// Checked once, not per instance, and even when there are none.
	var ignoreChanges []string
	for _, tr := range r.Lifecycle.IgnoreChanges {
		name := tr.RootName()
		if _, ok := schema.Attributes[name]; !ok || len(tr) != 1 {
			rng := tr.SourceRange()
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ignore_changes entry", Detail: fmt.Sprintf("ignore_changes lists attribute names of %s; %q is not one.", r.Type, name), Subject: &rng})
			continue
		}
		ignoreChanges = append(ignoreChanges, name)
	}
	owned := depSet{}
	var vals []cty.Value
	for _, key := range keys {
		extra := repetition(key, eachValues)
		ctx := s.evalContext(refs, extra)
		v, d := hcldec.Decode(r.Config, spec, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			vals = append(vals, cty.DynamicVal)
			continue
		}
		v = completeObject(schema, v)
		addr := addrs.ResourceInstance{Module: s.path, Resource: addrs.Resource{Type: r.Type, Name: r.Name}, Key: key}
		inst := &Instance{
			Addr:      addr,
			Type:      t,
			Config:    v,
			Deps:      sortedDeps,
			Body:      r.Config,
			DeclRange: r.DeclRange,
		}
		if val, ok := t.(resource.Validator); ok && v.IsWhollyKnown() {
			if err := val.Validate(context.Background(), v); err != nil {
				diags = append(diags, AttrDiagnostics(inst, err)...)
			}
		}
		if r.Lifecycle.PreventDestroy != nil {
			pv, d := r.Lifecycle.PreventDestroy.Value(s.evalContext(r.Lifecycle.PreventDestroy.Variables(), extra))
			diags = append(diags, d...)
			if !d.HasErrors() && pv.IsWhollyKnown() {
				pv, _ = pv.Unmark()
				pv, err := convert.Convert(pv, cty.Bool)
				if err != nil || pv.IsNull() {
					rng := r.Lifecycle.PreventDestroy.Range()
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid prevent_destroy", Detail: "prevent_destroy must be true or false.", Subject: &rng})
				} else {
					inst.PreventDestroy = pv.True()
				}
			}
		}
		inst.IgnoreAll = r.Lifecycle.IgnoreAll
		inst.IgnoreChanges = ignoreChanges
		for _, h := range r.Hooks {
			hk, d := s.evalHook(h, extra)
			diags = append(diags, d...)
			if hk != nil {
				inst.Hooks = append(inst.Hooks, hk)
			}
		}
		s.e.result.Instances[addr.String()] = inst
		owned[addr.String()] = true
		vals = append(vals, v)
	}
	s.owned[k] = owned
	s.exports[k] = owned
	s.all.add(owned)
	s.values[k] = collect(r.Count, r.ForEach, keys, vals)
	return diags
}

// completeObject fills defaults, marks sensitive attributes and sets
// computed attributes to null.
func completeObject(schema *resource.Schema, v cty.Value) cty.Value {
	m := map[string]cty.Value{}
	for name, a := range schema.Attributes {
		av := cty.NullVal(a.ValueType())
		if !a.Computed {
			av = v.GetAttr(name)
		}
		if av.IsNull() && a.Default != cty.NilVal {
			if dv, err := convert.Convert(a.Default, a.ValueType()); err == nil {
				av = dv
			}
		}
		if a.Sensitive {
			av = av.Mark(Sensitive)
		}
		m[name] = av
	}
	return cty.ObjectVal(m)
}

func (s *scope) evalHook(h *configs.Hook, extra map[string]cty.Value) (*Hook, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	hv, d := h.Host.Value(s.evalContext(h.Host.Variables(), extra))
	diags = append(diags, d...)
	cv, d := h.Command.Value(s.evalContext(h.Command.Variables(), extra))
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	if !hv.IsWhollyKnown() || !cv.IsWhollyKnown() {
		return nil, nil // validate without values
	}
	hostVal, err := convert.Convert(hv, resource.HostType)
	var host resource.Host
	if err == nil {
		host, err = resource.HostFromValue(hostVal)
	}
	if err != nil {
		rng := h.Host.Range()
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid hook host", Detail: "host must refer to a host block, e.g. host = host.old.", Subject: &rng}}
	}
	// Checked before decoding: gocty cannot decode marked values.
	if IsSensitive(cv) {
		rng := h.Command.Range()
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Sensitive value in a hook command", Detail: "Hook commands are shown and logged, so they cannot contain sensitive values.", Subject: &rng}}
	}
	var argv []string
	if err := gohcl.DecodeExpression(h.Command, s.evalContext(h.Command.Variables(), extra), &argv); err.HasErrors() || len(argv) == 0 {
		rng := h.Command.Range()
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid hook command", Detail: "command must be a non-empty list of strings: the program and its arguments, e.g. [\"postfix\", \"check\"]. It is never run through a shell.", Subject: &rng}}
	}
	return &Hook{When: h.When, Host: host, Command: argv, DeclRange: h.DeclRange}, nil
}

func (s *scope) evalModuleCall(mc *configs.ModuleCall) hcl.Diagnostics {
	k := nodeKey("module." + mc.Name)
	child := s.mod.Children[mc.Name]
	if child == nil {
		s.values[k] = cty.DynamicVal
		return nil // the loader reported why
	}
	keys, eachValues, diags := s.instanceKeys(mc.Count, mc.ForEach)
	if diags.HasErrors() {
		s.values[k] = cty.DynamicVal
		return diags
	}
	for name, a := range mc.Inputs {
		if _, ok := child.Variables[name]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported argument",
				Detail:   fmt.Sprintf("The module %q (%s) declares no variable named %q.", mc.Name, mc.Source, name),
				Subject:  a.NameRange.Ptr(),
			})
		}
	}
	for name, v := range child.Variables {
		if _, ok := mc.Inputs[name]; !ok && !v.HasDefault {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The module %q needs a value for its variable %q, which has no default.", mc.Name, name),
				Subject:  mc.DeclRange.Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		s.values[k] = cty.DynamicVal
		return diags
	}
	extraDeps := depSet{}
	extraDeps.add(s.extraDeps)
	extraDeps.add(s.dependsOn(mc.DependsOn))
	owned := depSet{}
	exports := depSet{}
	var vals []cty.Value
	for _, key := range keys {
		extra := repetition(key, eachValues)
		inputs := map[string]cty.Value{}
		inputDeps := map[string]depSet{}
		for name, a := range mc.Inputs {
			v, d := a.Expr.Value(s.evalContext(a.Expr.Variables(), extra))
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			cv, err := configs.Convert(v, child.Variables[name].Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid value for module argument",
					Detail:   fmt.Sprintf("The value for %q is not compatible with the module variable's type: %s.", name, err),
					Subject:  a.Expr.Range().Ptr(),
				})
				continue
			}
			inputs[name] = cv
			dd := depSet{}
			for _, tr := range a.Expr.Variables() {
				rk, _ := s.refKey(tr)
				dd.add(s.exports[rk])
			}
			inputDeps[name] = dd
		}
		if diags.HasErrors() {
			s.values[k] = cty.DynamicVal
			return diags
		}
		cs := &scope{e: s.e, mod: child, path: s.path.Child(mc.Name, key), inputs: inputs, inputDeps: inputDeps, extraDeps: extraDeps}
		diags = append(diags, cs.evaluate()...)
		if diags.HasErrors() {
			s.values[k] = cty.DynamicVal
			return diags
		}
		outs := map[string]cty.Value{}
		for name := range child.Outputs {
			outs[name] = cs.values[nodeKey("output."+name)]
		}
		vals = append(vals, cty.ObjectVal(outs))
		owned.add(cs.all)
		exports.add(cs.outputDeps)
	}
	s.owned[k] = owned
	s.exports[k] = exports
	s.all.add(owned)
	s.values[k] = collect(mc.Count, mc.ForEach, keys, vals)
	return diags
}

// AttrDiagnostics turns an error from a resource type (an AttrError or
// AttrErrors) into diagnostics pointing at the instance's source.
func AttrDiagnostics(inst *Instance, err error) hcl.Diagnostics {
	var diags hcl.Diagnostics
	addOne := func(ae *resource.AttrError) {
		rng := inst.AttrRange(ae.Path)
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  ae.Summary,
			Detail:   fmt.Sprintf("%s: %s", inst.Addr.String(), ae.Detail),
			Subject:  &rng,
		})
	}
	switch e := err.(type) {
	case *resource.AttrError:
		addOne(e)
	case resource.AttrErrors:
		for _, ae := range e {
			addOne(ae)
		}
	default:
		rng := inst.DeclRange
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid resource configuration",
			Detail:   fmt.Sprintf("%s: %s", inst.Addr.String(), err),
			Subject:  &rng,
		})
	}
	return diags
}
