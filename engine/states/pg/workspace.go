package pg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mailplan/mailplan/engine/states"
)

// digestKeySize is the digest key's length in bytes.
const digestKeySize = 32

// DigestKey implements states.DigestKeyer: one key of 32 random bytes for
// the whole schema, in the digest_key table. A new key is inserted only
// when there is none (ON CONFLICT DO NOTHING), and the stored key is read
// back, so that runs making the first key at once all use one.
func (b *Backend) DigestKey(ctx context.Context, create bool) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var key []byte
	err := b.withConn(ctx, func(q querier) error {
		read := func() error {
			err := q.QueryRow(ctx, "SELECT key FROM "+b.q.digestKey+" WHERE id = 1").Scan(&key)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				key = nil
				return nil
			case err != nil:
				return b.sqlError("read the digest key", err)
			case len(key) != digestKeySize:
				return fmt.Errorf("the digest key in %s is not %d bytes; restore it from a backup (the digests the state holds were made with it)", b.q.digestKey, digestKeySize)
			}
			return nil
		}
		if err := read(); err != nil || key != nil || !create {
			return err
		}
		secret := make([]byte, digestKeySize)
		rand.Read(secret)
		tag, err := q.Exec(ctx, "INSERT INTO "+b.q.digestKey+" (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", secret)
		if err != nil {
			return b.sqlError("store a new digest key", err)
		}
		if tag.RowsAffected() == 1 {
			b.logger.Info("made a new digest key", "table", b.q.digestKey)
			key = secret
			return nil
		}
		return read()
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// SetDigestKey implements states.DigestKeySetter: it stores key when the
// schema has none (init -migrate-state carries a state's key with it); a
// different key already there is an error.
func (b *Backend) SetDigestKey(ctx context.Context, key []byte) error {
	if len(key) != digestKeySize {
		return fmt.Errorf("a digest key is %d bytes, not %d", digestKeySize, len(key))
	}
	return b.withConn(ctx, func(q querier) error {
		if _, err := q.Exec(ctx, "INSERT INTO "+b.q.digestKey+" (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", key); err != nil {
			return b.sqlError("store the digest key", err)
		}
		var have []byte
		if err := q.QueryRow(ctx, "SELECT key FROM "+b.q.digestKey+" WHERE id = 1").Scan(&have); err != nil {
			return b.sqlError("read the digest key", err)
		}
		if !bytes.Equal(have, key) {
			return fmt.Errorf("%s holds another digest key; digests made with one do not match the other", b.q.digestKey)
		}
		return nil
	})
}

// RecordHistory implements states.Historian: it stores e, replacing the
// entry with the same ID, in the history table. An entry without a
// workspace is recorded as this Backend's.
func (b *Backend) RecordHistory(ctx context.Context, e *states.HistoryEntry) error {
	if e == nil || e.ID == "" {
		return errors.New("record history: an entry without an ID")
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("record history: %w", err)
	}
	ws := e.Workspace
	if ws == "" {
		ws = b.workspace
	}
	return b.withConn(ctx, func(q querier) error {
		_, err := q.Exec(ctx, "INSERT INTO "+b.q.history+` (id, workspace, started, entry) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET workspace = excluded.workspace, started = excluded.started, entry = excluded.entry`,
			e.ID, ws, e.Started.UTC(), string(data))
		if err != nil {
			return b.sqlError("record history", err)
		}
		return nil
	})
}

// History implements states.Historian: the entries of every workspace of
// the schema, oldest first.
func (b *Backend) History(ctx context.Context) ([]states.HistoryEntry, error) {
	var out []states.HistoryEntry
	err := b.withConn(ctx, func(q querier) error {
		rows, err := q.Query(ctx, "SELECT id, entry FROM "+b.q.history+" ORDER BY started, id")
		if err != nil {
			return b.sqlError("read history", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id   string
				data []byte
				e    states.HistoryEntry
			)
			if err := rows.Scan(&id, &data); err != nil {
				return b.sqlError("read history", err)
			}
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("read history entry %s in %s: %w", id, b.q.history, err)
			}
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			return b.sqlError("read history", err)
		}
		return nil
	})
	return out, err
}

// Workspaces implements states.Workspacer: the workspaces with a stored
// state or journal records (a first apply that stopped before its first
// write), and "default", sorted.
func (b *Backend) Workspaces(ctx context.Context) ([]string, error) {
	var out []string
	err := b.withConn(ctx, func(q querier) error {
		rows, err := q.Query(ctx, "SELECT w FROM (SELECT workspace FROM "+b.q.states+" UNION SELECT workspace FROM "+b.q.journal+
			" UNION SELECT 'default') AS u (w) ORDER BY w COLLATE \"C\"")
		if err != nil {
			return b.sqlError("list workspaces", err)
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return b.sqlError("list workspaces", err)
		}
		return nil
	})
	return out, err
}

// DeleteWorkspace implements states.Workspacer: it removes the named
// workspace's state, journal records and lock info in one transaction,
// while holding its lock. It refuses "default", and a workspace another
// run has locked (a *states.LockedError).
func (b *Backend) DeleteWorkspace(ctx context.Context, name string) error {
	if name == "default" {
		return errors.New("delete workspace: the default workspace cannot be deleted")
	}
	if name == "" {
		return errors.New("delete workspace: no name")
	}
	conn, err := pgx.ConnectConfig(ctx, b.connCfg.Copy())
	if err != nil {
		return b.connectError(err)
	}
	defer conn.Close(context.Background()) // which releases the lock
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey(b.schema, name)).Scan(&got); err != nil {
		return b.sqlError("lock workspace "+name, err)
	}
	if !got {
		holder, _, err := b.holder(ctx, name, true)
		if err != nil {
			return err
		}
		return fmt.Errorf("delete workspace %s: %w", name, &states.LockedError{Holder: holder, Path: "pg schema " + b.schema + " workspace " + name})
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return b.sqlError("delete workspace "+name, err)
	}
	defer tx.Rollback(ctx)
	for _, table := range []string{b.q.states, b.q.journal, b.q.locks} {
		if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE workspace = $1", name); err != nil {
			return b.sqlError("delete workspace "+name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return b.sqlError("delete workspace "+name, err)
	}
	b.logger.Info("deleted workspace", "schema", b.schema, "workspace", name)
	return nil
}
