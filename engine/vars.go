package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"

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

// checkVersion checks required_version against Version. Constraints are
// comma-separated `OP X.Y.Z` with OP one of = != > >= < <= ~>.
func checkVersion(mp *configs.Mailplan) hcl.Diagnostics {
	have := parseVersion(Version)
	for _, c := range strings.Split(mp.RequiredVersion, ",") {
		c = strings.TrimSpace(c)
		op := "="
		for _, o := range []string{">=", "<=", "!=", "~>", ">", "<", "="} {
			if strings.HasPrefix(c, o) {
				op = o
				c = strings.TrimSpace(c[len(o):])
				break
			}
		}
		want := parseVersion(c)
		if want == nil {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid required_version", Detail: fmt.Sprintf("%q is not a version constraint such as \">= 0.1.0\".", mp.RequiredVersion), Subject: mp.RequiredVersionRange.Ptr()}}
		}
		cmp := compareVersions(have, want)
		ok := false
		switch op {
		case "=":
			ok = cmp == 0
		case "!=":
			ok = cmp != 0
		case ">":
			ok = cmp > 0
		case ">=":
			ok = cmp >= 0
		case "<":
			ok = cmp < 0
		case "<=":
			ok = cmp <= 0
		case "~>":
			upper := append([]int(nil), want...)
			if len(upper) > 1 {
				upper = upper[:len(upper)-1]
			}
			upper[len(upper)-1]++
			ok = cmp >= 0 && compareVersions(have, upper) < 0
		}
		if !ok {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Unsupported mailplan version",
				Detail:   fmt.Sprintf("This plan requires mailplan %s, but this is mailplan v%s.", mp.RequiredVersion, Version),
				Subject:  mp.RequiredVersionRange.Ptr(),
			}}
		}
	}
	return nil
}

func parseVersion(s string) []int {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if s == "" {
		return nil
	}
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
