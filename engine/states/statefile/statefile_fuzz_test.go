package statefile

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mailplan/mailplan/engine/states"
)

// FuzzDecode feeds Decode arbitrary bytes: it must return a state or an
// error, never panic, and a state it accepts must encode, and that encoding
// decode to a state that encodes to the same bytes (what Write relies on
// when it writes back a state it read).
func FuzzDecode(f *testing.F) {
	s := states.NewState("5d1e0c2e-seed")
	s.Serial = 3
	s.Resources["file.a"] = &states.Resource{Addr: "file.a", Type: "file", Config: []byte(`{"path":"/etc/a"}`), Original: []byte("snap")}
	s.Outputs = map[string]*states.Output{"o": {Sensitive: true, Digest: "hmac-sha256:00"}, "p": {Value: []byte(`"v"`), Type: []byte(`"string"`)}}
	s.LastApply = &states.Apply{ID: "x", Operation: "apply", Status: states.StatusRunning, Changes: []*states.Change{{Addr: "file.a", Type: "file", Action: "update", Before: []byte("b")}}}
	good, err := Encode(s)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		good,
		[]byte(`{"version":1,"lineage":"l"}`),
		[]byte(`{"version":1,"lineage":"l","resources":{"a":null}}`),
		[]byte(`{"version":1,"lineage":"l","last_apply":{"changes":[null]}}`),
		[]byte(`{"version":2}`),
		[]byte(`[1]`),
		[]byte(`{"version":1,"lineage":"l"}{}`),
		[]byte(`{"version":1,"lineage":"l","outputs":{"o":{"value":[1,2],"type":["tuple",["number","number"]]}}}`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(s)
		if err != nil {
			t.Fatalf("Decode accepted a state that Encode refuses: %v", err)
		}
		whole, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if w := layout(whole, nil); !bytes.Equal(enc, w) {
			t.Fatalf("Encode differs from the whole state laid out:\n%s\n---\n%s", enc, w)
		}
		s2, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode refuses what Encode wrote: %v\n%s", err, enc)
		}
		enc2, err := Encode(s2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n---\n%s", enc, enc2)
		}
	})
}

// FuzzDecodeStream: whatever the streaming decoder accepts, the careful
// one accepts too, as the same state.
func FuzzDecodeStream(f *testing.F) {
	s := states.NewState("5d1e0c2e-seed")
	s.Resources["file.a"] = &states.Resource{Addr: "file.a", Type: "file", Config: []byte(`{"path":"/etc/a"}`)}
	s.LastApply = &states.Apply{ID: "x", Status: states.StatusApplied, Changes: []*states.Change{{Addr: "file.a", Config: []byte(`{"path":"/etc/a"}`), Done: true}}}
	good, err := Encode(s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"lineage":"l","resources":null,"last_apply":{"changes":[]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeStream(bytes.NewReader(b))
		if !ok {
			return
		}
		whole, err := decodeWhole(b)
		if err != nil {
			if _, ferr := finish(got); ferr == nil {
				t.Fatalf("streamed %q, which the careful path refuses: %v", b, err)
			}
			return
		}
		fin, err := finish(got)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := Encode(whole)
		c, _ := Encode(fin)
		if !bytes.Equal(a, c) {
			t.Fatalf("streamed and careful differ:\n%s\n---\n%s", c, a)
		}
	})
}
