package lang

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/resource"
)

// stub is a resource type with one attribute that evaluation can expand;
// nothing calls its host methods.
type stub struct{}

var _ resource.Type = stub{}

func (stub) Name() string { return "stub" }
func (stub) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{"v": {Type: cty.String}}}
}
func (stub) Read(context.Context, resource.ReadRequest) (resource.ReadResponse, error) {
	return resource.ReadResponse{}, nil
}
func (stub) Plan(context.Context, resource.PlanRequest) (resource.PlanResponse, error) {
	return resource.PlanResponse{}, nil
}
func (stub) Apply(context.Context, resource.ApplyRequest) (resource.ApplyResponse, error) {
	return resource.ApplyResponse{}, nil
}
func (stub) Restore(context.Context, resource.RestoreRequest) error { return nil }

func TestInstanceLimits(t *testing.T) {
	old := totalInstancesLimit
	totalInstancesLimit = 10
	defer func() { totalInstancesLimit = old }()
	cases := []struct {
		name  string
		files map[string]string
		where string // file:line:col of "Too many instances"; "" for none
	}{
		{
			name:  "at the total limit",
			files: map[string]string{"main.mp.hcl": "resource \"stub\" \"a\" {\n  count = 10\n}\n"},
		},
		{
			name:  "over the total limit",
			files: map[string]string{"main.mp.hcl": "resource \"stub\" \"a\" {\n  count = 6\n}\nresource \"stub\" \"b\" {\n  count = 5\n}\n"},
			where: "main.mp.hcl:4:1",
		},
		{
			name: "module instances times resource instances",
			files: map[string]string{
				"main.mp.hcl": "module \"m\" {\n  source = \"./m\"\n  count  = 3\n}\n",
				"m/m.mp.hcl":  "resource \"stub\" \"a\" {\n  count = 4\n}\n",
			},
			where: "m/m.mp.hcl:1:1",
		},
		{
			name:  "count over MaxInstances",
			files: map[string]string{"main.mp.hcl": fmt.Sprintf("resource \"stub\" \"a\" {\n  count = %d\n}\n", MaxInstances+1)},
			where: "main.mp.hcl:2:11",
		},
		{
			name:  "module count over MaxInstances",
			files: map[string]string{"main.mp.hcl": "module \"m\" {\n  source = \"./m\"\n  count  = 1e12\n}\n", "m/m.mp.hcl": ""},
			where: "main.mp.hcl:3:12",
		},
		{
			name: "for_each over MaxInstances",
			files: map[string]string{"main.mp.hcl": fmt.Sprintf(`resource "stub" "a" {
  for_each = toset([for p in setproduct(range(%d), range(101)) : "${p[0]}-${p[1]}"])
}
`, MaxInstances/100)},
			where: "main.mp.hcl:2:14",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, _, diags := evaluateFiles(t, c.files)
			where := ""
			for _, d := range diags {
				if d.Summary == "Too many instances" {
					rel, _ := filepath.Rel(dir, d.Subject.Filename)
					where = fmt.Sprintf("%s:%d:%d", filepath.ToSlash(rel), d.Subject.Start.Line, d.Subject.Start.Column)
					break
				}
			}
			if where != c.where {
				t.Errorf("Too many instances at %q, want %q; all: %v", where, c.where, diags)
			}
			if c.where == "" && diags.HasErrors() {
				t.Errorf("unexpected: %s", diags.Error())
			}
		})
	}
}

// TestToCollection checks that tolist, toset and tomap give what cty's own
// give, for the cases where finding the element type differs.
func TestToCollection(t *testing.T) {
	tuple := func(vs ...cty.Value) cty.Value { return cty.TupleVal(vs) }
	cases := []struct {
		name string
		want cty.Type
		in   cty.Value
	}{
		{"strings", cty.Set(cty.DynamicPseudoType), tuple(cty.StringVal("a"), cty.StringVal("b"), cty.StringVal("a"))},
		{"numbers and strings", cty.List(cty.DynamicPseudoType), tuple(cty.NumberIntVal(1), cty.StringVal("b"))},
		{"bools and strings", cty.Set(cty.DynamicPseudoType), tuple(cty.True, cty.StringVal("x"))},
		{"objects", cty.List(cty.DynamicPseudoType), tuple(
			cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x")}),
			cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(2)}),
		)},
		{"lists of different lengths", cty.List(cty.DynamicPseudoType), tuple(
			tuple(cty.StringVal("x")), tuple(cty.StringVal("x"), cty.StringVal("y")),
		)},
		{"object as map", cty.Map(cty.DynamicPseudoType), cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.StringVal("2")})},
		{"null element", cty.List(cty.DynamicPseudoType), tuple(cty.StringVal("x"), cty.NullVal(cty.String))},
		{"unknown element", cty.Set(cty.DynamicPseudoType), tuple(cty.StringVal("x"), cty.UnknownVal(cty.String))},
		{"empty", cty.Set(cty.DynamicPseudoType), cty.EmptyTupleVal},
		{"no common type", cty.Set(cty.DynamicPseudoType), tuple(cty.StringVal("x"), cty.ObjectVal(map[string]cty.Value{"a": cty.True}))},
		{"already a list", cty.Set(cty.DynamicPseudoType), cty.ListVal([]cty.Value{cty.StringVal("x")})},
		{"a string", cty.List(cty.DynamicPseudoType), cty.StringVal("x")},
	}
	fast := map[string]cty.Type{"tolist": cty.List(cty.DynamicPseudoType), "toset": cty.Set(cty.DynamicPseudoType), "tomap": cty.Map(cty.DynamicPseudoType)}
	fns := Functions(t.TempDir())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var name string
			for n, ty := range fast {
				if ty.Equals(c.want) {
					name = n
				}
			}
			want, wantErr := stdlib.MakeToFunc(c.want).Call([]cty.Value{c.in})
			got, gotErr := fns[name].Call([]cty.Value{c.in})
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("%s: error %v, cty's %v", name, gotErr, wantErr)
			}
			if wantErr != nil {
				return
			}
			if !got.RawEquals(want) {
				t.Errorf("%s: %#v, cty's %#v", name, got, want)
			}
		})
	}
	// And the variable conversion: list(any) from a tuple.
	v, err := configs.Convert(tuple(cty.StringVal("a"), cty.NumberIntVal(1)), cty.List(cty.DynamicPseudoType))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("list of string", v.Type().FriendlyName()); diff != "" {
		t.Error(diff)
	}
}
