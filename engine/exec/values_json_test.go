package exec

import (
	"math/big"
	"testing"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/resource"
)

// TestAppendJSON: appendJSON writes what ctyjson.Marshal writes, byte for
// byte, or says it cannot.
func TestAppendJSON(t *testing.T) {
	obj := cty.Object(map[string]cty.Type{"s": cty.String, "n": cty.Number, "b": cty.Bool, "l": cty.List(cty.String)})
	tests := []struct {
		name string
		v    cty.Value
		t    cty.Type
		ok   bool
	}{
		{"plain string", cty.StringVal("file 0\n"), cty.String, true},
		{"escapes", cty.StringVal("a\"b\\c\td\re\nf"), cty.String, true},
		{"html", cty.StringVal("<a&b>"), cty.String, true},
		{"control", cty.StringVal("\x00\x01\x7f\b\f"), cty.String, true},
		{"unicode", cty.StringVal("é\u2028☃"), cty.String, true},
		{"empty", cty.StringVal(""), cty.String, true},
		{"null string", cty.NullVal(cty.String), cty.String, true},
		{"int", cty.NumberIntVal(22), cty.Number, true},
		{"negative", cty.NumberIntVal(-7), cty.Number, true},
		{"zero", cty.NumberIntVal(0), cty.Number, true},
		{"fraction", cty.NumberFloatVal(1.5), cty.Number, false},
		{"huge", cty.NumberVal(new(big.Float).SetMantExp(big.NewFloat(1), 100)), cty.Number, false},
		{"bools", cty.ListVal([]cty.Value{cty.True, cty.False}), cty.List(cty.Bool), true},
		{"object", cty.ObjectVal(map[string]cty.Value{"s": cty.StringVal("x"), "n": cty.NumberIntVal(1), "b": cty.True, "l": cty.ListValEmpty(cty.String)}), obj, true},
		{"object with nulls", cty.ObjectVal(map[string]cty.Value{"s": cty.NullVal(cty.String), "n": cty.NullVal(cty.Number), "b": cty.NullVal(cty.Bool), "l": cty.NullVal(cty.List(cty.String))}), obj, true},
		{"map", cty.MapVal(map[string]cty.Value{"z": cty.StringVal("1"), "a<": cty.StringVal("2")}), cty.Map(cty.String), true},
		{"set", cty.SetVal([]cty.Value{cty.StringVal("b"), cty.StringVal("a")}), cty.Set(cty.String), true},
		{"tuple", cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(3)}), cty.Tuple([]cty.Type{cty.String, cty.Number}), true},
		{"nested", cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"m": cty.MapValEmpty(cty.Number)})}), cty.List(cty.Object(map[string]cty.Type{"m": cty.Map(cty.Number)})), true},
		{"dynamic", cty.StringVal("x"), cty.DynamicPseudoType, false},
		{"unknown", cty.UnknownVal(cty.String), cty.String, false},
		{"unknown inside", cty.ListVal([]cty.Value{cty.UnknownVal(cty.String)}), cty.List(cty.String), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := appendJSON([]byte("prefix"), tt.v, tt.t, false)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			want, err := ctyjson.Marshal(tt.v, tt.t)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+string(want) {
				t.Errorf("got  %s\nwant prefix%s", got, want)
			}
		})
	}
}

// TestAppendJSONMarks: a marked value is refused, or written as if
// unmarked when asked.
func TestAppendJSONMarks(t *testing.T) {
	ty := cty.Object(map[string]cty.Type{"a": cty.String, "b": cty.List(cty.String)})
	v := cty.ObjectVal(map[string]cty.Value{
		"a": cty.StringVal("s").Mark(lang.Sensitive),
		"b": cty.ListVal([]cty.Value{cty.StringVal("x").Mark(lang.Sensitive)}),
	})
	if _, ok := appendJSON(nil, v, ty, false); ok {
		t.Error("a marked value was written")
	}
	got, ok := appendJSON(nil, v.Mark(lang.Sensitive), ty, true)
	if !ok {
		t.Fatal("not written with unmark")
	}
	want, err := ctyjson.Marshal(resource.Unmarked(v), ty)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got %s, want %s", got, want)
	}
	if digest(v, ty) != digest(resource.Unmarked(v), ty) {
		t.Error("digest depends on marks")
	}
}

// TestSameAsRecorded: the live value stands for the record only when its
// JSON is the record's.
func TestSameAsRecorded(t *testing.T) {
	ty := cty.Object(map[string]cty.Type{"a": cty.String, "n": cty.Number})
	v := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "n": cty.NumberFloatVal(0.5)})
	raw, err := ctyjson.Marshal(v, ty)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		v         cty.Value
		raw       string
		sensitive []string
		want      bool
	}{
		{"same (through ctyjson: a fraction)", v, string(raw), nil, true},
		{"other value", v, `{"a":"y","n":0.5}`, nil, false},
		{"sensitive recorded", v, string(raw), []string{"a"}, false},
		{"marked", cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x").Mark(lang.Sensitive), "n": cty.NumberFloatVal(0.5)}), string(raw), nil, false},
		{"whole number", cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "n": cty.NumberIntVal(2)}), `{"a":"x","n":2}`, nil, true},
		{"other type", cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x")}), `{"a":"x"}`, nil, false},
		{"no record", v, ``, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sameAsRecorded(tt.v, []byte(tt.raw), tt.sensitive, ty)
			if ok != tt.want {
				t.Fatalf("ok = %v, want %v", ok, tt.want)
			}
			if ok && !got.RawEquals(tt.v) {
				t.Errorf("got %#v", got)
			}
		})
	}
}

// FuzzAppendJSONString: strings are written as encoding/json writes them.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a b", "\n\t\r\"\\", "<>&", "\xff", "é\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := ctyjson.Marshal(cty.StringVal(s), cty.String)
		if err != nil {
			t.Skip()
		}
		got, ok := appendJSON(nil, cty.StringVal(s), cty.String, false)
		if !ok || string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	})
}
