package pg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailplan/mailplan/engine/states"
)

// Lock takes the workspace's lock or fails at once. When another session
// — another process, or another Lock in this one — holds it, the error is
// a *states.LockedError carrying the holder's LockInfo, with Path
// "pg schema SCHEMA workspace WORKSPACE".
//
// The lock is a session-level advisory lock taken on a connection of its
// own, kept open until Unlock: when the process dies, the server ends the
// session and releases the lock. Until Unlock, this Backend's reads and
// writes go through that session (see ErrLockLost). Fields of info left
// empty are filled in (states.LockInfo.Fill).
func (b *Backend) Lock(ctx context.Context, info states.LockInfo) (states.Unlocker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, b.connCfg.Copy())
	if err != nil {
		return nil, b.connectError(err)
	}
	key := lockKey(b.schema, b.workspace)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		conn.Close(ctx)
		return nil, b.sqlError("lock the state", err)
	}
	if !got {
		conn.Close(ctx)
		holder, _, err := b.holder(ctx, b.workspace, true)
		if err != nil {
			return nil, err
		}
		return nil, &states.LockedError{Holder: holder, Path: b.where()}
	}
	info.Fill()
	data, err := json.Marshal(info)
	if err == nil {
		_, err = conn.Exec(ctx, `INSERT INTO `+b.q.locks+` (workspace, id, info, backend_pid) VALUES ($1, $2, $3, pg_backend_pid())
ON CONFLICT (workspace) DO UPDATE SET id = excluded.id, info = excluded.info, backend_pid = excluded.backend_pid`,
			b.workspace, info.ID, string(data))
	}
	if err != nil {
		conn.Close(ctx) // which releases the lock
		return nil, b.sqlError("write the lock's holder", err)
	}
	l := &lock{b: b, conn: conn, id: info.ID, key: key}
	b.mu.Lock()
	if b.held == nil {
		b.held = l
	}
	b.mu.Unlock()
	b.logger.Debug("locked state", "backend", b.desc, "operation", info.Operation, "id", info.ID)
	return l, nil
}

// lock is a held lock: its session, used by one goroutine at a time.
type lock struct {
	b    *Backend
	id   string
	key  int64
	once sync.Once

	mu   sync.Mutex
	conn *pgx.Conn
}

// Unlock clears the holder's info and releases the lock, closing its
// session. Calling it again does nothing. When the session had already
// ended (force-unlock), the error wraps ErrLockLost.
func (l *lock) Unlock() error {
	var err error
	l.once.Do(func() {
		b := l.b
		b.mu.Lock()
		if b.held == l {
			b.held = nil
		}
		b.mu.Unlock()
		l.mu.Lock()
		defer l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if l.conn.IsClosed() {
			err = fmt.Errorf("unlock %s: %w (its session had ended)", b.where(), ErrLockLost)
			return
		}
		// The info first, so that nobody reads a holder who has gone.
		_, err = l.conn.Exec(ctx, "DELETE FROM "+b.q.locks+" WHERE workspace = $1 AND id = $2", b.workspace, l.id)
		if err == nil {
			_, err = l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key)
		}
		if err != nil {
			err = l.lost(fmt.Errorf("unlock %s: %w", b.where(), err))
		}
		// Closing ends the session, which releases the lock in any case.
		if cerr := l.conn.Close(ctx); cerr != nil && err == nil {
			err = fmt.Errorf("unlock %s: %w", b.where(), cerr)
		}
		b.logger.Debug("unlocked state", "backend", b.desc, "id", l.id)
	})
	return err
}

// lost wraps err with ErrLockLost when the lock's session has ended.
func (l *lock) lost(err error) error {
	if err == nil || !l.conn.IsClosed() {
		return err
	}
	return fmt.Errorf("%w: %s's session ended (force-unlock, or the server restarted), so another run may hold it now: %w",
		ErrLockLost, l.b.where(), err)
}

// holder reads the LockInfo of the workspace's lock holder; held is false
// when nobody holds the lock. A holder that has just taken the lock may
// not have written its info yet (or a dead holder's info may still be
// there), so when wait is set, info that does not match the session that
// holds the lock is read again a few times, briefly: Lock must still fail
// at once.
func (b *Backend) holder(ctx context.Context, workspace string, wait bool) (info states.LockInfo, pid int, err error) {
	key := lockKey(b.schema, workspace)
	for i := 0; ; i++ {
		var (
			data  []byte
			live  bool
			taken bool
		)
		// pg_locks shows a bigint advisory key as classid (high 32 bits)
		// and objid (low 32 bits), with objsubid 1.
		err := b.pool.QueryRow(ctx, `SELECT l.info, l.backend_pid,
	EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted AND k.pid = l.backend_pid
		AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND k.classid::int8 = $2 AND k.objid::int8 = $3 AND k.objsubid = 1)
FROM `+b.q.locks+` l WHERE l.workspace = $1`, workspace, uint64(key)>>32, uint64(key)&0xffffffff).Scan(&data, &pid, &live)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return info, 0, b.sqlError("read the lock's holder", err)
		case live:
			if err := json.Unmarshal(data, &info); err != nil {
				return info, 0, fmt.Errorf("read the lock's holder in %s: %w", b.desc, err)
			}
			return info, pid, nil
		}
		if err := b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted
		AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND k.classid::int8 = $1 AND k.objid::int8 = $2 AND k.objsubid = 1)`, uint64(key)>>32, uint64(key)&0xffffffff).Scan(&taken); err != nil {
			return info, 0, b.sqlError("read the lock's holder", err)
		}
		if !taken {
			return states.LockInfo{}, 0, nil
		}
		if !wait || i >= 10 {
			return states.LockInfo{Who: "an unknown process", Operation: "an unknown operation"}, 0, nil
		}
		select {
		case <-ctx.Done():
			return info, 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ForceUnlock releases the lock of the run whose lock ID is id (mailplan
// force-unlock ID): it ends that run's lock session (pg_terminate_backend),
// which releases the lock and makes the run's next write fail with
// ErrLockLost, and clears the holder's info. It is an error when nobody
// holds the lock, or another ID does (the error names the holder). Ending
// another role's session needs the pg_signal_backend role.
func (b *Backend) ForceUnlock(ctx context.Context, id string) error {
	info, pid, err := b.holder(ctx, b.workspace, true)
	if err != nil {
		return err
	}
	switch {
	case info == (states.LockInfo{}):
		// A dead holder's info may be left; it is no lock.
		_, _ = b.pool.Exec(ctx, "DELETE FROM "+b.q.locks+" WHERE workspace = $1", b.workspace)
		return fmt.Errorf("force-unlock: %s is not locked", b.where())
	case pid == 0:
		return fmt.Errorf("force-unlock: %s is locked by a session that has not said who it is yet; try again", b.where())
	case info.ID != id:
		return fmt.Errorf("force-unlock: %s is locked by %s (pid %d, running %s since %s) with lock ID %s, not %s",
			b.where(), info.Who, info.PID, info.Operation, info.Created.Format(time.RFC3339), info.ID, id)
	}
	var ended bool
	if err := b.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ended); err != nil {
		if isPermission(err) {
			return fmt.Errorf("force-unlock %s: user %s may not end the lock holder's session (backend pid %d): grant pg_signal_backend to %s, or run force-unlock as the holder's role",
				b.where(), b.connCfg.User, pid, b.connCfg.User)
		}
		return b.sqlError("force-unlock", err)
	}
	if !ended {
		return fmt.Errorf("force-unlock %s: the lock holder's session (backend pid %d) could not be ended", b.where(), pid)
	}
	// The session ends asynchronously; the lock is free once it has.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _, err := b.holder(ctx, b.workspace, false)
		if err != nil {
			return err
		}
		if info == (states.LockInfo{}) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("force-unlock %s: the lock holder's session (backend pid %d) did not end within 10s", b.where(), pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := b.pool.Exec(ctx, "DELETE FROM "+b.q.locks+" WHERE workspace = $1 AND id = $2", b.workspace, id); err != nil {
		return b.sqlError("force-unlock", err)
	}
	b.logger.Warn("force-unlocked the state", "backend", b.desc, "id", id, "holder", info.Who, "holder_pid", info.PID)
	return nil
}

// withConn runs fn on the session that holds this Backend's lock, or on
// a pooled connection when it holds none. An error from a lock session
// that has ended wraps ErrLockLost: the lock may be someone else's now,
// so nothing falls back to the pool.
func (b *Backend) withConn(ctx context.Context, fn func(q querier) error) error {
	b.mu.Lock()
	l := b.held
	b.mu.Unlock()
	if l == nil {
		return fn(b.pool)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn.IsClosed() {
		return l.lost(errors.New("connection closed"))
	}
	return l.lost(fn(l.conn))
}
