package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// fakeType is a resource type with only a name and a schema, which is all
// ShowPlanJSON asks of one.
type fakeType struct {
	resource.Type
	name   string
	schema *resource.Schema
}

func (f fakeType) Name() string             { return f.name }
func (f fakeType) Schema() *resource.Schema { return f.schema }

func showRegistry() *resource.Registry {
	attrs := func(sensitive string, names ...string) *resource.Schema {
		s := &resource.Schema{Attributes: map[string]*resource.Attribute{}}
		for _, n := range names {
			s.Attributes[n] = &resource.Attribute{Type: cty.String, Sensitive: n == sensitive}
		}
		return s
	}
	return resource.NewRegistry(
		fakeType{name: "file", schema: attrs("", "host", "path", "content", "mode", "owner")},
		fakeType{name: "sasl_password", schema: attrs("password", "host", "relay", "password")},
	)
}

// showInput is a plan of testdata/show: a create, one with a sensitive
// attribute, an update in a module, a delete; a sensitive output.
func showInput(t *testing.T) ShowInput {
	t.Helper()
	mod, diags := configs.NewLoader().Load("testdata/show")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	relay := cty.ObjectVal(map[string]cty.Value{
		"host":     cty.StringVal("new"),
		"relay":    cty.StringVal("[smtp.example.net]:587"),
		"password": cty.StringVal(secret).Mark(sensitive),
	})
	oldSite := file("new", "/srv/a", "old note", "0644")
	newSite := with(oldSite, "content", cty.StringVal("new note"))
	old := file("old", "/etc/old", "x", "0644")
	p := &plans.Plan{
		Changes: []*plans.Change{
			change("file.mailname", plans.Create, null(), file("new", "/etc/mailname", "mail.example.com", "0644")),
			change("sasl_password.relay[0]", plans.Create, cty.NullVal(relay.Type()), relay),
			change(`module.site.file.this["a"]`, plans.Update, oldSite, newSite),
			change("file.old", plans.Delete, old, null()),
		},
		Outputs: map[string]*plans.OutputChange{
			"mailname": {Action: plans.Create, Before: cty.NullVal(cty.String), After: cty.StringVal("/etc/mailname")},
			"token":    {Action: plans.Create, Before: cty.NullVal(cty.String), After: cty.StringVal(secret), Sensitive: true},
		},
		Basis: plans.Basis{
			Variables:          map[string]string{"domain": `{"value":"example.com","type":"string"}`},
			SensitiveVariables: map[string]string{"relay_password": "hmac-sha256:k:0123"},
		},
	}
	prior := &states.State{
		Serial: 4, Lineage: "l",
		Resources: map[string]*states.Resource{
			"file.old": {Addr: "file.old", Type: "file", Result: json.RawMessage(`{"path":"/etc/old","content":"x","mode":"0644"}`)},
			`module.site.file.this["a"]`: {
				Addr: `module.site.file.this["a"]`, Type: "file",
				Result: json.RawMessage(`{"path":"/srv/a","content":null,"mode":"0644"}`), Sensitive: []string{"content"},
			},
		},
		Outputs: map[string]*states.Output{"token": {Sensitive: true, Digest: "hmac-sha256:k:4567"}},
	}
	return ShowInput{Plan: p, Prior: prior, Module: mod, Registry: showRegistry(), Version: "0.9.0"}
}

func TestShowPlanJSON(t *testing.T) {
	got, err := ShowPlanJSON(showInput(t))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), secret) {
		t.Errorf("the document shows a sensitive value:\n%s", got)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden(t, "show_plan.json.golden", pretty.Bytes())
}

// TestShowPlanJSONShape checks the keys and fields consumers of
// `terraform show -json PLANFILE` rely on, independently of the golden.
func TestShowPlanJSONShape(t *testing.T) {
	got, err := ShowPlanJSON(showInput(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"configuration", "format_version", "mailplan_version", "output_changes", "planned_values", "prior_state", "resource_changes", "variables"}
	if diff := cmp.Diff(want, sortedKeys(doc)); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				s, _ := v.([]any)
				if k >= len(s) {
					return nil
				}
				v = s[k]
			}
		}
		return v
	}
	checks := []struct {
		name string
		path []any
		want any
	}{
		{"planned root resources (no delete)", []any{"planned_values", "root_module", "resources", 1, "address"}, "sasl_password.relay[0]"},
		{"planned index", []any{"planned_values", "root_module", "resources", 1, "index"}, 0.0},
		{"planned sensitive value is null", []any{"planned_values", "root_module", "resources", 1, "values", "password"}, nil},
		{"planned sensitive_values", []any{"planned_values", "root_module", "resources", 1, "sensitive_values", "password"}, true},
		{"planned child module", []any{"planned_values", "root_module", "child_modules", 0, "address"}, "module.site"},
		{"planned child index", []any{"planned_values", "root_module", "child_modules", 0, "resources", 0, "index"}, "a"},
		{"planned sensitive output", []any{"planned_values", "outputs", "token", "sensitive"}, true},
		{"planned output value", []any{"planned_values", "outputs", "mailname", "value"}, "/etc/mailname"},
		{"prior state", []any{"prior_state", "values", "root_module", "resources", 0, "address"}, "file.old"},
		{"prior sensitive", []any{"prior_state", "values", "root_module", "child_modules", 0, "resources", 0, "sensitive_values", "content"}, true},
		{"variable", []any{"variables", "domain", "value"}, "example.com"},
		{"sensitive variable", []any{"variables", "relay_password", "value"}, nil},
		{"config constant", []any{"configuration", "root_module", "resources", 0, "expressions", "path", "constant_value"}, "/etc/mailname"},
		{"config references", []any{"configuration", "root_module", "resources", 0, "expressions", "content", "references", 0}, "var.domain"},
		{"config sensitive attribute", []any{"configuration", "root_module", "resources", 1, "expressions", "password", "mailplan_sensitive"}, true},
		{"config count", []any{"configuration", "root_module", "resources", 1, "count_expression", "constant_value"}, 1.0},
		{"config module source", []any{"configuration", "root_module", "module_calls", "site", "source"}, "./site"},
		{"config module input to a sensitive variable", []any{"configuration", "root_module", "module_calls", "site", "expressions", "key", "mailplan_sensitive"}, true},
		{"config module input holding a secret", []any{"configuration", "root_module", "module_calls", "site", "expressions", "note", "mailplan_sensitive"}, true},
		{"config module input", []any{"configuration", "root_module", "module_calls", "site", "expressions", "name", "constant_value"}, "a"},
		{"config child resource", []any{"configuration", "root_module", "module_calls", "site", "module", "resources", 0, "address"}, "file.this"},
		{"config variable default", []any{"configuration", "root_module", "variables", "domain", "default"}, "example.com"},
		{"config sensitive variable has no default", []any{"configuration", "root_module", "variables", "relay_password", "default"}, nil},
		{"config sensitive output", []any{"configuration", "root_module", "outputs", "token", "expression", "mailplan_sensitive"}, true},
		{"config output references", []any{"configuration", "root_module", "outputs", "mailname", "expression", "references", 1}, "file.mailname"},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, get(doc, c.path...)); diff != "" {
			t.Errorf("%s: %v (-want +got):\n%s", c.name, c.path, diff)
		}
	}
}
