package pg

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/states"
)

// testIndentedRow: a state stored indented throughout, as mailplan wrote
// every state before it wrote resources and changes one compact line
// each, reads as the state it was, and is written back in the new layout.
func testIndentedRow(t *testing.T, srv *server) {
	b := srv.open(t, "default")
	s, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Resources["file.a"] = &states.Resource{Addr: "file.a", Type: "file", Config: json.RawMessage(`{"path":"/etc/a","mode":"0644"}`),
		Result: json.RawMessage(`{"path":"/etc/a","mode":"0644"}`), Original: []byte("snapshot")}
	s.LastApply = &states.Apply{ID: "a1", Operation: states.OperationApply, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Status: states.StatusApplied,
		Changes: []*states.Change{{Addr: "file.a", Type: "file", Action: states.ActionCreate, Config: json.RawMessage(`{"path":"/etc/a","mode":"0644"}`),
			Before: []byte("snapshot"), After: json.RawMessage(`{"path":"/etc/a","mode":"0644"}`), Done: true}}}
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	old, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, "UPDATE "+b.q.states+" SET state = $2 WHERE workspace = $1", "default", string(old)+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := srv.open(t, "default").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("read of an indented row (-want +got):\n%s", diff)
	}
	b2 := srv.open(t, "default")
	again, err := b2.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Write(ctx, again); err != nil {
		t.Fatal(err)
	}
	var row string
	if err := b.pool.QueryRow(ctx, "SELECT state FROM "+b.q.states+" WHERE workspace = $1", "default").Scan(&row); err != nil {
		t.Fatal(err)
	}
	if len(row) >= len(old) {
		t.Errorf("rewritten row is %d bytes, the indented one %d:\n%s", len(row), len(old), row)
	}
}
