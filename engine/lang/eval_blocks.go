package lang

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/resource"
)

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
