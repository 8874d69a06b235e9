// Package statetest is the conformance suite every state backend passes:
// one set of tests, run against the local backend and, on a real
// PostgreSQL, the pg backend, so that the engine can rely on the same
// behaviour whatever stores its state.
//
// It tests only what states' interfaces promise (and ReadRaw and Push,
// which every backend has for `state pull` and `state push`); what one
// backend adds — files and their modes, a journal's torn line, a killed
// lock holder — is tested beside it.
package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/statefile"
)

// Backend is what the suite needs of a backend. Workspaces and history
// are tested when it is also a states.Workspacer or states.Historian.
type Backend interface {
	states.Backend
	states.Journaler
	states.DigestKeyer
	// ReadRaw returns the stored state's JSON; without one, an error
	// matching fs.ErrNotExist.
	ReadRaw(ctx context.Context) ([]byte, error)
	// Push replaces the stored state (state push).
	Push(ctx context.Context, s *states.State, force bool) error
}

// Open returns a new Backend, on a storage of test t's own, for the named
// workspace: two calls with the same t and workspace are two runs on one
// state (two processes, as far as the backend can tell); other workspaces
// of the same t are beside it. The Backend is closed when t ends.
type Open func(t *testing.T, workspace string) Backend

// Run runs the suite, each case a subtest with storage of its own.
func Run(t *testing.T, open Open) {
	cases := []struct {
		name string
		test func(t *testing.T, open Open)
	}{
		{"RoundTrip", roundTrip},
		{"WriteRefusedAfterOtherWriter", writeRefused},
		{"FirstWritesRace", firstWritesRace},
		{"JournalReplayAndFold", journal},
		{"JournalOfFirstApply", journalFirstApply},
		{"JournalCorrupt", journalCorrupt},
		{"Push", push},
		{"Lock", lock},
		{"DigestKey", digestKey},
		{"Workspaces", workspaces},
		{"History", history},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.test(t, open) })
	}
}

var ctx = context.Background()

func withResource(s *states.State, addr string) *states.State {
	s.Resources[addr] = &states.Resource{Addr: addr, Type: "file", Config: json.RawMessage(`{"path":"/x"}`),
		Result: json.RawMessage(`{"path":"/x","mode":"0644"}`), Original: []byte("before")}
	return s
}

func read(t *testing.T, b Backend) *states.State {
	t.Helper()
	s, err := b.Read(ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return s
}

func write(t *testing.T, b Backend, s *states.State) {
	t.Helper()
	if err := b.Write(ctx, s); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// encoded is s as the state file format has it, for comparisons that
// ignore how empty maps and raw JSON are held in memory.
func encoded(t *testing.T, s *states.State) string {
	t.Helper()
	b, err := statefile.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func roundTrip(t *testing.T, open Open) {
	b := open(t, "default")
	s := read(t, b)
	if s.Serial != 0 || s.Lineage == "" || len(s.Resources) != 0 || s.LastApply != nil {
		t.Fatalf("new state: %+v", s)
	}
	if _, err := b.ReadRaw(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadRaw of no state: %v, want fs.ErrNotExist", err)
	}
	if other := read(t, open(t, "default")); other.Lineage == s.Lineage {
		t.Error("two new states share a lineage")
	}
	withResource(s, "file.a")
	withResource(s, "file.b")
	s.Outputs = map[string]*states.Output{"o": {Value: json.RawMessage(`"v"`), Type: json.RawMessage(`"string"`)}}
	write(t, b, s)
	if s.Serial != 1 {
		t.Errorf("serial after the first write %d, want 1", s.Serial)
	}
	got := read(t, open(t, "default"))
	if diff := cmp.Diff(encoded(t, s), encoded(t, got)); diff != "" {
		t.Errorf("another run reads (-written +read):\n%s", diff)
	}
	raw, err := b.ReadRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(encoded(t, s), string(raw)); diff != "" {
		t.Errorf("ReadRaw (-written +raw):\n%s", diff)
	}
	delete(s.Resources, "file.b")
	write(t, b, s)
	if s.Serial != 2 {
		t.Errorf("serial after the second write %d, want 2", s.Serial)
	}
	if got := read(t, open(t, "default")); got.Serial != 2 || len(got.Resources) != 1 {
		t.Errorf("after the second write: serial %d, resources %v", got.Serial, got.Resources)
	}
}

func writeRefused(t *testing.T, open Open) {
	a, b := open(t, "default"), open(t, "default")
	write(t, a, withResource(read(t, a), "file.a"))
	sa, sb := read(t, a), read(t, b)
	write(t, a, withResource(sa, "file.b"))
	err := b.Write(ctx, withResource(sb, "file.c"))
	if !errors.Is(err, states.ErrChanged) {
		t.Fatalf("Write after another run wrote: %v, want ErrChanged", err)
	}
	// Of another lineage than was read.
	sb = read(t, b)
	other := states.NewState("another-lineage")
	other.Serial = sb.Serial
	if err := b.Write(ctx, other); !errors.Is(err, states.ErrChanged) {
		t.Errorf("Write of another lineage: %v, want ErrChanged", err)
	}
	// Read again, it writes.
	write(t, b, withResource(sb, "file.c"))
	if got := read(t, a); got.Serial != 3 || len(got.Resources) != 3 {
		t.Errorf("after the retried write: serial %d, resources %d", got.Serial, len(got.Resources))
	}
}

func firstWritesRace(t *testing.T, open Open) {
	a, b := open(t, "default"), open(t, "default")
	sa, sb := read(t, a), read(t, b)
	write(t, a, withResource(sa, "file.a"))
	if err := b.Write(ctx, withResource(sb, "file.b")); !errors.Is(err, states.ErrChanged) {
		t.Errorf("second first write: %v, want ErrChanged", err)
	}
}

// records are the journal of one apply that changed file.a.
func records(lineage string, serial uint64) []*states.Record {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res := &states.Resource{Addr: "file.a", Type: "file", Config: json.RawMessage(`{"p":1}`), Result: json.RawMessage(`{"p":2}`)}
	return []*states.Record{
		{Op: states.OpBegin, Apply: &states.Apply{ID: "run-1", Operation: states.OperationApply, Started: started, Status: states.StatusRunning, Changes: []*states.Change{}}},
		{Op: states.OpChange, Change: &states.Change{Addr: "file.a", Type: "file", Action: states.ActionCreate, Config: json.RawMessage(`{"p":1}`), Before: []byte("none")}},
		{Op: states.OpEntry, Index: 0, Entry: []byte("undo 1")},
		{Op: states.OpDone, Index: 0, After: json.RawMessage(`{"p":2}`), Addr: "file.a", Resource: res},
		{Op: states.OpStatus, Status: states.StatusApplied, Finished: started.Add(time.Minute)},
	}
}

func appendAll(t *testing.T, b Backend, s *states.State, recs []*states.Record, replay bool) {
	t.Helper()
	for _, r := range recs {
		r.Lineage, r.Serial = s.Lineage, s.Serial
		if err := b.Append(ctx, r); err != nil {
			t.Fatalf("Append %s: %v", r.Op, err)
		}
		if replay {
			if err := s.Replay(r); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func journal(t *testing.T, open Open) {
	b := open(t, "default")
	s := withResource(read(t, b), "file.z")
	write(t, b, s)
	s = read(t, b)
	appendAll(t, b, s, records(s.Lineage, s.Serial), true)
	// Another run, as after a crash, reads the state with the journal
	// replayed.
	got := read(t, open(t, "default"))
	if diff := cmp.Diff(encoded(t, s), encoded(t, got)); diff != "" {
		t.Fatalf("Read replays (-appended +read):\n%s", diff)
	}
	if got.LastApply == nil || got.LastApply.Status != states.StatusApplied || !got.LastApply.Changes[0].Done || got.Resources["file.a"] == nil {
		t.Fatalf("replayed state: %+v", got.LastApply)
	}
	// Write folds the journal in: the state holds it, and the records
	// are gone (a record of the old serial would be ignored anyway, so
	// look at the stored state alone).
	write(t, b, s)
	raw, err := b.ReadRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := statefile.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if stored.LastApply == nil || stored.Resources["file.a"] == nil || stored.Serial != s.Serial {
		t.Errorf("stored state after Write lacks the journal's steps: %+v", stored)
	}
	// Records of another version are not replayed.
	appendAll(t, b, &states.State{Lineage: s.Lineage, Serial: s.Serial - 1}, []*states.Record{{Op: states.OpResource, Addr: "file.a"}}, false)
	appendAll(t, b, &states.State{Lineage: "other", Serial: s.Serial}, []*states.Record{{Op: states.OpResource, Addr: "file.a"}}, false)
	if got := read(t, open(t, "default")); got.Resources["file.a"] == nil {
		t.Error("a record of another version was replayed")
	}
}

func journalFirstApply(t *testing.T, open Open) {
	b := open(t, "default")
	s := read(t, b)
	appendAll(t, b, s, records(s.Lineage, 0), true)
	got := read(t, open(t, "default"))
	if got.Lineage != s.Lineage || got.Serial != 0 || got.Resources["file.a"] == nil {
		t.Fatalf("the journal of a first apply: lineage %s (want %s), serial %d, resources %v", got.Lineage, s.Lineage, got.Serial, got.Resources)
	}
	write(t, b, s)
	if got := read(t, open(t, "default")); got.Serial != 1 || got.LastApply == nil {
		t.Errorf("after the first write: %+v", got)
	}
}

func journalCorrupt(t *testing.T, open Open) {
	b := open(t, "default")
	s := read(t, b)
	write(t, b, s)
	appendAll(t, b, s, records(s.Lineage, s.Serial)[:1], true)
	// A record Replay rejects: a change that the journal does not have.
	appendAll(t, b, s, []*states.Record{{Op: states.OpEntry, Index: 7, Entry: []byte("x")}}, false)
	appendAll(t, b, s, []*states.Record{{Op: states.OpStatus, Status: states.StatusApplied}}, false)
	_, err := open(t, "default").Read(ctx)
	if !errors.Is(err, states.ErrJournalCorrupt) {
		t.Fatalf("Read of a journal with a bad record: %v, want ErrJournalCorrupt", err)
	}
}

func push(t *testing.T, open Open) {
	b := open(t, "default")
	s := withResource(read(t, b), "file.a")
	write(t, b, s)
	write(t, b, s) // serial 2
	stored := func() *states.State { return read(t, open(t, "default")) }
	base := stored()

	same := *base
	if err := b.Push(ctx, &same, false); err != nil {
		t.Errorf("push of the stored state: %v", err)
	}
	if got := stored(); got.Serial != 2 {
		t.Errorf("push of the stored state changed the serial to %d", got.Serial)
	}
	refused := []struct {
		name string
		s    func() *states.State
	}{
		{"another lineage", func() *states.State { o := *base; o.Lineage = "other"; o.Serial = 9; return &o }},
		{"an older serial", func() *states.State { o := *base; o.Serial = 1; return &o }},
		{"the same serial, other contents", func() *states.State {
			o := *base
			o.Resources = map[string]*states.Resource{}
			return &o
		}},
	}
	for _, r := range refused {
		if err := b.Push(ctx, r.s(), false); !errors.Is(err, states.ErrPushRefused) {
			t.Errorf("push of %s: %v, want ErrPushRefused", r.name, err)
		}
	}
	if got := stored(); got.Serial != 2 || got.Lineage != base.Lineage {
		t.Fatalf("a refused push changed the state: serial %d, lineage %s", got.Serial, got.Lineage)
	}
	newer := *base
	newer.Serial = 7
	newer.Resources = map[string]*states.Resource{}
	if err := b.Push(ctx, &newer, false); err != nil {
		t.Fatalf("push of a newer serial: %v", err)
	}
	if newer.Serial != 7 {
		t.Error("Push modified its state")
	}
	if got := stored(); got.Serial != 7 || len(got.Resources) != 0 {
		t.Errorf("after pushing serial 7: serial %d, %d resources", got.Serial, len(got.Resources))
	}
	forced := *base
	forced.Lineage = "forced"
	forced.Serial = 1
	if err := b.Push(ctx, &forced, true); err != nil {
		t.Fatalf("push -force: %v", err)
	}
	if got := stored(); got.Lineage != "forced" || got.Serial != 8 {
		t.Errorf("after push -force: lineage %s serial %d, want forced, 8 (stored serial + 1)", got.Lineage, got.Serial)
	}
	// The pusher writes on from what it pushed.
	cur := stored()
	write(t, b, cur)
	if cur.Serial != 9 {
		t.Errorf("write after push: serial %d, want 9", cur.Serial)
	}
}

func lock(t *testing.T, open Open) {
	a, b := open(t, "default"), open(t, "default")
	info := states.LockInfo{ID: "lock-1", Operation: "apply"}
	u, err := a.Lock(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Lock(ctx, states.LockInfo{Operation: "plan"})
	var le *states.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: %v, want a *states.LockedError", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second Lock took %v, want it to fail at once", d)
	}
	if le.Holder.ID != "lock-1" || le.Holder.Operation != "apply" || le.Holder.PID == 0 || le.Holder.Who == "" || le.Holder.Created.IsZero() || le.Path == "" {
		t.Errorf("holder %+v at %q", le.Holder, le.Path)
	}
	// The holder reads and writes while it holds the lock.
	s := read(t, a)
	write(t, a, s)
	if err := u.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := u.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	u2, err := b.Lock(ctx, states.LockInfo{Operation: "plan"})
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if err := u2.Unlock(); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Lock(cctx, info); err == nil {
		t.Error("Lock with a cancelled context succeeded")
	}
}

func digestKey(t *testing.T, open Open) {
	b := open(t, "default")
	if k, err := b.DigestKey(ctx, false); err != nil || k != nil {
		t.Fatalf("DigestKey(create=false) without a key: %x, %v", k, err)
	}
	// Runs making the first key at once end with one key.
	const n = 4
	keys := make([][]byte, n)
	errs := make([]error, n)
	backends := make([]Backend, n)
	for i := range backends {
		backends[i] = open(t, "default")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], errs[i] = backends[i].DigestKey(ctx, true)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if len(keys[i]) != 32 || string(keys[i]) != string(keys[0]) {
			t.Fatalf("run %d made key %x, run 0 %x", i, keys[i], keys[0])
		}
	}
	for _, create := range []bool{false, true} {
		k, err := b.DigestKey(ctx, create)
		if err != nil || string(k) != string(keys[0]) {
			t.Errorf("DigestKey(create=%v) later: %x, %v; want the first key", create, k, err)
		}
	}
}

func workspaces(t *testing.T, open Open) {
	def := open(t, "default")
	w, ok := def.(states.Workspacer)
	if !ok {
		t.Skip("the backend has no workspaces")
	}
	staging := open(t, "staging")
	write(t, def, withResource(read(t, def), "file.default"))
	s := withResource(read(t, staging), "file.staging")
	write(t, staging, s)
	write(t, staging, s)
	if got := read(t, open(t, "default")); got.Resources["file.staging"] != nil || got.Serial != 1 {
		t.Errorf("default reads staging's state: %+v", got)
	}
	if got := read(t, open(t, "staging")); got.Resources["file.default"] != nil || got.Serial != 2 {
		t.Errorf("staging reads default's state: %+v", got)
	}
	// Locks are per workspace.
	u, err := def.Lock(ctx, states.LockInfo{Operation: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	u2, err := staging.Lock(ctx, states.LockInfo{Operation: "apply"})
	if err != nil {
		t.Fatalf("locking staging while default is locked: %v", err)
	}
	names, err := w.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"default", "staging"}, names); diff != "" {
		t.Errorf("Workspaces (-want +got):\n%s", diff)
	}
	if err := w.DeleteWorkspace(ctx, "default"); err == nil {
		t.Error("DeleteWorkspace(default) succeeded")
	}
	var le *states.LockedError
	if err := w.DeleteWorkspace(ctx, "staging"); !errors.As(err, &le) {
		t.Errorf("DeleteWorkspace of a locked workspace: %v, want a *states.LockedError", err)
	}
	if err := u2.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := w.DeleteWorkspace(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, open(t, "staging")); got.Serial != 0 || len(got.Resources) != 0 {
		t.Errorf("staging after DeleteWorkspace: %+v", got)
	}
	if got := read(t, open(t, "default")); got.Serial != 1 {
		t.Errorf("default after deleting staging: serial %d", got.Serial)
	}
	names, _ = w.Workspaces(ctx)
	if diff := cmp.Diff([]string{"default"}, names); diff != "" {
		t.Errorf("Workspaces after the delete (-want +got):\n%s", diff)
	}
	if err := u.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func history(t *testing.T, open Open) {
	def, ok := open(t, "default").(states.Historian)
	if !ok {
		t.Skip("the backend keeps no history")
	}
	// Any run on the storage sees every workspace's history.
	other, ok := open(t, "staging").(states.Historian)
	if !ok {
		t.Fatal("a Historian for one workspace but not another")
	}
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	first := states.HistoryEntry{ID: "run-1", Operation: "apply", Workspace: "default", Who: "u@h", Version: "v1",
		Started: t0, Status: "running"}
	second := states.HistoryEntry{ID: "run-2", Operation: "rollback", Workspace: "staging", Who: "u@h", Version: "v1",
		Started: t0.Add(time.Hour), Status: "running", Undid: "run-0"}
	for _, e := range []states.HistoryEntry{second, first} {
		if err := def.RecordHistory(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	// A run is recorded again when it ends.
	done := first
	done.Status, done.Finished = "applied", t0.Add(time.Minute)
	done.Changes = []states.HistoryChange{{Address: "file.a", Action: "create", Outcome: "done"}}
	if err := other.RecordHistory(ctx, &done); err != nil {
		t.Fatal(err)
	}
	for _, h := range []states.Historian{def, other} {
		got, err := h.History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]states.HistoryEntry{done, second}, got); diff != "" {
			t.Errorf("History (-want +got):\n%s", diff)
		}
	}
}
