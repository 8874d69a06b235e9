package resource

import (
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

type testEntry struct {
	Key   string `cty:"key"`
	Value string `cty:"value"`
}

type testShared struct {
	Host Host `cty:"host"`
}

type testConfig struct {
	testShared
	Name    string               `cty:"name"`
	Owner   *string              `cty:"owner"`
	Reload  bool                 `cty:"reload"`
	Count   *big.Float           `cty:"count"`
	Args    []string             `cty:"args"`
	Globs   []*string            `cty:"globs"`
	Entries []testEntry          `cty:"entries"`
	Params  map[string]string    `cty:"params"`
	Raw     cty.Value            `cty:"raw"`
	_       struct{ X int }      // untagged: ignored
	Nested  map[string]testEntry `cty:"nested"`
}

var testEntryType = cty.Object(map[string]cty.Type{"key": cty.String, "value": cty.String})

var testSchema = &Schema{Attributes: map[string]*Attribute{
	"host":    {Type: HostType, Kind: HostRef},
	"name":    {Type: cty.String},
	"owner":   {Type: cty.String},
	"reload":  {Type: cty.Bool},
	"count":   {Type: cty.Number},
	"args":    {Type: cty.List(cty.String)},
	"globs":   {Type: cty.List(cty.String)},
	"entries": {Type: cty.List(testEntryType)},
	"params":  {Type: cty.Map(cty.String)},
	"raw":     {Type: cty.Number},
	"nested":  {Type: cty.Map(testEntryType)},
}}

func testHost() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name": cty.StringVal("old"), "transport": cty.StringVal("ssh"), "address": cty.StringVal("192.0.2.1"),
		"port": cty.NumberIntVal(22), "user": cty.StringVal("root"), "identity_file": cty.NullVal(cty.String),
		"known_hosts": cty.StringVal("/k"), "sudo": cty.NullVal(cty.Bool),
	})
}

// testValue is a value of testSchema: every attribute null but those in set.
func testValue(set map[string]cty.Value) cty.Value {
	attrs := map[string]cty.Value{}
	for name, a := range testSchema.Attributes {
		attrs[name] = cty.NullVal(a.ValueType())
	}
	for name, v := range set {
		attrs[name] = v
	}
	return cty.ObjectVal(attrs)
}

func TestDecode(t *testing.T) {
	owner := "mail"
	wantHost := Host{Name: "old", Transport: "ssh", Address: "192.0.2.1", Port: 22, User: "root", KnownHosts: "/k"}
	tests := []struct {
		name string
		v    cty.Value
		want testConfig
	}{
		{
			name: "nulls",
			v:    testValue(map[string]cty.Value{"host": testHost()}),
			want: testConfig{testShared: testShared{wantHost}, Name: "default", Reload: true, Raw: cty.NullVal(cty.Number)},
		},
		{
			name: "null keeps a default",
			v:    testValue(map[string]cty.Value{"host": testHost(), "reload": cty.False}),
			want: testConfig{testShared: testShared{wantHost}, Name: "default", Raw: cty.NullVal(cty.Number)},
		},
		{
			name: "values",
			v: testValue(map[string]cty.Value{
				"host": testHost(), "name": cty.StringVal("n"), "owner": cty.StringVal("mail"), "reload": cty.True,
				"count": cty.NumberFloatVal(1.5),
				"args":  cty.ListVal([]cty.Value{cty.StringVal("a"), cty.NullVal(cty.String)}),
				"globs": cty.ListVal([]cty.Value{cty.NullVal(cty.String), cty.StringVal("**")}),
				"entries": cty.ListVal([]cty.Value{
					cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal("k"), "value": cty.NullVal(cty.String)}),
					cty.NullVal(testEntryType),
				}),
				"params": cty.MapVal(map[string]cty.Value{"a": cty.StringVal("1"), "b": cty.NullVal(cty.String)}),
				"raw":    cty.NumberIntVal(7),
				"nested": cty.MapValEmpty(testEntryType),
			}),
			want: testConfig{
				testShared: testShared{wantHost}, Name: "n", Owner: &owner, Reload: true, Count: big.NewFloat(1.5),
				Args: []string{"a", ""}, Globs: []*string{nil, ptr("**")},
				Entries: []testEntry{{Key: "k"}, {}}, Params: map[string]string{"a": "1", "b": ""},
				Raw: cty.NumberIntVal(7), Nested: map[string]testEntry{},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := testConfig{Name: "default", Reload: true}
			if err := Decode(tc.v.Mark("sensitive"), &got); err != nil {
				t.Fatal(err)
			}
			opts := cmp.Options{
				cmp.AllowUnexported(testConfig{}),
				cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) }),
				cmp.Comparer(func(a, b *big.Float) bool { return (a == nil) == (b == nil) && (a == nil || a.Cmp(b) == 0) }),
			}
			if diff := cmp.Diff(tc.want, got, opts); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestDecodeErrors(t *testing.T) {
	type small struct {
		Name string `cty:"name"`
		Port int    `cty:"port"`
	}
	type withHost struct {
		Host Host `cty:"host"`
	}
	obj := func(attrs map[string]cty.Value) cty.Value { return cty.ObjectVal(attrs) }
	tests := []struct {
		name string
		v    cty.Value
		into any
		want string
	}{
		{"null", cty.NullVal(cty.Object(map[string]cty.Type{"name": cty.String})), &small{}, "configuration is null or not known"},
		{"unknown", obj(map[string]cty.Value{"name": cty.UnknownVal(cty.String), "port": cty.Zero}), &small{}, "configuration is null or not known"},
		{"missing field", obj(map[string]cty.Value{"name": cty.StringVal("a"), "port": cty.Zero, "extra": cty.True}), &small{}, `no field for attribute "extra"`},
		{"missing attribute", obj(map[string]cty.Value{"name": cty.StringVal("a")}), &small{}, `no attribute "port"`},
		{"not whole", obj(map[string]cty.Value{"name": cty.StringVal("a"), "port": cty.NumberFloatVal(1.5)}), &small{}, "port: "},
		{"no host", obj(map[string]cty.Value{"host": cty.NullVal(HostType)}), &withHost{}, "host: no host given"},
		{"not a pointer", obj(map[string]cty.Value{"name": cty.StringVal("a")}), small{}, "want a pointer to a struct"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Decode(tc.v, tc.into)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestDecodeAttr(t *testing.T) {
	var es []testEntry
	if err := DecodeAttr(cty.ListValEmpty(testEntryType), &es); err != nil || es == nil || len(es) != 0 {
		t.Errorf("empty list: %#v, %v; want an empty slice that is not nil", es, err)
	}
	v := cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"key": cty.NullVal(cty.String), "value": cty.StringVal("v")})})
	if err := DecodeAttr(v, &es); err != nil || !cmp.Equal(es, []testEntry{{Value: "v"}}) {
		t.Errorf("list: %#v, %v", es, err)
	}
	if err := DecodeAttr(cty.UnknownVal(cty.String), new(string)); err == nil {
		t.Error("unknown value decoded")
	}
}

func TestKnown(t *testing.T) {
	cfg := cty.ObjectVal(map[string]cty.Value{
		"set": cty.StringVal("a"), "null": cty.NullVal(cty.String), "unknown": cty.UnknownVal(cty.String),
		"partly": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.UnknownVal(cty.String)}),
	}).Mark("sensitive")
	for name, want := range map[string]bool{"set": true, "null": false, "unknown": false, "partly": false} {
		if v, ok := Known(cfg, name); ok != want || (ok && v.IsMarked()) {
			t.Errorf("Known(%s) = %#v, %v; want %v, unmarked", name, v, ok, want)
		}
	}
	if _, ok := Known(cty.NullVal(cty.Object(map[string]cty.Type{"set": cty.String})), "set"); ok {
		t.Error("Known on a null configuration")
	}
	if _, ok := Known(cty.UnknownVal(cty.Object(map[string]cty.Type{"set": cty.String})), "set"); ok {
		t.Error("Known on an unknown configuration")
	}
}

func TestCheckStruct(t *testing.T) {
	if err := CheckStruct(testSchema, testConfig{}); err != nil {
		t.Errorf("CheckStruct: %v", err)
	}
	if err := CheckStruct(testSchema, &testConfig{}); err != nil {
		t.Errorf("CheckStruct with a pointer: %v", err)
	}
	type drifted struct {
		Name  string `cty:"name"`
		Extra string `cty:"extra"`
	}
	s := &Schema{Attributes: map[string]*Attribute{"name": {Type: cty.String}, "gone": {Type: cty.String}}}
	err := CheckStruct(s, drifted{})
	want := `resource.drifted and the schema differ: attribute "gone" has no field; field tagged "extra" is no attribute`
	if err == nil || err.Error() != want {
		t.Errorf("CheckStruct = %v, want %s", err, want)
	}
}

func TestHostKey(t *testing.T) {
	tests := []struct {
		h    Host
		want string
	}{
		{Host{Name: "a", Transport: "local", User: "root", Port: 22}, "local"},
		{Host{Name: "b", Transport: "ssh", User: "root", Address: "192.0.2.1", Port: 22}, "root@192.0.2.1:22"},
		{Host{Name: "c", Transport: "ssh", User: "mail", Address: "2001:db8::1", Port: 2222}, "mail@2001:db8::1:2222"},
	}
	for _, tc := range tests {
		if got := tc.h.Key(); got != tc.want {
			t.Errorf("%s.Key() = %q, want %q", tc.h, got, tc.want)
		}
	}
}
