package local

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/mailplan/mailplan/engine/states"
)

var _ states.Historian = (*Backend)(nil)

// HistoryFile is the audit trail's file, beside the digest key: one JSON
// object a line, appended; a later line with the same ID replaces an
// earlier one.
const HistoryFile = "history.jsonl"

// HistoryPath is the audit trail's file.
func (b *Backend) HistoryPath() string {
	return filepath.Join(filepath.Dir(b.DigestKeyPath()), HistoryFile)
}

// RecordHistory implements states.Historian: it appends e and fsyncs.
func (b *Backend) RecordHistory(ctx context.Context, e *states.HistoryEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	path := b.HistoryPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("audit trail: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit trail: %w", err)
	}
	return f.Close()
}

// History implements states.Historian. A line cut short by a crash is
// skipped.
func (b *Backend) History(ctx context.Context) ([]states.HistoryEntry, error) {
	f, err := os.Open(b.HistoryPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	defer f.Close()
	byID := map[string]int{}
	var out []states.HistoryEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		var e states.HistoryEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID == "" {
			continue
		}
		if i, ok := byID[e.ID]; ok {
			out[i] = e
			continue
		}
		byID[e.ID] = len(out)
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}
