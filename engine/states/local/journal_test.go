package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailplan/mailplan/engine/states"
)

// A crash after journal records were appended, before the state was
// written: the next Read replays them once; a Write folds them in.
func TestJournalReplay(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	for _, existing := range []bool{false, true} {
		os.Remove(path)
		os.Remove(path + ".journal")
		b := New(path, nil)
		st, err := b.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if existing {
			if err := b.Write(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		recs := []*states.Record{
			{Op: "begin", Apply: &states.Apply{ID: "x", Status: "running"}},
			{Op: "change", Change: &states.Change{Addr: "file.a", Type: "file", Before: []byte("snap")}},
			{Op: "entry", Index: 0, Entry: []byte("undo-1")},
			{Op: "done", Index: 0, Addr: "file.a", Resource: &states.Resource{Addr: "file.a", Type: "file"}, After: []byte(`{"a":1}`)},
		}
		for _, r := range recs {
			r.Lineage, r.Serial = st.Lineage, st.Serial
			if err := b.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		// A torn last line, as a crash during an append leaves.
		f, _ := os.OpenFile(path+".journal", os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(`{"op":"cha`)
		f.Close()

		b2 := New(path, nil)
		got, err := b2.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Lineage != st.Lineage || got.LastApply == nil || len(got.LastApply.Changes) != 1 ||
			string(got.LastApply.Changes[0].Journal[0]) != "undo-1" || !got.LastApply.Changes[0].Done || got.Resources["file.a"] == nil {
			t.Fatalf("existing=%v: replayed state = %+v", existing, got)
		}
		if err := b2.Write(ctx, got); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path + ".journal"); err != nil || fi.Size() != 0 {
			t.Errorf("journal not truncated after write: %v", err)
		}
		again, err := New(path, nil).Read(ctx)
		if err != nil || len(again.LastApply.Changes) != 1 {
			t.Errorf("existing=%v: records replayed twice: %+v %v", existing, again.LastApply, err)
		}
	}
}
