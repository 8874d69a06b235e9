package statefile

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/states"
)

func full() *states.State {
	started := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	prior := &states.Resource{
		Addr:   "postfix_map.virtual",
		Type:   "postfix_map",
		Config: json.RawMessage(`{"entries":{"a@example.org":"a"}}`),
		Result: json.RawMessage(`{"entries":{"a@example.org":"a"},"path":"/etc/postfix/virtual"}`),
	}
	return &states.State{
		Version: states.FormatVersion,
		Serial:  7,
		Lineage: "5b0e3c54-8f0a-4a8e-9c3a-0d4b8d3b6a11",
		Resources: map[string]*states.Resource{
			"postfix_map.virtual": {
				Addr:      "postfix_map.virtual",
				Type:      "postfix_map",
				Config:    json.RawMessage(`{"entries":{"a@example.org":"b"},"password":null}`),
				Result:    json.RawMessage(`{"entries":{"a@example.org":"b"},"path":"/etc/postfix/virtual"}`),
				Sensitive: []string{"password"},
				Original:  []byte("a@example.org a\n"),
				Deps:      []string{"file.main_cf"},
			},
			"module.dns[\"example.org\"].mx_record.mx": {
				Addr:     "module.dns[\"example.org\"].mx_record.mx",
				Type:     "mx_record",
				Config:   json.RawMessage(`{"ttl":300}`),
				Original: []byte{},
				Wait: &states.Wait{
					Until:  started.Add(time.Hour),
					Reason: "old MX TTL 3600s",
					Resume: []byte{0, 1, 2, 255},
				},
			},
		},
		Outputs: map[string]*states.Output{
			"mx":     {Value: json.RawMessage(`"mx.example.org."`), Type: json.RawMessage(`"string"`)},
			"secret": {Sensitive: true},
		},
		LastApply: &states.Apply{
			ID:        "apply-1",
			Operation: "apply",
			Started:   started,
			Finished:  started.Add(time.Minute),
			Status:    "applied",
			Changes: []*states.Change{{
				Addr:    "postfix_map.virtual",
				Type:    "postfix_map",
				Action:  "update",
				Config:  json.RawMessage(`{"entries":{"a@example.org":"b"}}`),
				Before:  []byte("a@example.org a\n"),
				Journal: [][]byte{[]byte("step 1"), []byte("step 2")},
				After:   json.RawMessage(`{"entries":{"a@example.org":"b"}}`),
				Done:    true,
				Prior:   prior,
			}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    *states.State
	}{
		{"new", states.NewState("lineage-1")},
		{"full", full()},
		{"running apply", func() *states.State {
			s := full()
			s.LastApply.Status = "running"
			s.LastApply.Finished = time.Time{}
			s.LastApply.Changes[0].Done = false
			s.LastApply.Changes[0].After = nil
			s.LastApply.Changes[0].Prior = nil
			return s
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v\n%s", err, b)
			}
			if diff := cmp.Diff(tt.s, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			again, err := Encode(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(b), string(again)); diff != "" {
				t.Errorf("second encoding differs (-first +second):\n%s", diff)
			}
		})
	}
}

func TestEncodeShape(t *testing.T) {
	s := states.NewState("L")
	s.Version = 0 // ignored: Encode writes the current version
	s.Serial = 2
	s.Resources["file.b"] = &states.Resource{Addr: "file.b", Type: "file", Config: json.RawMessage(`{"x":1}`)}
	s.Resources["file.a"] = &states.Resource{Addr: "file.a", Type: "file"}
	got, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "serial": 2,
  "lineage": "L",
  "resources": {
    "file.a": {"addr":"file.a","type":"file","config":null,"result":null,"original":null},
    "file.b": {"addr":"file.b","type":"file","config":{"x":1},"result":null,"original":null}
  }
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	if s.Version != 0 {
		t.Error("Encode modified its argument")
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		s    *states.State
		want string
	}{
		{"nil", nil, "encode state: no state"},
		{"no lineage", &states.State{}, "encode state: state has no lineage"},
		{"address mismatch", &states.State{Lineage: "L", Resources: map[string]*states.Resource{"a.b": {Addr: "a.c"}}},
			`encode state: resource "a.b" has address "a.c"`},
		{"bad embedded json", &states.State{Lineage: "L", Resources: map[string]*states.Resource{"a.b": {Addr: "a.b", Config: json.RawMessage(`{`)}}},
			"encode state: json: error calling MarshalJSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(tt.s)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		version bool // errors.Is(err, ErrUnsupportedVersion)
	}{
		{name: "empty", in: "", want: "decode state: input is empty"},
		{name: "blank", in: " \n\t", want: "decode state: input is empty"},
		{name: "not json", in: "lineage = 1\n", want: "decode state: line 1, column 1: invalid character 'l'"},
		{name: "corrupt on line 3", in: "{\n \"version\": 1,\n \"serial\": ,\n}", want: "decode state: line 3, column 12: invalid character ','"},
		{name: "truncated", in: `{"version": 1, "serial": 3, "lin`, want: "decode state: input ends in the middle of the JSON document (truncated?)"},
		{name: "array", in: `[1]`, want: "decode state: the document is a JSON array, not an object"},
		{name: "string", in: `"x"`, want: "decode state: the document is a JSON string, not an object"},
		{name: "no version", in: `{"serial": 1, "lineage": "L"}`, want: `decode state: no "version" field`},
		{name: "version not a number", in: `{"version": "1"}`, want: `decode state: "version" is "1", not a whole number`},
		{name: "future version", in: `{"version": 2, "something": "new"}`, version: true,
			want: "decode state: format version 2 is newer than the newest this mailplan reads (1); upgrade mailplan"},
		{name: "version zero", in: `{"version": 0}`, version: true, want: "decode state: format version 0"},
		{name: "unknown field", in: `{"version": 1, "lineage": "L", "resources": {}, "color": "red"}`,
			want: `decode state: json: unknown field "color"`},
		{name: "wrong type", in: `{"version": 1, "lineage": "L", "serial": -1}`,
			want: "decode state: line 1, column 43: json: cannot unmarshal number -1 into Go struct field State.serial of type uint64"},
		{name: "trailing data", in: `{"version": 1, "lineage": "L"} {}`, want: "decode state: line 1, column 32: invalid character '{' after top-level value"},
		{name: "no lineage", in: `{"version": 1, "serial": 1}`, want: "decode state: state has no lineage"},
		{name: "null resource", in: `{"version": 1, "lineage": "L", "resources": {"file.a": null}}`, want: `decode state: resource "file.a" is null`},
		{name: "address mismatch", in: `{"version": 1, "lineage": "L", "resources": {"file.a": {"addr": "file.b"}}}`,
			want: `decode state: resource "file.a" has address "file.b"`},
		{name: "null change", in: `{"version": 1, "lineage": "L", "last_apply": {"changes": [null]}}`, want: "decode state: last apply: change 0 is null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("got state %+v, want an error", s)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got  %q\nwant %q...", err, tt.want)
			}
			if got := errors.Is(err, ErrUnsupportedVersion); got != tt.version {
				t.Errorf("errors.Is(err, ErrUnsupportedVersion) = %v, want %v", got, tt.version)
			}
		})
	}
}

func TestDecodeNormalizes(t *testing.T) {
	in := `{"version": 1, "serial": 1, "lineage": "L", "resources": {"file.a": {"addr": "file.a", "type": "file",
	  "config": { "a" : [1, 2] }, "result": null}}}`
	s, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &states.State{Version: 1, Serial: 1, Lineage: "L", Resources: map[string]*states.Resource{
		"file.a": {Addr: "file.a", Type: "file", Config: json.RawMessage(`{"a":[1,2]}`)},
	}}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}
