package lang

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/configs"
)

// ParseVariableValue parses a string from -var or the environment for a
// variable of type t: for a primitive type (string, number, bool) or no type
// the string is taken as it is and converted later; collection and
// structural types are parsed as HCL expressions (as Terraform does).
func ParseVariableValue(name, raw string, t cty.Type) (cty.Value, hcl.Diagnostics) {
	if t.IsPrimitiveType() || t == cty.DynamicPseudoType {
		return cty.StringVal(raw), nil
	}
	filename := "<value for var." + name + ">"
	if diags := configs.CheckExpressionNesting([]byte(raw), filename); diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), filename, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	v, diags := expr.Value(nil)
	return v, diags
}

func convertRootVariable(v *configs.Variable, iv *InputValue) (cty.Value, hcl.Diagnostics) {
	val := iv.Value
	conv, err := configs.Convert(val, v.Type)
	if err != nil {
		subject := iv.Range
		if subject == nil {
			subject = v.DeclRange.Ptr()
		}
		return cty.DynamicVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value for %q from %s is not compatible with the variable's type constraint: %s.", v.Name, iv.Source, err),
			Subject:  subject,
		}}
	}
	return conv, nil
}

// pathValue is path.module, path.root and path.cwd, made on first use:
// every EvalContext of the scope has it.
func (s *scope) pathValue() cty.Value {
	if s.pathVal == cty.NilVal {
		modDir, _ := filepath.Abs(s.mod.Dir)
		cwd, _ := os.Getwd()
		s.pathVal = cty.ObjectVal(map[string]cty.Value{
			"module": cty.StringVal(modDir),
			"root":   cty.StringVal(s.e.rootDir),
			"cwd":    cty.StringVal(cwd),
		})
	}
	return s.pathVal
}
