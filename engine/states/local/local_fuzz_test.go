package local

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/statefile"
)

// FuzzRead gives Read an arbitrary state file and journal. It must return
// a state or an error, never panic; reading twice gives the same answer
// (Read never writes); and a state it returns can be written back.
func FuzzRead(f *testing.F) {
	st := states.NewState("lin-seed")
	st.Serial = 2
	state, err := statefile.Encode(st)
	if err != nil {
		f.Fatal(err)
	}
	var journal []byte
	for _, r := range []*states.Record{
		{Op: "begin", Apply: &states.Apply{ID: "x", Status: states.StatusRunning}},
		{Op: "change", Change: &states.Change{Addr: "file.a", Type: "file", Action: "update", Before: []byte("snap")}},
		{Op: "entry", Index: 0, Entry: []byte("undo-1")},
		{Op: "done", Index: 0, Addr: "file.a", Resource: &states.Resource{Addr: "file.a", Type: "file"}, After: []byte(`{"a":1}`)},
		{Op: "restoring", Index: 0},
		{Op: "restored", Index: 0, Addr: "file.a"},
		{Op: "status", Status: states.StatusRolledBack},
		{Op: "moved", Addr: "file.a", To: "file.b"},
	} {
		r.Lineage, r.Serial = st.Lineage, st.Serial
		line, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		journal = append(append(journal, line...), '\n')
	}
	f.Add(state, journal)
	f.Add(state, append(journal, `{"op":"cha`...))
	f.Add([]byte(nil), journal)
	f.Add(state, []byte(`{"lineage":"lin-seed","serial":2,"op":"entry","index":7}`+"\n"))
	f.Add(state, []byte(`{"lineage":"lin-seed","serial":2,"op":"done","index":-1}`+"\n"))
	f.Add(state, []byte("null\n{}\n"))
	f.Add([]byte(`{"version":1,"lineage":"l"}`), []byte(`{"lineage":"l","serial":0,"op":"begin"}`+"\n"))
	f.Fuzz(func(t *testing.T, state, journal []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		if state != nil {
			if err := os.WriteFile(path, state, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path+".journal", journal, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		s1, err1 := New(path, nil).Read(ctx)
		s2, err2 := New(path, nil).Read(ctx)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("two reads differ: %v / %v", err1, err2)
		}
		if err1 != nil {
			if err1.Error() != err2.Error() {
				t.Fatalf("two reads fail differently: %v / %v", err1, err2)
			}
			return
		}
		if state == nil {
			// A new state has a fresh lineage unless the journal gave one.
			s2.Lineage = s1.Lineage
		}
		if d := cmp.Diff(s1, s2); d != "" {
			t.Fatalf("two reads differ (-first +second):\n%s", d)
		}
		if _, err := statefile.Encode(s1); err != nil {
			t.Fatalf("Read returned a state that cannot be written: %v", err)
		}
	})
}
