package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mailplan/mailplan/engine/states"
)

var _ states.Journaler = (*Backend)(nil)

// JournalPath is the append-only log of the apply in progress. Records
// name the state version they apply to; Write truncates the log once the
// state it folds them into is durable, and Read ignores records of other
// versions, so a crash between the two loses nothing and replays nothing
// twice.
func (b *Backend) JournalPath() string { return b.path + ".journal" }

// Append writes one record to the journal and fsyncs it.
func (b *Backend) Append(ctx context.Context, rec *states.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode journal record: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.journal == nil {
		dir := filepath.Dir(b.path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
		f, err := os.OpenFile(b.JournalPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("open journal: %w", err)
		}
		// The file's name must be durable too, once.
		if err := syncDir(dir); err != nil {
			f.Close()
			return err
		}
		b.journal = f
	}
	if _, err := b.journal.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("append to journal %s: %w", b.JournalPath(), err)
	}
	if err := b.journal.Sync(); err != nil {
		return fmt.Errorf("fsync journal %s: %w", b.JournalPath(), err)
	}
	return nil
}

// replayJournal applies the journal's records for s's version to s. exists
// says whether s came from a file; a new state adopts the lineage of the
// records of an apply that crashed before the first full write.
func (b *Backend) replayJournal(s *states.State, exists bool) (int, error) {
	data, err := os.ReadFile(b.JournalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read journal: %w", err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec states.Record
		if err := json.Unmarshal(line, &rec); err != nil {
			// A torn last line: the crash came during the append, so the
			// step it describes was never started.
			b.logger.Warn("ignoring a torn journal record", "path", b.JournalPath())
			break
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
			return n, fmt.Errorf("replay journal %s: %w", b.JournalPath(), err)
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
