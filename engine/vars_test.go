package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

// ctyCmp compares cty values exactly, marks included.
var ctyCmp = cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })

// TestInputVariablePrecedence checks where root variable values come from
// (defaults, MAILPLAN_VAR_*, -var-file, -var) and how they are parsed: the
// engine's part of loading, before package lang evaluates.
func TestInputVariablePrecedence(t *testing.T) {
	main := `
variable "v" { default = "default" }
variable "list" {
  type    = list(string)
  default = []
}
variable "n" {
  type    = number
  default = 0
}
variable "flag" {
  type    = bool
  default = false
}
variable "m" {
  type    = map(number)
  default = {}
}
`
	varFile := `
v = "file"
m = { a = 1, b = 2 }
n = 7
`
	tests := []struct {
		name    string
		environ []string
		vars    []VarArg
		want    map[string]cty.Value
	}{
		{
			name: "defaults",
			want: map[string]cty.Value{"v": cty.StringVal("default")},
		},
		{
			name:    "environment over default",
			environ: []string{"MAILPLAN_VAR_v=env", "MAILPLAN_VAR_n=3", "MAILPLAN_VAR_undeclared=x", "HOME=/root"},
			want:    map[string]cty.Value{"v": cty.StringVal("env"), "n": cty.NumberIntVal(3)},
		},
		{
			name:    "var file over environment",
			environ: []string{"MAILPLAN_VAR_v=env", "MAILPLAN_VAR_n=3"},
			vars:    []VarArg{{File: true, Value: "vars.hcl"}},
			want:    map[string]cty.Value{"v": cty.StringVal("file"), "n": cty.NumberIntVal(7), "m": cty.MapVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.NumberIntVal(2)})},
		},
		{
			name:    "-var over var file and environment",
			environ: []string{"MAILPLAN_VAR_v=env"},
			vars:    []VarArg{{File: true, Value: "vars.hcl"}, {Value: "v=cli"}, {Value: "n=8"}},
			want:    map[string]cty.Value{"v": cty.StringVal("cli"), "n": cty.NumberIntVal(8), "m": cty.MapVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.NumberIntVal(2)})},
		},
		{
			name: "later -var wins",
			vars: []VarArg{{Value: "v=one"}, {Value: "v=two"}},
			want: map[string]cty.Value{"v": cty.StringVal("two")},
		},
		{
			name: "typed -var values",
			vars: []VarArg{{Value: `list=["a","b"]`}, {Value: "flag=true"}, {Value: "n=42"}, {Value: "m={x = 1}"}},
			want: map[string]cty.Value{
				"list": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
				"flag": cty.True,
				"n":    cty.NumberIntVal(42),
				"m":    cty.MapVal(map[string]cty.Value{"x": cty.NumberIntVal(1)}),
			},
		},
		{
			name: "a string variable takes -var as it is",
			vars: []VarArg{{Value: `v=["not", "a list"]`}},
			want: map[string]cty.Value{"v": cty.StringVal(`["not", "a list"]`)},
		},
	}
	defaults := map[string]cty.Value{
		"v":    cty.StringVal("default"),
		"list": cty.ListValEmpty(cty.String),
		"n":    cty.NumberIntVal(0),
		"flag": cty.False,
		"m":    cty.MapValEmpty(cty.Number),
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writePlan(t, dir, main)
			if err := os.WriteFile(filepath.Join(dir, "vars.hcl"), []byte(varFile), 0o644); err != nil {
				t.Fatal(err)
			}
			var vars []VarArg
			for _, v := range tc.vars {
				if v.File {
					v.Value = filepath.Join(dir, v.Value)
				}
				vars = append(vars, v)
			}
			environ := tc.environ
			if environ == nil {
				environ = []string{}
			}
			s, diags := newTestEngine(&fakeFile{}).Load(Options{Dir: dir, Vars: vars, Environ: environ})
			if diags.HasErrors() {
				t.Fatalf("diagnostics:%s", describeDiags(diags))
			}
			want := map[string]cty.Value{}
			for k, v := range defaults {
				want[k] = v
			}
			for k, v := range tc.want {
				want[k] = v
			}
			if diff := cmp.Diff(want, s.Config.Variables, ctyCmp); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
		})
	}
}
