package exec

import (
	"context"
	"fmt"
	"sync"

	"github.com/mailplan/mailplan/engine/states"
)

// journal persists state writes of a running apply.
type journal struct {
	mu  sync.Mutex
	st  *states.State
	mgr states.Manager
	// start is the record that begins (or continues) the run; run is the
	// run once it is journalled, nil before.
	start *states.Record
	run   *states.Apply
	// first is, by address, the index of the first change of run (of
	// the run it was made for, firstOf) that firstBefore answers with;
	// indexed how many of its changes are in it.
	first   map[string]int
	firstOf *states.Apply
	indexed int
}

// begin journals the start of the run, once. The caller holds j.mu.
func (j *journal) begin(ctx context.Context) error {
	if j.run != nil {
		return nil
	}
	if j.start == nil {
		// A rollback of a run the state already holds.
		j.run = j.st.LastApply
		return nil
	}
	if err := j.record(ctx, j.start); err != nil {
		return err
	}
	j.run = j.st.LastApply
	return nil
}

// write stores the whole state. The caller holds j.mu.
func (j *journal) write(ctx context.Context) error {
	// Writes must land even while the apply is being cancelled.
	return j.mgr.Write(context.WithoutCancel(ctx), j.st)
}

// record applies one step to the state in memory and makes it durable: by
// appending it to the backend's journal when it has one, else by writing
// the whole state. The caller holds j.mu.
func (j *journal) record(ctx context.Context, rec *states.Record) error {
	wait, err := j.recordWrite(ctx, rec)
	if err != nil {
		return err
	}
	return wait()
}

// recordWrite is record for a caller that lets go of j.mu before it
// waits for the record to be durable, with the wait it returns: records
// the instances of an apply journal at the same time then share one
// fsync (states.GroupJournaler). The caller holds j.mu, and must not go on
// with what the record announces before wait returns nil.
func (j *journal) recordWrite(ctx context.Context, rec *states.Record) (wait func() error, err error) {
	if err := j.st.Replay(rec); err != nil {
		return nil, err
	}
	if gj, ok := j.mgr.(states.GroupJournaler); ok {
		rec.Lineage = j.st.Lineage
		rec.Serial = j.st.Serial
		t, err := gj.AppendWrite(context.WithoutCancel(ctx), rec)
		if err != nil {
			return nil, err
		}
		return func() error { return gj.Sync(context.WithoutCancel(ctx), t) }, nil
	}
	if jr, ok := j.mgr.(states.Journaler); ok {
		rec.Lineage = j.st.Lineage
		rec.Serial = j.st.Serial
		return durable, jr.Append(context.WithoutCancel(ctx), rec)
	}
	return durable, j.write(ctx)
}

// durable is the wait of a record made durable already.
func durable() error { return nil }

// add journals rec: written holding j.mu (released even if recording
// panics, so that the rollback after the panic can journal its steps),
// durable once add returns.
func (j *journal) add(ctx context.Context, rec *states.Record) error {
	wait, err := j.addWrite(ctx, rec)
	if err != nil {
		return err
	}
	return wait()
}

func (j *journal) addWrite(ctx context.Context, rec *states.Record) (func() error, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.recordWrite(ctx, rec)
}

// addChange journals a change about to be made and returns its index,
// once the change is durable.
func (j *journal) addChange(ctx context.Context, ch *states.Change) (int, error) {
	index, wait, err := j.addChangeWrite(ctx, ch)
	if err != nil {
		return 0, err
	}
	if err := wait(); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return index, nil
}

func (j *journal) addChangeWrite(ctx context.Context, ch *states.Change) (int, func() error, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.begin(ctx); err != nil {
		return 0, nil, fmt.Errorf("journal: %w", err)
	}
	wait, err := j.recordWrite(ctx, &states.Record{Op: states.OpChange, Change: ch})
	if err != nil {
		return 0, nil, fmt.Errorf("journal: %w", err)
	}
	return len(j.st.LastApply.Changes) - 1, wait, nil
}

// addChangeLocked is addChange for a caller that holds j.mu.
func (j *journal) addChangeLocked(ctx context.Context, ch *states.Change) (int, error) {
	if err := j.begin(ctx); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	if err := j.record(ctx, &states.Record{Op: states.OpChange, Change: ch}); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return len(j.st.LastApply.Changes) - 1, nil
}

// firstBefore is the snapshot taken before the oldest change of addr in the
// running journal (older than index) that found it unmanaged: when an apply
// continues an interrupted one, what was there before both. nil when there
// is none.
func (j *journal) firstBefore(addr string, index int) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	run := j.st.LastApply
	if run == nil {
		return nil
	}
	// An index of the changes so far, kept up to date: a scan per change
	// made an apply of 50,000 resources quadratic.
	if j.firstOf != run || j.indexed > len(run.Changes) {
		j.first, j.firstOf, j.indexed = map[string]int{}, run, 0
	}
	for ; j.indexed < len(run.Changes); j.indexed++ {
		ch := run.Changes[j.indexed]
		if _, ok := j.first[ch.Addr]; !ok && ch.Prior == nil && ch.Action != states.ActionAdopt && ch.Action != states.ActionCheck {
			j.first[ch.Addr] = j.indexed
		}
	}
	if i, ok := j.first[addr]; ok && i < index {
		return run.Changes[i].Before
	}
	return nil
}

// changeJournal is the resource.Journal of one change: Apply's entries
// join the change's journal, which a rollback gives to Restore.
type changeJournal struct {
	j     *journal
	index int
}

func (c *changeJournal) Record(ctx context.Context, entry []byte) error {
	return c.j.add(ctx, &states.Record{Op: states.OpEntry, Index: c.index, Entry: append([]byte(nil), entry...)})
}

// lazyJournal is the resource.Journal given to Check and Adopt. Neither
// changes a host as far as the engine knows, so the journal holds no
// change for them unless they record an entry: the first entry journals
// change first (its index then stays), and a rollback restores it like
// any change, replaying the entries.
type lazyJournal struct {
	j *journal
	// change makes the change when the first entry comes.
	change func() (*states.Change, error)
	// index is change's index once journalled, -1 before; guarded by j.mu.
	index int
}

func newLazyJournal(j *journal, change func() (*states.Change, error)) *lazyJournal {
	return &lazyJournal{j: j, change: change, index: -1}
}

func (l *lazyJournal) Record(ctx context.Context, entry []byte) error {
	l.j.mu.Lock()
	defer l.j.mu.Unlock()
	if l.index < 0 {
		ch, err := l.change()
		if err != nil {
			return err
		}
		index, err := l.j.addChangeLocked(ctx, ch)
		if err != nil {
			return err
		}
		l.index = index
	}
	return l.j.record(ctx, &states.Record{Op: states.OpEntry, Index: l.index, Entry: append([]byte(nil), entry...)})
}

// journalled returns the index of the change, and whether an entry
// journalled it.
func (l *lazyJournal) journalled() (int, bool) {
	l.j.mu.Lock()
	defer l.j.mu.Unlock()
	return l.index, l.index >= 0
}
