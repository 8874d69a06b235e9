package local

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mailplan/mailplan/engine/states"
)

// Records appended by many goroutines at once, each waiting in Sync
// (group commit), are all in the journal, each whole, in the order they
// were written; a Read replays every one. A Write between a record's
// write and its Sync folds it into the state: Sync then has nothing to
// flush, and the record is kept.
func TestJournalGroupCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	b := New(path, nil)
	st, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	begin := &states.Record{Lineage: st.Lineage, Serial: st.Serial, Op: states.OpBegin, Apply: &states.Apply{ID: "x", Status: "running"}}
	if err := st.Replay(begin); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(ctx, begin); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var mu sync.Mutex // the apply journal's lock: write order is replay order
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			rec := &states.Record{Lineage: st.Lineage, Serial: st.Serial, Op: states.OpChange,
				Change: &states.Change{Addr: fmt.Sprintf("file.f%d", i), Type: "file"}}
			mu.Lock()
			if err := st.Replay(rec); err != nil {
				mu.Unlock()
				errs <- err
				return
			}
			ticket, err := b.AppendWrite(ctx, rec)
			mu.Unlock()
			if err == nil {
				err = b.Sync(ctx, ticket)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := New(path, nil).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.LastApply.Changes) != n {
		t.Fatalf("replayed %d changes, want %d", len(got.LastApply.Changes), n)
	}
	for i, ch := range got.LastApply.Changes {
		if ch.Addr != st.LastApply.Changes[i].Addr {
			t.Fatalf("change %d is %s on disk, %s in memory", i, ch.Addr, st.LastApply.Changes[i].Addr)
		}
	}

	// Written, then folded into the state by a Write before its Sync.
	late := &states.Record{Lineage: st.Lineage, Serial: st.Serial, Op: states.OpChange, Change: &states.Change{Addr: "file.late", Type: "file"}}
	if err := st.Replay(late); err != nil {
		t.Fatal(err)
	}
	ticket, err := b.AppendWrite(ctx, late)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx, ticket); err != nil {
		t.Fatalf("sync after the write: %v", err)
	}
	got, err = New(path, nil).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := got.LastApply.Changes; len(c) != n+1 || c[n].Addr != "file.late" {
		t.Fatalf("after the write: %d changes, want %d ending in file.late", len(c), n+1)
	}
}

// Killed between a record's write and its Sync (the caller has not done
// what it announces): the record is in the journal as far as the next run
// can tell (a killed process's writes stay in the page cache), and that
// run replays it and appends after it. Lost with the machine, it is as
// though never written (TestJournalTruncatedAtEveryOffset): either way
// Restore, being idempotent, is right.
func TestJournalKilledBeforeSync(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	b := New(path, nil)
	st, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []*states.Record{
		{Op: states.OpBegin, Apply: &states.Apply{ID: "x", Status: "running"}},
		{Op: states.OpChange, Change: &states.Change{Addr: "file.a", Type: "file"}},
	} {
		rec.Lineage, rec.Serial = st.Lineage, st.Serial
		if _, err := b.AppendWrite(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	// Killed here: no Sync, the file left open.
	b2 := New(path, nil)
	got, err := b2.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastApply == nil || len(got.LastApply.Changes) != 1 || got.LastApply.Changes[0].Addr != "file.a" {
		t.Fatalf("after the kill: %+v", got.LastApply)
	}
	if err := b2.Append(ctx, &states.Record{Lineage: got.Lineage, Serial: got.Serial, Op: states.OpRestoring, Index: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(path, nil).Read(ctx); err != nil {
		t.Fatal(err)
	}
}
