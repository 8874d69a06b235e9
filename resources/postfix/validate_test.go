package postfix

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
)

var testHost = resource.Host{Name: "old", Transport: "local"}

func entriesVal(kv ...string) cty.Value {
	var es []entry
	for i := 0; i+1 < len(kv); i += 2 {
		es = append(es, entry{kv[i], kv[i+1]})
	}
	return encodeEntries(es)
}

func mapConfigVal(t *testing.T, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	attrs["host"] = resourcetest.HostValue(t, testHost)
	if _, ok := attrs["path"]; !ok {
		attrs["path"] = cty.StringVal("/etc/postfix/migration/bcc")
	}
	if _, ok := attrs["type"]; !ok {
		attrs["type"] = cty.StringVal("hash")
	}
	return resourcetest.Config(t, NewMap(nil), attrs)
}

// problems lists the attribute paths and summaries of a Validate error.
func problems(err error) []string {
	var out []string
	var es resource.AttrErrors
	switch e := err.(type) {
	case nil:
		return nil
	case *resource.AttrError:
		es = resource.AttrErrors{e}
	case resource.AttrErrors:
		es = e
	default:
		return []string{"not an attribute error: " + err.Error()}
	}
	for _, e := range es {
		out = append(out, pathString(e.Path)+": "+e.Summary)
	}
	return out
}

func pathString(p cty.Path) string {
	s := ""
	for _, step := range p {
		switch st := step.(type) {
		case cty.GetAttrStep:
			if s != "" {
				s += "."
			}
			s += st.Name
		case cty.IndexStep:
			if st.Key.Type() == cty.String {
				s += "[" + st.Key.AsString() + "]"
			} else {
				i, _ := st.Key.AsBigFloat().Int64()
				s += fmt.Sprintf("[%d]", i)
			}
		}
	}
	return s
}

func TestMapValidate(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		want  []string
	}{
		{"valid hash", map[string]cty.Value{"entries": entriesVal("user@example.com", "user@example.com.migration"), "parameter": cty.StringVal("recipient_bcc_maps")}, nil},
		{"valid content", map[string]cty.Value{"content": cty.StringVal("a b\n")}, nil},
		{"valid pcre", map[string]cty.Value{"type": cty.StringVal("pcre"), "entries": entriesVal("/^(.*)@example\\.com$/", "${1}@new"), "position": cty.StringVal("last")}, nil},
		{"empty entries are a valid empty table", map[string]cty.Value{"entries": cty.ListValEmpty(entryType)}, nil},
		{"bad type", map[string]cty.Value{"type": cty.StringVal("mysql"), "content": cty.StringVal("")}, []string{"type: Unsupported table type"}},
		{"both", map[string]cty.Value{"entries": entriesVal("a", "b"), "content": cty.StringVal("a b\n")}, []string{"content: Both entries and content"}},
		{"neither", map[string]cty.Value{}, []string{"entries: No table content"}},
		{"whitespace in a hash key", map[string]cty.Value{"entries": entriesVal("ok", "1", "not ok", "2")}, []string{"entries[1].key: Invalid table key"}},
		{"regexp key without slashes", map[string]cty.Value{"type": cty.StringVal("regexp"), "entries": entriesVal("user@example.com", "x")}, []string{"entries[0].key: Invalid table key"}},
		{"empty value", map[string]cty.Value{"entries": entriesVal("a", "")}, []string{"entries[0].value: Invalid table value"}},
		{"parameter without tables", map[string]cty.Value{"content": cty.StringVal(""), "parameter": cty.StringVal("myhostname")}, []string{"parameter: Parameter takes no lookup tables"}},
		{"parameter name", map[string]cty.Value{"content": cty.StringVal(""), "parameter": cty.StringVal("a b_maps")}, []string{"parameter: Invalid parameter name"}},
		{"position", map[string]cty.Value{"content": cty.StringVal(""), "position": cty.StringVal("middle")}, []string{"position: Invalid position"}},
		{"relative path", map[string]cty.Value{"content": cty.StringVal(""), "path": cty.StringVal("bcc")}, []string{"path: Relative path"}},
		{"unclean path", map[string]cty.Value{"content": cty.StringVal(""), "path": cty.StringVal("/etc/postfix//bcc")}, []string{"path: Unclean path"}},
		{"relative config_dir", map[string]cty.Value{"content": cty.StringVal(""), "config_dir": cty.StringVal("postfix")}, []string{"config_dir: Relative path"}},
		{"unknown values are left for later", map[string]cty.Value{"entries": cty.UnknownVal(cty.List(entryType)), "parameter": cty.UnknownVal(cty.String)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewMap(nil).Validate(context.Background(), mapConfigVal(t, tt.attrs))
			if diff := cmp.Diff(tt.want, problems(err)); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		params cty.Value
		dir    cty.Value
		want   []string
	}{
		{"valid", cty.MapVal(map[string]cty.Value{"recipient_bcc_maps": cty.StringVal("hash:/x"), "always_bcc": cty.StringVal("")}), cty.NilVal, nil},
		{"empty", cty.MapValEmpty(cty.String), cty.NilVal, []string{"parameters: No parameters"}},
		{"bad name", cty.MapVal(map[string]cty.Value{"a-b": cty.StringVal("x")}), cty.NilVal, []string{"parameters[a-b]: Invalid parameter name"}},
		{"line break", cty.MapVal(map[string]cty.Value{"mydestination": cty.StringVal("a,\nb")}), cty.NilVal, []string{"parameters[mydestination]: Line break in a parameter value"}},
		{"relative config_dir", cty.MapVal(map[string]cty.Value{"biff": cty.StringVal("no")}), cty.StringVal("etc/postfix"), []string{"config_dir: Relative path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := map[string]cty.Value{"host": resourcetest.HostValue(t, testHost), "parameters": tt.params}
			if tt.dir != cty.NilVal {
				attrs["config_dir"] = tt.dir
			}
			err := NewConfig(nil).Validate(context.Background(), resourcetest.Config(t, NewConfig(nil), attrs))
			if diff := cmp.Diff(tt.want, problems(err)); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMapPlanParameter checks the planned parameter_value for hashed
// tables, for which Plan asks the host nothing.
func TestMapPlanParameter(t *testing.T) {
	const ours = "hash:/etc/postfix/migration/bcc"
	tests := []struct {
		name     string
		param    param
		position string
		want     string
	}{
		{"unset, empty default", param{Name: "recipient_bcc_maps"}, "first", ours},
		{"unset, default kept", param{Name: "alias_maps", Default: "hash:/etc/aliases, nis:mail.aliases"}, "last", "hash:/etc/aliases, nis:mail.aliases, " + ours},
		{"existing entry kept", param{Name: "transport_maps", Set: true, Value: "hash:/etc/postfix/transport"}, "first", ours + ", hash:/etc/postfix/transport"},
		{"already listed", param{Name: "transport_maps", Set: true, Value: "hash:/t " + ours}, "first", "hash:/t " + ours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mapConfigVal(t, map[string]cty.Value{
				"entries": entriesVal("a@example.com", "b@example.com"), "parameter": cty.StringVal(tt.param.Name), "position": cty.StringVal(tt.position),
			})
			snap, _ := json.Marshal(mapSnapshot{MainCF: true, Param: &tt.param})
			resp, err := NewMap(nil).Plan(context.Background(), resource.PlanRequest{Config: cfg, Current: cty.NullVal(mapSchema.ImpliedType()), Snapshot: snap})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Planned.GetAttr("parameter_value"); !got.RawEquals(cty.StringVal(tt.want)) {
				t.Errorf("parameter_value = %#v, want %q", got, tt.want)
			}
			if got := resp.Planned.GetAttr("compiled"); !got.RawEquals(cty.True) {
				t.Errorf("compiled = %#v, want true", got)
			}
		})
	}

	t.Run("no main.cf", func(t *testing.T) {
		cfg := mapConfigVal(t, map[string]cty.Value{"content": cty.StringVal(""), "config_dir": cty.StringVal("/srv/postfix-b")})
		snap, _ := json.Marshal(mapSnapshot{})
		_, err := NewMap(nil).Plan(context.Background(), resource.PlanRequest{Config: cfg, Snapshot: snap})
		if diff := cmp.Diff([]string{"config_dir: No Postfix configuration"}, problems(err)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestClaims(t *testing.T) {
	m := mapConfigVal(t, map[string]cty.Value{"content": cty.StringVal(""), "parameter": cty.StringVal("recipient_bcc_maps")})
	got := NewMap(nil).Claims(m)
	if len(got) != 2 || got[0].Key != "file\x00local\x00/etc/postfix/migration/bcc" || got[0].Shared {
		t.Errorf("map claims %+v, want the file's exclusive claim first", got)
	}
	if len(got) == 2 && (!got[1].Shared || got[1].Key != "postfix-parameter\x00local\x00/etc/postfix\x00recipient_bcc_maps") {
		t.Errorf("map claims %+v, want a shared claim on the parameter second", got)
	}
	c := resourcetest.Config(t, NewConfig(nil), map[string]cty.Value{
		"host":       resourcetest.HostValue(t, testHost),
		"parameters": cty.MapVal(map[string]cty.Value{"b": cty.StringVal("1"), "a": cty.StringVal("2")}),
	})
	var keys []string
	for _, cl := range NewConfig(nil).Claims(c) {
		keys = append(keys, cl.Key)
	}
	want := []string{"postfix-parameter\x00local\x00/etc/postfix\x00a", "postfix-parameter\x00local\x00/etc/postfix\x00b"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("config claims (-want +got):\n%s", diff)
	}
}

func TestFingerprint(t *testing.T) {
	cfg := mapConfigVal(t, map[string]cty.Value{"content": cty.StringVal("a b\n"), "parameter": cty.StringVal("transport_maps")})
	cur := func(content, pv string) cty.Value {
		m := cfg.AsValueMap()
		m["content"], m["parameter_value"], m["compiled"] = cty.StringVal(content), cty.StringVal(pv), cty.True
		return cty.ObjectVal(m)
	}
	ours := "hash:/etc/postfix/migration/bcc"
	fp := NewMap(nil).Fingerprint
	base := string(fp(cur("a b\n", ours+", hash:/t")))
	if got := string(fp(cur("a b\n", "hash:/other, "+ours+", hash:/t"))); got != base {
		t.Errorf("another table added to the parameter changed the fingerprint")
	}
	if got := string(fp(cur("a b\n", "hash:/t"))); got == base {
		t.Errorf("this table taken out of the parameter did not change the fingerprint")
	}
	if got := string(fp(cur("a c\n", ours))); got == base {
		t.Errorf("other content did not change the fingerprint")
	}
}
