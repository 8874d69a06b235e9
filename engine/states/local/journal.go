package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailplan/mailplan/engine/states"
)

var _ states.Journaler = (*Backend)(nil)

// ErrJournalCorrupt is matched (errors.Is) by Read's error when the journal
// has a record that cannot be read or replayed; the error is a
// *JournalError. It is states.ErrJournalCorrupt.
var ErrJournalCorrupt = states.ErrJournalCorrupt

// JournalError is Read's error for a journal that cannot be read
// completely. Read stops at the bad record rather than skip it: the records
// after it may be the undo entries of changes that were made, and a
// rollback without them would leave those changes in place.
type JournalError struct {
	// Path is the journal file; State is the state file, "" when there is
	// none yet.
	Path, State string
	// Line (from 1) and Offset (in bytes, from 0) are where the bad record
	// starts; Following counts the non-empty lines after it.
	Line      int
	Offset    int64
	Following int
	// Err says what is wrong with the record.
	Err error
}

func (e *JournalError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "journal %s is corrupt at line %d (byte offset %d): %v. ", e.Path, e.Line, e.Offset, e.Err)
	if e.State != "" {
		fmt.Fprintf(&b, "The state file %s is intact, but the journal holds the steps of an apply that did not finish, which must be rolled back", e.State)
	} else {
		b.WriteString("There is no state file yet: the journal holds the steps of a first apply that did not finish, which must be rolled back")
	}
	b.WriteString("; mailplan does not skip a record it cannot read, since a rollback without it could leave a change in place")
	if e.Following > 0 {
		fmt.Fprintf(&b, " (%d more lines follow it)", e.Following)
	}
	b.WriteString(". Keep a copy of the journal, look at that line, repair it or delete it by hand" +
		" (deleting loses the step it recorded: check that change on its host after the rollback)," +
		" then run `mailplan rollback`.")
	return b.String()
}

// Unwrap lets errors.Is match both ErrJournalCorrupt and the cause.
func (e *JournalError) Unwrap() []error { return []error{ErrJournalCorrupt, e.Err} }

// JournalPath is the append-only log of the apply in progress: one JSON
// record a line, each ending in '\n'. Records name the state version they
// apply to; Write truncates the log once the state it folds them into is
// durable, and Read ignores records of other versions, so a crash between
// the two loses nothing and replays nothing twice.
func (b *Backend) JournalPath() string { return b.path + ".journal" }

// Append writes one record to the journal and fsyncs it. The caller holds
// the lock: before the first record, Append repairs a last line that a
// crash left without its '\n' (see repairTail), which only the lock holder
// may do.
func (b *Backend) Append(ctx context.Context, rec *states.Record) error {
	t, err := b.AppendWrite(ctx, rec)
	if err != nil {
		return err
	}
	return b.Sync(ctx, t)
}

var _ states.GroupJournaler = (*Backend)(nil)

// AppendWrite implements states.GroupJournaler: it writes rec to the
// journal (the record's line whole, in one write) and returns its ticket.
func (b *Backend) AppendWrite(ctx context.Context, rec *states.Record) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encode journal record: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.journal == nil {
		dir := filepath.Dir(b.path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return 0, fmt.Errorf("create state directory: %w", err)
		}
		f, err := os.OpenFile(b.JournalPath(), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return 0, fmt.Errorf("open journal: %w", err)
		}
		if err := b.repairTail(f); err != nil {
			f.Close()
			return 0, err
		}
		// The file's name must be durable too, once.
		if err := syncDir(dir); err != nil {
			f.Close()
			return 0, err
		}
		b.journal = f
	}
	if _, err := b.journal.Write(append(line, '\n')); err != nil {
		// A short write (a full disk) leaves part of the record at the
		// end. Reopening before the next record repairs that tail, so no
		// record is glued onto the fragment. The records written before
		// it are flushed first, for the callers still waiting on them.
		if b.journal.Sync() == nil {
			b.durable = b.written
		}
		b.journal.Close()
		b.journal = nil
		return 0, fmt.Errorf("append to journal %s: %w", b.JournalPath(), err)
	}
	b.written++
	return b.written, nil
}

// Sync implements states.GroupJournaler. One fsync runs at a time; a
// caller whose record an fsync begun after it was written covered (or a
// Write that folded it into the state) returns without one of its own.
func (b *Backend) Sync(ctx context.Context, ticket uint64) error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	if b.durable >= ticket {
		b.mu.Unlock()
		return nil
	}
	target, f := b.written, b.journal
	b.mu.Unlock()
	if f == nil {
		return fmt.Errorf("fsync journal %s: closed after a failed write", b.JournalPath())
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync journal %s: %w", b.JournalPath(), err)
	}
	b.mu.Lock()
	b.durable = max(b.durable, target)
	b.mu.Unlock()
	return nil
}

// repairTail makes the journal end in '\n' before a record is appended,
// the way replayJournal reads it. A last line without its '\n' is an
// append that a crash (or a full disk) cut short; its step was never
// started, since Append had not returned. A whole record that lost only
// its '\n' is kept, as Read keeps it, and the '\n' added: a record of a
// step not begun is harmless to a rollback (Restore is idempotent).
// Anything else there is the torn rest of a record, and is cut off.
// Without this, the next record would be written onto the fragment, and
// the line they make would not decode.
func (b *Backend) repairTail(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat journal %s: %w", f.Name(), err)
	}
	size := fi.Size()
	start, err := lastLineStart(f, size)
	if err != nil {
		return fmt.Errorf("read journal %s: %w", f.Name(), err)
	}
	if start == size {
		return nil
	}
	tail := make([]byte, size-start)
	if _, err := f.ReadAt(tail, start); err != nil {
		return fmt.Errorf("read journal %s: %w", f.Name(), err)
	}
	if _, err := decodeRecord(tail); err == nil {
		b.logger.Warn("completing a journal record that lost its newline", "path", f.Name(), "offset", start)
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return fmt.Errorf("append to journal %s: %w", f.Name(), err)
		}
	} else {
		b.logger.Warn("removing a torn journal record before appending", "path", f.Name(), "offset", start, "bytes", len(tail))
		if err := f.Truncate(start); err != nil {
			return fmt.Errorf("truncate torn record of journal %s: %w", f.Name(), err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync journal %s: %w", f.Name(), err)
	}
	return nil
}

// lastLineStart returns the offset just after the last '\n' of the first
// size bytes of f: size when they end in '\n' (or are empty), 0 when there
// is no '\n'.
func lastLineStart(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		n := min(int64(len(buf)), end)
		chunk := buf[:n]
		if _, err := f.ReadAt(chunk, end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// decodeRecord decodes one journal line. A record must name its lineage
// and operation: JSON that is not a record (null, {}) is not skipped as
// "another version's".
func decodeRecord(line []byte) (*states.Record, error) {
	var rec states.Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, fmt.Errorf("not a journal record: %w", err)
	}
	if rec.Lineage == "" || rec.Op == "" {
		return nil, errors.New("not a journal record: no lineage or op")
	}
	return &rec, nil
}

// replayJournal applies the journal's records for s's version to s. exists
// says whether s came from a file; a new state adopts the lineage of the
// records of an apply that crashed before the first full write.
//
// Only a torn append may be dropped: a last line without its '\n' that
// does not decode (a whole record that lost only its '\n' is replayed).
// Any other record that does not decode, or that Replay rejects, is a
// *JournalError: a complete line was written whole and fsynced before its
// step began, so it cannot be a crash's doing, and the records after it
// must not be lost. That holds for the last line too, when it ends in '\n'.
// Empty lines are skipped. replayJournal never writes: Read may run
// without the lock.
func (b *Backend) replayJournal(s *states.State, exists bool) (int, error) {
	data, err := os.ReadFile(b.JournalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read journal: %w", err)
	}
	corrupt := func(line int, off int, err error) error {
		je := &JournalError{Path: b.JournalPath(), Line: line, Offset: int64(off), Err: err}
		if exists {
			je.State = b.path
		}
		for _, l := range bytes.Split(data[off:], []byte{'\n'})[1:] {
			if len(bytes.TrimSpace(l)) > 0 {
				je.Following++
			}
		}
		return je
	}
	n := 0
	for off, lineNo := 0, 1; off < len(data); lineNo++ {
		start := off
		line := data[start:]
		torn := true
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, torn = line[:i], false
			off = start + i + 1
		} else {
			off = len(data)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := decodeRecord(line)
		if err != nil {
			if torn {
				// The crash came during the append, so the step it
				// describes was never started. Append cuts it off
				// before writing the next record.
				b.logger.Warn("ignoring a torn journal record", "path", b.JournalPath(), "line", lineNo, "offset", start, "bytes", len(line))
				break
			}
			return n, corrupt(lineNo, start, err)
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
		if err := s.Replay(rec); err != nil {
			return n, corrupt(lineNo, start, fmt.Errorf("cannot replay the record: %w", err))
		}
		n++
	}
	return n, nil
}

// truncateJournal empties the journal after a state write made its records
// part of the state file.
func (b *Backend) truncateJournal() error {
	if b.journal != nil {
		if err := b.journal.Truncate(0); err != nil {
			return fmt.Errorf("truncate journal: %w", err)
		}
		return nil
	}
	err := os.Truncate(b.JournalPath(), 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("truncate journal: %w", err)
	}
	return nil
}
