package pg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/statefile"
)

// Read returns the workspace's state with its journal replayed, or a new
// state with serial 0 and a fresh lineage when there is none (adopting
// the lineage of the records of a first apply that stopped before its
// first write). The row and the journal are read in one snapshot.
func (b *Backend) Read(ctx context.Context) (*states.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		s       *states.State
		records []journalRow
	)
	err := b.withConn(ctx, func(q querier) error {
		tx, err := beginSnapshot(ctx, q)
		if err != nil {
			return b.sqlError("read state", err)
		}
		defer tx.Rollback(ctx)
		s, _, err = b.load(ctx, tx, false)
		if err != nil {
			return err
		}
		records, err = b.journalRows(ctx, tx)
		if err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, err
	}
	exists := s != nil
	if !exists {
		s = states.NewState(states.NewID())
	}
	n, err := b.replay(s, exists, records)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.seen = &mark{lineage: s.Lineage, serial: s.Serial, exists: exists}
	b.mu.Unlock()
	if n > 0 {
		b.logger.Info("replayed the journal of an unfinished apply", "records", n, "backend", b.desc)
	}
	b.logger.Debug("read state", "backend", b.desc, "serial", s.Serial, "lineage", s.Lineage, "exists", exists)
	return s, nil
}

// beginSnapshot starts a read-only transaction that sees one snapshot.
func beginSnapshot(ctx context.Context, q querier) (pgx.Tx, error) {
	tx, err := q.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	return tx, nil
}

// ReadRaw returns the stored state JSON as it is, for `state pull`. When
// there is none the error matches fs.ErrNotExist, as the local backend's.
func (b *Backend) ReadRaw(ctx context.Context) ([]byte, error) {
	var raw []byte
	err := b.withConn(ctx, func(q querier) error {
		err := q.QueryRow(ctx, "SELECT state FROM "+b.q.states+" WHERE workspace = $1", b.workspace).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read state: %s has none: %w", b.desc, fs.ErrNotExist)
		}
		if err != nil {
			return b.sqlError("read state", err)
		}
		return nil
	})
	return raw, err
}

// load reads and decodes the workspace's row (locked FOR UPDATE when
// forUpdate): nil, nil, nil when there is none. raw is what was read, even
// when it does not decode.
func (b *Backend) load(ctx context.Context, tx pgx.Tx, forUpdate bool) (*states.State, []byte, error) {
	sql := "SELECT state FROM " + b.q.states + " WHERE workspace = $1"
	if forUpdate {
		sql += " FOR UPDATE"
	}
	var raw []byte
	err := tx.QueryRow(ctx, sql, b.workspace).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, b.sqlError("read state", err)
	}
	s, err := statefile.Decode(raw)
	if err != nil {
		return nil, raw, fmt.Errorf("read state %s: %w", b.desc, err)
	}
	return s, raw, nil
}

// Write stores s as the next version (the stored serial plus one, which
// it also sets in s) and deletes the workspace's journal records, which s
// holds, in one transaction. It refuses, with an error wrapping
// states.ErrChanged, when the row's lineage or serial is no longer what
// this Backend last read or wrote (or, before any Read, what s says), and
// when s is of another lineage than the row.
func (b *Backend) Write(ctx context.Context, s *states.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s == nil {
		return fmt.Errorf("write state %s: no state", b.desc)
	}
	b.mu.Lock()
	want := b.seen
	b.mu.Unlock()
	if want == nil {
		want = &mark{lineage: s.Lineage, serial: s.Serial, exists: s.Serial > 0}
	}
	var next uint64
	err := b.withConn(ctx, func(q querier) error {
		tx, err := q.Begin(ctx)
		if err != nil {
			return b.sqlError("write state", err)
		}
		defer tx.Rollback(ctx)
		var (
			lineage string
			serial  int64
		)
		err = tx.QueryRow(ctx, "SELECT lineage, serial FROM "+b.q.states+" WHERE workspace = $1 FOR UPDATE", b.workspace).Scan(&lineage, &serial)
		exists := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return b.sqlError("write state", err)
		}
		switch {
		case s.Lineage != want.lineage:
			return fmt.Errorf("write state %s: the state has lineage %s but lineage %s was read; use state push -force to replace a state with another: %w",
				b.desc, s.Lineage, want.lineage, states.ErrChanged)
		case !exists && want.exists:
			return fmt.Errorf("write state %s: the state was removed since serial %d was read: %w", b.desc, want.serial, states.ErrChanged)
		case exists && lineage != want.lineage:
			return fmt.Errorf("write state %s: the stored state now has lineage %s, not %s: %w", b.desc, lineage, want.lineage, states.ErrChanged)
		case exists && uint64(serial) != want.serial:
			return fmt.Errorf("write state %s: the stored state is at serial %d, but serial %d was read: %w", b.desc, serial, want.serial, states.ErrChanged)
		}
		next = 1
		if exists {
			next = uint64(serial) + 1
		}
		out := *s
		out.Serial = next
		if err := b.store(ctx, tx, &out, exists); err != nil {
			return err
		}
		return b.commit(ctx, tx, "write state")
	})
	if err != nil {
		return err
	}
	s.Serial = next
	s.Version = states.FormatVersion
	b.mu.Lock()
	b.seen = &mark{lineage: s.Lineage, serial: next, exists: true}
	b.mu.Unlock()
	b.logger.Debug("wrote state", "backend", b.desc, "serial", next)
	return nil
}

// store writes s in the transaction as the workspace's row (inserted when
// !exists; the row's earlier state is kept as previous) and deletes the
// workspace's journal records. A row another writer inserted meanwhile is
// states.ErrChanged.
func (b *Backend) store(ctx context.Context, tx pgx.Tx, s *states.State, exists bool) error {
	data, err := statefile.Encode(s)
	if err != nil {
		return fmt.Errorf("write state %s: %w", b.desc, err)
	}
	if exists {
		_, err = tx.Exec(ctx, "UPDATE "+b.q.states+` SET lineage = $2, serial = $3, previous = state, state = $4, updated = now()
WHERE workspace = $1`, b.workspace, s.Lineage, int64(s.Serial), string(data))
	} else {
		var tag interface{ RowsAffected() int64 }
		tag, err = tx.Exec(ctx, "INSERT INTO "+b.q.states+` (workspace, lineage, serial, state) VALUES ($1, $2, $3, $4)
ON CONFLICT (workspace) DO NOTHING`, b.workspace, s.Lineage, int64(s.Serial), string(data))
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("write state %s: another run stored a first state meanwhile: %w", b.desc, states.ErrChanged)
		}
	}
	if err != nil {
		return b.sqlError("write state", err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+b.q.journal+" WHERE workspace = $1", b.workspace); err != nil {
		return b.sqlError("clear the journal", err)
	}
	return nil
}

func (b *Backend) commit(ctx context.Context, tx pgx.Tx, what string) error {
	if err := tx.Commit(ctx); err != nil {
		return b.sqlError(what, err)
	}
	return nil
}

// Push replaces the stored state with s, for `state push`. Unless force is
// set it refuses, with an error wrapping states.ErrPushRefused, a state of
// another lineage, of a lower serial, or of the same serial with other
// contents. The serial written is s.Serial, or the stored serial plus one
// when that is higher, so that every reader sees the change; pushing the
// state that is already stored does nothing. s is not modified.
func (b *Backend) Push(ctx context.Context, s *states.State, force bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s == nil {
		return fmt.Errorf("push state %s: no state", b.desc)
	}
	var serial uint64
	same := false
	err := b.withConn(ctx, func(q querier) error {
		tx, err := q.Begin(ctx)
		if err != nil {
			return b.sqlError("push state", err)
		}
		defer tx.Rollback(ctx)
		cur, raw, err := b.load(ctx, tx, true)
		if err != nil && !force {
			return fmt.Errorf("%w (state push -force replaces it)", err)
		}
		exists := cur != nil || raw != nil
		serial = s.Serial
		if cur != nil {
			same, err = statefile.Same(cur, s)
			if err != nil {
				return fmt.Errorf("push state %s: %w", b.desc, err)
			}
			switch {
			case same:
				return nil
			case force:
			case s.Lineage != cur.Lineage:
				return fmt.Errorf("push state %s: the state has lineage %s but the stored state has lineage %s: %w",
					b.desc, s.Lineage, cur.Lineage, states.ErrPushRefused)
			case s.Serial < cur.Serial:
				return fmt.Errorf("push state %s: the state has serial %d, older than the stored serial %d: %w",
					b.desc, s.Serial, cur.Serial, states.ErrPushRefused)
			case s.Serial == cur.Serial:
				return fmt.Errorf("push state %s: the state has the stored serial %d but other contents: %w",
					b.desc, s.Serial, states.ErrPushRefused)
			}
			serial = max(serial, cur.Serial+1)
		}
		out := *s
		out.Serial = serial
		if err := b.store(ctx, tx, &out, exists); err != nil {
			return err
		}
		return b.commit(ctx, tx, "push state")
	})
	if err != nil {
		return err
	}
	if same {
		b.logger.Debug("pushed state is already stored", "backend", b.desc)
		return nil
	}
	b.mu.Lock()
	b.seen = &mark{lineage: s.Lineage, serial: serial, exists: true}
	b.mu.Unlock()
	b.logger.Info("pushed state", "backend", b.desc, "serial", serial, "lineage", s.Lineage, "force", force)
	return nil
}

// Append stores one journal record in a transaction of its own, committed
// (synchronous_commit=on) before it returns: the record is durable before
// the step it protects begins. While this Backend holds the lock, the
// record is written through the lock's session, so that it is never
// written once the lock is lost (ErrLockLost).
func (b *Backend) Append(ctx context.Context, rec *states.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode journal record: %w", err)
	}
	return b.withConn(ctx, func(q querier) error {
		if _, err := q.Exec(ctx, "INSERT INTO "+b.q.journal+" (workspace, record) VALUES ($1, $2)", b.workspace, string(data)); err != nil {
			return b.sqlError("append to the journal", err)
		}
		return nil
	})
}

// journalRow is one record of the journal table.
type journalRow struct {
	seq    int64
	record []byte
}

func (b *Backend) journalRows(ctx context.Context, tx pgx.Tx) ([]journalRow, error) {
	rows, err := tx.Query(ctx, "SELECT seq, record FROM "+b.q.journal+" WHERE workspace = $1 ORDER BY seq", b.workspace)
	if err != nil {
		return nil, b.sqlError("read the journal", err)
	}
	var out []journalRow
	for rows.Next() {
		var r journalRow
		if err := rows.Scan(&r.seq, &r.record); err != nil {
			rows.Close()
			return nil, b.sqlError("read the journal", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, b.sqlError("read the journal", err)
	}
	return out, nil
}

// replay applies the records of s's version to s, as the local backend
// replays its journal file. exists says whether s came from a row; a new
// state adopts the lineage of the records of an apply that stopped before
// its first write. A record that does not decode or that Replay rejects
// is a *JournalError: each was committed whole before its step began, so
// it cannot be a crash's doing, and the records after it must not be lost.
func (b *Backend) replay(s *states.State, exists bool, records []journalRow) (int, error) {
	n := 0
	for i, r := range records {
		corrupt := func(err error) error {
			return &JournalError{Table: b.q.journal, Workspace: b.workspace, Seq: r.seq, Following: len(records) - i - 1, StateExists: exists, Err: err}
		}
		var rec states.Record
		if err := json.Unmarshal(r.record, &rec); err != nil {
			return n, corrupt(fmt.Errorf("not a journal record: %w", err))
		}
		if rec.Lineage == "" || rec.Op == "" {
			return n, corrupt(errors.New("not a journal record: no lineage or op"))
		}
		if exists && (rec.Lineage != s.Lineage || rec.Serial != s.Serial) {
			continue
		}
		if !exists {
			if rec.Serial != 0 {
				continue
			}
			s.Lineage = rec.Lineage
		}
		if err := s.Replay(&rec); err != nil {
			return n, corrupt(fmt.Errorf("cannot replay the record: %w", err))
		}
		n++
	}
	return n, nil
}

// JournalError is Read's error for a journal record that cannot be read
// or replayed. Read stops there rather than skip it: the records after it
// may be the undo entries of changes that were made.
type JournalError struct {
	// Table is the journal table, Workspace the workspace, Seq the bad
	// record's seq; Following counts the workspace's records after it.
	Table, Workspace string
	Seq              int64
	Following        int
	// StateExists says whether the workspace has a stored state.
	StateExists bool
	// Err says what is wrong with the record.
	Err error
}

func (e *JournalError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "journal record seq %d of workspace %s in table %s is corrupt: %v. ", e.Seq, e.Workspace, e.Table, e.Err)
	if e.StateExists {
		sb.WriteString("The stored state is intact, but the journal holds the steps of an apply that did not finish, which must be rolled back")
	} else {
		sb.WriteString("There is no stored state yet: the journal holds the steps of a first apply that did not finish, which must be rolled back")
	}
	sb.WriteString("; mailplan does not skip a record it cannot read, since a rollback without it could leave a change in place")
	if e.Following > 0 {
		fmt.Fprintf(&sb, " (%d more records follow it)", e.Following)
	}
	sb.WriteString(". Keep a copy of the workspace's journal rows, look at that record, repair or delete it by hand" +
		" (deleting loses the step it recorded: check that change on its host after the rollback)," +
		" then run `mailplan rollback`.")
	return sb.String()
}

// Unwrap lets errors.Is match both states.ErrJournalCorrupt and the cause.
func (e *JournalError) Unwrap() []error { return []error{states.ErrJournalCorrupt, e.Err} }
