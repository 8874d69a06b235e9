package engine

import (
	"fmt"
	"os"
	"strings"

	goversion "github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/lang"
)

// EnvVarPrefix starts environment variables that set plan variables.
const EnvVarPrefix = "MAILPLAN_VAR_"

// inputVariables gathers root variable values in Terraform's order of
// precedence, lowest first: the environment, then -var and -var-file in the
// order given. Defaults are applied by the evaluator.
func (s *Session) inputVariables(mod *configs.Module) (map[string]*lang.InputValue, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := map[string]*lang.InputValue{}
	typeOf := func(name string) cty.Type {
		if v, ok := mod.Variables[name]; ok {
			return v.Type
		}
		return cty.DynamicPseudoType
	}
	env := s.opts.Environ
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		if !strings.HasPrefix(kv, EnvVarPrefix) {
			continue
		}
		name, raw, _ := strings.Cut(strings.TrimPrefix(kv, EnvVarPrefix), "=")
		if _, declared := mod.Variables[name]; !declared {
			continue // as Terraform: stray environment variables are ignored
		}
		v, d := lang.ParseVariableValue(name, raw, typeOf(name))
		diags = append(diags, d...)
		out[name] = &lang.InputValue{Value: v, Source: "the environment variable " + EnvVarPrefix + name}
	}
	for _, a := range s.opts.Vars {
		if a.File {
			f, d := s.loader.ReadVarFile(a.Value)
			diags = append(diags, d...)
			if f == nil {
				continue
			}
			attrs, d := f.Body.JustAttributes()
			diags = append(diags, d...)
			for name, attr := range attrs {
				v, d := attr.Expr.Value(nil)
				diags = append(diags, d...)
				rng := attr.Range
				out[name] = &lang.InputValue{Value: v, Source: a.Value, Range: &rng}
			}
			continue
		}
		name, raw, ok := strings.Cut(a.Value, "=")
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid -var option",
				Detail:   fmt.Sprintf("The option -var %q is not of the form NAME=VALUE.", a.Value),
			})
			continue
		}
		if strings.HasPrefix(raw, jsonVarMarker) {
			v, err := ctyjson.Unmarshal([]byte(strings.TrimPrefix(raw, jsonVarMarker)), cty.DynamicPseudoType)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Corrupt saved variable", Detail: fmt.Sprintf("%s: %s", name, err)})
				continue
			}
			out[name] = &lang.InputValue{Value: v, Source: "the saved plan"}
			continue
		}
		v, d := lang.ParseVariableValue(name, raw, typeOf(name))
		diags = append(diags, d...)
		out[name] = &lang.InputValue{Value: v, Source: "-var"}
	}
	return out, diags
}

// checkVersion checks required_version against Version, with
// hashicorp/go-version's constraint syntax (as Terraform's
// required_version): comma-separated `OP X.Y.Z`, OP one of = != > >= < <= ~>.
func checkVersion(mp *configs.Mailplan) hcl.Diagnostics {
	cs, err := goversion.NewConstraint(mp.RequiredVersion)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid required_version", Detail: fmt.Sprintf("%q is not a version constraint such as \">= 0.1.0\".", mp.RequiredVersion), Subject: mp.RequiredVersionRange.Ptr()}}
	}
	if !cs.Check(goversion.Must(goversion.NewVersion(Version))) {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unsupported mailplan version",
			Detail:   fmt.Sprintf("This plan requires mailplan %s, but this is mailplan v%s.", mp.RequiredVersion, Version),
			Subject:  mp.RequiredVersionRange.Ptr(),
		}}
	}
	return nil
}
