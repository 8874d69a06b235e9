package states

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The journal's words are its format: journals written by earlier
// versions must still replay, so a constant may never change its value.
func TestJournalWordsAreTheFormat(t *testing.T) {
	got := map[string]string{
		string(OpBegin): "begin", string(OpContinue): "continue", string(OpMoved): "moved", string(OpChange): "change",
		string(OpEntry): "entry", string(OpDone): "done", string(OpRestoring): "restoring", string(OpRestored): "restored",
		string(OpResource): "resource", string(OpStatus): "status",
		string(ActionCreate): "create", string(ActionUpdate): "update", string(ActionDelete): "delete",
		string(ActionResume): "resume", string(ActionAdopt): "adopt", string(ActionForget): "forget",
		StatusRunning: "running", StatusApplied: "applied", StatusKept: "kept", StatusIncomplete: "incomplete",
		StatusRolledBack: "rolled_back", StatusRollbackFailed: "rollback_failed",
		OperationApply: "apply", OperationDestroy: "destroy",
	}
	for k, v := range got {
		if k != v {
			t.Errorf("constant %q, want %q", k, v)
		}
	}
}

// A journal as an earlier version wrote it (zero times included: omitempty
// does not leave out a time.Time) replays to the same state, and
// its records encode to the same bytes.
func TestOldJournalReplays(t *testing.T) {
	lines := []string{
		`{"lineage":"l","serial":1,"op":"begin","apply":{"id":"x","operation":"apply","started":"2026-01-02T03:04:05Z","finished":"0001-01-01T00:00:00Z","status":"running","changes":[]},"finished":"0001-01-01T00:00:00Z","started":"0001-01-01T00:00:00Z"}`,
		`{"lineage":"l","serial":1,"op":"change","change":{"addr":"file.a","type":"file","action":"update","config":{"p":1},"before":"c25hcA==","done":false},"finished":"0001-01-01T00:00:00Z","started":"0001-01-01T00:00:00Z"}`,
		`{"lineage":"l","serial":1,"op":"entry","entry":"dW5kbw==","finished":"0001-01-01T00:00:00Z","started":"0001-01-01T00:00:00Z"}`,
		`{"lineage":"l","serial":1,"op":"done","after":{"p":2},"addr":"file.a","resource":{"addr":"file.a","type":"file","config":{"p":1},"result":{"p":2},"original":null},"finished":"0001-01-01T00:00:00Z","started":"0001-01-01T00:00:00Z"}`,
		`{"lineage":"l","serial":1,"op":"restoring","finished":"0001-01-01T00:00:00Z","started":"0001-01-01T00:00:00Z"}`,
		`{"lineage":"l","serial":1,"op":"restored","addr":"file.a","finished":"0001-01-01T00:00:00Z","started":"0001-01-01T00:00:00Z"}`,
		`{"lineage":"l","serial":1,"op":"moved","addr":"file.b","finished":"0001-01-01T00:00:00Z","started":"0001-01-01T00:00:00Z","to":"file.c"}`,
		`{"lineage":"l","serial":1,"op":"continue","status":"destroy","finished":"0001-01-01T00:00:00Z","started":"2026-01-02T03:04:06Z"}`,
		`{"lineage":"l","serial":1,"op":"status","status":"rolled_back","finished":"2026-01-02T03:04:07Z","started":"0001-01-01T00:00:00Z"}`,
	}
	s := NewState("l")
	s.Resources["file.b"] = &Resource{Addr: "file.b", Type: "file"}
	for _, l := range lines {
		var rec Record
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(&rec)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(l, string(b)); diff != "" {
			t.Errorf("record encodes differently (-old +now):\n%s", diff)
		}
		if err := s.Replay(&rec); err != nil {
			t.Fatalf("replay %s: %v", l, err)
		}
	}
	la := s.LastApply
	ch := la.Changes[0]
	if la.Status != StatusRolledBack || la.Operation != OperationDestroy || len(la.Continued) != 1 ||
		ch.Action != ActionUpdate || !ch.Done || !ch.Restoring || !ch.Restored || len(ch.Journal) != 1 ||
		!la.Finished.Equal(time.Date(2026, 1, 2, 3, 4, 7, 0, time.UTC)) {
		t.Errorf("replayed apply: %+v, change %+v", la, ch)
	}
	if _, ok := s.Resources["file.c"]; !ok || len(s.Resources) != 1 {
		t.Errorf("resources after replay: %v", s.Resources)
	}
}
