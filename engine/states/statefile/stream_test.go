package statefile

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/states"
)

// TestEncodeShapeLastApply: a change is one line; the last apply's own
// fields and the outputs' are one a line each, as
// `sed 's/"status": "applied"/…/'` finds them.
func TestEncodeShapeLastApply(t *testing.T) {
	s := states.NewState("L")
	s.Serial = 1
	s.Outputs = map[string]*states.Output{"o": {Value: json.RawMessage(`"v"`), Type: json.RawMessage(`"string"`)}}
	s.LastApply = &states.Apply{ID: "a", Operation: states.OperationApply, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Status: states.StatusApplied, Changes: []*states.Change{{Addr: "file.a", Type: "file", Action: states.ActionCreate, Config: json.RawMessage(`{"p":"a b"}`), Done: true}}}
	got, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "serial": 1,
  "lineage": "L",
  "resources": {},
  "outputs": {
    "o": {
      "value": "v",
      "type": "string"
    }
  },
  "last_apply": {
    "id": "a",
    "operation": "apply",
    "started": "2026-01-02T03:04:05Z",
    "finished": "0001-01-01T00:00:00Z",
    "status": "applied",
    "changes": [
      {"addr":"file.a","type":"file","action":"create","config":{"p":"a b"},"before":null,"done":true}
    ]
  }
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
}

// indented is s as mailplan wrote state files before it wrote them
// compact.
func indented(t *testing.T, s *states.State) []byte {
	t.Helper()
	out := *s
	out.Version = states.FormatVersion
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestDecodeIndented: a state file written indented (every mailplan
// before the compact layout) reads as the state it was, and is written
// back in the new layout.
func TestDecodeIndented(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    *states.State
	}{
		{"new", states.NewState("lineage-1")},
		{"full", full()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old := indented(t, tt.s)
			got, err := Decode(old)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.s, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
			fromReader, err := DecodeFrom(bytes.NewReader(old))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.s, fromReader); diff != "" {
				t.Errorf("DecodeFrom (-want +got):\n%s", diff)
			}
			want, err := Encode(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Encode(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(again)); diff != "" {
				t.Errorf("re-encoding (-want +got):\n%s", diff)
			}
			if len(want) > len(old) {
				t.Errorf("new layout is %d bytes, the indented one %d", len(want), len(old))
			}
		})
	}
}

// TestDecodeStreamAgrees: the streaming decoder either hands a document to
// the careful one or returns exactly what the careful one would.
func TestDecodeStreamAgrees(t *testing.T) {
	full, err := Encode(full())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		in     string
		stream bool // the streaming decoder takes it
	}{
		{"full", string(full), true},
		{"empty lists", `{"version":1,"lineage":"L","resources":{},"last_apply":{"changes":[],"continued":[]}}`, true},
		{"nulls", `{"version":1,"lineage":"L","resources":null,"outputs":null,"last_apply":{"changes":null}}`, true},
		{"null last apply", `{"lineage":"L","last_apply":null,"version":1}`, true},
		{"repeated resource", `{"version":1,"lineage":"L","resources":{"a.b":{"addr":"x"},"a.b":{"addr":"a.b"}}}`, true},
		{"repeated key", `{"version":1,"lineage":"L","lineage":"M"}`, false},
		{"key in other case", `{"Version":1,"lineage":"L"}`, false},
		{"unknown field in a change", `{"version":1,"lineage":"L","last_apply":{"changes":[{"color":1}]}}`, false},
		{"resources not an object", `{"version":1,"lineage":"L","resources":[]}`, false},
		{"no version", `{"lineage":"L"}`, false},
		{"future version", `{"version":2,"lineage":"L"}`, false},
		{"trailing data", `{"version":1,"lineage":"L"} {}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := decodeStream(strings.NewReader(tt.in))
			if ok != tt.stream {
				t.Fatalf("decodeStream ok = %v, want %v", ok, tt.stream)
			}
			whole, wholeErr := decodeWhole([]byte(tt.in))
			dec, decErr := Decode([]byte(tt.in))
			if (wholeErr == nil) != (decErr == nil) || wholeErr != nil && wholeErr.Error() != decErr.Error() {
				t.Fatalf("Decode: %v, careful path: %v", decErr, wholeErr)
			}
			if diff := cmp.Diff(whole, dec); diff != "" {
				t.Errorf("Decode and the careful path differ (-careful +Decode):\n%s", diff)
			}
			if !ok {
				return
			}
			fin, err := finish(got)
			if (err == nil) != (wholeErr == nil) {
				t.Fatalf("streamed: %v, careful path: %v", err, wholeErr)
			}
			if diff := cmp.Diff(whole, fin); diff != "" {
				t.Errorf("streamed and careful differ (-careful +streamed):\n%s", diff)
			}
		})
	}
}

// TestDecodeFromErrors: DecodeFrom says what Decode says.
func TestDecodeFromErrors(t *testing.T) {
	for _, in := range []string{"", "{\n \"version\": 1,\n \"serial\": ,\n}", `{"version": 2}`, `{"version": 1, "lineage": "L", "color": 1}`} {
		_, want := Decode([]byte(in))
		_, got := DecodeFrom(strings.NewReader(in))
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("DecodeFrom(%q) = %v, Decode: %v", in, got, want)
		}
	}
}

// TestDecodeShares: a change whose configuration, result and snapshot
// are the instance's record holds the record's bytes, not a copy.
func TestDecodeShares(t *testing.T) {
	s := states.NewState("L")
	s.Resources["file.a"] = &states.Resource{Addr: "file.a", Type: "file", Config: json.RawMessage(`{"p":1}`), Result: json.RawMessage(`{"p":1,"m":2}`), Original: []byte("o")}
	s.LastApply = &states.Apply{ID: "a", Status: states.StatusApplied, Changes: []*states.Change{
		{Addr: "file.a", Type: "file", Action: states.ActionCreate, Config: json.RawMessage(`{"p":1}`), Before: []byte("o"), After: json.RawMessage(`{"p":1,"m":2}`), Done: true},
	}}
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	r, c := got.Resources["file.a"], got.LastApply.Changes[0]
	for _, p := range []struct {
		name string
		a, b []byte
	}{{"config", r.Config, c.Config}, {"result", r.Result, c.After}, {"original", r.Original, c.Before}} {
		if &p.a[0] != &p.b[0] || cap(p.a) != len(p.a) {
			t.Errorf("%s: not shared (or not clipped)", p.name)
		}
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

// TestEncodeLaidOut: marshalling the resources and the changes one at a
// time writes what laying out the whole state's compact JSON writes.
func TestEncodeLaidOut(t *testing.T) {
	running := full()
	running.LastApply.Changes = nil
	empty := full()
	empty.LastApply.Changes = []*states.Change{}
	empty.Resources = map[string]*states.Resource{}
	odd := full()
	odd.Resources["file.<&>\"x\""] = &states.Resource{Addr: "file.<&>\"x\"", Type: "file", Config: json.RawMessage(`{"a":"<b>","resources":null}`)}
	odd.Outputs["resources"] = &states.Output{Value: json.RawMessage(`null`), Type: json.RawMessage(`"string"`)}
	odd.LastApply.PriorOutputs = map[string]*states.Output{"changes": {Sensitive: true}}
	for _, tt := range []struct {
		name string
		s    *states.State
	}{
		{"new", states.NewState("L")},
		{"full", full()},
		{"no changes", running},
		{"empty", empty},
		{"odd names", odd},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := *tt.s
			out.Version = states.FormatVersion
			whole, err := json.Marshal(&out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeLaidOut(&out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(layout(whole, nil)), string(got)); diff != "" {
				t.Errorf("(-whole +one at a time):\n%s", diff)
			}
		})
	}
}
