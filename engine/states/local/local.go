package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/statefile"
)

// ErrChanged is wrapped by Write's error when the file on disk is no longer
// the one that was read: another mailplan wrote it (without the lock), or
// it was replaced or removed by hand. It is states.ErrChanged.
var ErrChanged = states.ErrChanged

// ErrPushRefused is wrapped by Push's error when the pushed state would
// lose history: another lineage, or an older serial. -force overrides it.
// It is states.ErrPushRefused.
var ErrPushRefused = states.ErrPushRefused

var (
	_ states.Backend = (*Backend)(nil)
)

// Backend stores the state in one file. It is safe for concurrent use by
// the goroutines of one process; across processes, hold the lock.
type Backend struct {
	path   string
	logger hclog.Logger

	mu sync.Mutex
	// seen is the lineage and serial last read or written by this Backend,
	// nil before the first Read. Write refuses when the disk no longer
	// matches it.
	seen *mark
	// keyDir, when set, is where the digest key is (ShareDigestKey).
	keyDir string
	// journal is the open journal file, once appended to.
	journal *os.File
	// written counts the records written to the journal; durable is the
	// count of those known durable (fsynced, or in a state file Write
	// made durable). Both only grow; mu guards them.
	written, durable uint64
	// syncMu lets one fsync of the journal run at a time: the callers
	// that wait meanwhile find their records made durable by it or by
	// the next one (group commit).
	syncMu sync.Mutex
}

type mark struct {
	lineage string
	serial  uint64
	exists  bool
}

// New returns the backend for the state file at path, which is made
// absolute and clean. A nil logger logs nothing.
func New(path string, logger hclog.Logger) *Backend {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Backend{path: filepath.Clean(path), logger: logger}
}

// Path is the state file's absolute path.
func (b *Backend) Path() string { return b.path }

// BackupPath is where the previous version of the state is kept.
func (b *Backend) BackupPath() string { return b.path + ".backup" }

// LockPath is the lock file.
func (b *Backend) LockPath() string { return b.path + ".lock" }

// Read returns the stored state, or a new state with serial 0 and a fresh
// lineage when the file does not exist. An empty or corrupt file is an
// error, not a new state: mailplan never writes one, so someone else did.
func (b *Backend) Read(ctx context.Context) (*states.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.read()
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = states.NewState(newLineage())
		if _, err := b.replayJournal(s, false); err != nil {
			return nil, err
		}
		b.seen = &mark{lineage: s.Lineage}
		b.logger.Debug("no state file; starting a new state", "path", b.path, "lineage", s.Lineage)
		return s, nil
	}
	if n, err := b.replayJournal(s, true); err != nil {
		return nil, err
	} else if n > 0 {
		b.logger.Info("replayed the journal of an unfinished apply", "records", n)
	}
	b.seen = &mark{lineage: s.Lineage, serial: s.Serial, exists: true}
	b.logger.Debug("read state", "path", b.path, "serial", s.Serial, "lineage", s.Lineage)
	return s, nil
}

// ReadRaw returns the state file's bytes as they are, for `state pull`. A
// missing file is an error for which errors.Is(err, fs.ErrNotExist) holds.
func (b *Backend) ReadRaw(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(b.path)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return data, nil
}

// Write stores s as the next version: the serial on disk plus one, which it
// also sets in s. It refuses, with an error wrapping ErrChanged, when the
// file's lineage or serial is no longer what this Backend last read or
// wrote (or, before any Read, what s says), and when s is of another
// lineage than the file.
func (b *Backend) Write(ctx context.Context, s *states.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s == nil {
		return fmt.Errorf("write state %s: no state", b.path)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, raw, err := b.load()
	if err != nil {
		return err
	}
	want := b.seen
	if want == nil {
		want = &mark{lineage: s.Lineage, serial: s.Serial, exists: s.Serial > 0}
	}
	switch {
	case s.Lineage != want.lineage:
		return fmt.Errorf("write state %s: the state has lineage %s but lineage %s was read; use state push -force to replace a state with another: %w",
			b.path, s.Lineage, want.lineage, ErrChanged)
	case cur == nil && want.exists:
		return fmt.Errorf("write state %s: the file was removed since serial %d was read: %w", b.path, want.serial, ErrChanged)
	case cur != nil && cur.Lineage != want.lineage:
		return fmt.Errorf("write state %s: the file now has lineage %s, not %s: %w", b.path, cur.Lineage, want.lineage, ErrChanged)
	case cur != nil && cur.Serial != want.serial:
		return fmt.Errorf("write state %s: the file is at serial %d, but serial %d was read: %w", b.path, cur.Serial, want.serial, ErrChanged)
	}
	next := uint64(1)
	if cur != nil {
		next = cur.Serial + 1
	}
	out := *s
	out.Serial = next
	data, err := statefile.Encode(&out)
	if err != nil {
		return fmt.Errorf("write state %s: %w", b.path, err)
	}
	if err := b.replace(data, raw); err != nil {
		return err
	}
	if err := b.truncateJournal(); err != nil {
		return err
	}
	// The records written so far are part of the state file now, durably.
	b.durable = b.written
	s.Serial = next
	s.Version = states.FormatVersion
	b.seen = &mark{lineage: s.Lineage, serial: next, exists: true}
	b.logger.Debug("wrote state", "path", b.path, "serial", next)
	return nil
}

// Push replaces the stored state with s, for `state push`. Unless force is
// set it refuses, with an error wrapping ErrPushRefused, a state of another
// lineage, of a lower serial, or of the same serial with other contents.
// The serial written is s.Serial, or the stored serial plus one when that
// is higher, so that every reader sees the change; pushing the state that
// is already stored does nothing. s is not modified.
func (b *Backend) Push(ctx context.Context, s *states.State, force bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s == nil {
		return fmt.Errorf("push state %s: no state", b.path)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, raw, err := b.load()
	if err != nil && !force {
		return fmt.Errorf("%w (state push -force replaces it)", err)
	}
	serial := s.Serial
	if cur != nil {
		same, err := statefile.Same(cur, s)
		if err != nil {
			return fmt.Errorf("push state %s: %w", b.path, err)
		}
		switch {
		case same:
			b.logger.Debug("pushed state is already stored", "path", b.path, "serial", cur.Serial)
			return nil
		case force:
		case s.Lineage != cur.Lineage:
			return fmt.Errorf("push state %s: the state has lineage %s but the stored state has lineage %s: %w",
				b.path, s.Lineage, cur.Lineage, ErrPushRefused)
		case s.Serial < cur.Serial:
			return fmt.Errorf("push state %s: the state has serial %d, older than the stored serial %d: %w",
				b.path, s.Serial, cur.Serial, ErrPushRefused)
		case s.Serial == cur.Serial:
			return fmt.Errorf("push state %s: the state has the stored serial %d but other contents: %w",
				b.path, s.Serial, ErrPushRefused)
		}
		serial = max(serial, cur.Serial+1)
	}
	out := *s
	out.Serial = serial
	data, err := statefile.Encode(&out)
	if err != nil {
		return fmt.Errorf("push state %s: %w", b.path, err)
	}
	if err := b.replace(data, raw); err != nil {
		return err
	}
	if err := b.truncateJournal(); err != nil {
		return err
	}
	b.seen = &mark{lineage: s.Lineage, serial: serial, exists: true}
	b.logger.Info("pushed state", "path", b.path, "serial", serial, "lineage", s.Lineage, "force", force)
	return nil
}

// load reads and decodes the file: nil, nil, nil when there is none. raw is
// what was read, even when it does not decode.
func (b *Backend) load() (s *states.State, raw []byte, err error) {
	raw, err = os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read state: %w", err)
	}
	s, err = statefile.Decode(raw)
	if err != nil {
		return nil, raw, fmt.Errorf("read state %s: %w", b.path, err)
	}
	return s, raw, nil
}

// read decodes the file as it reads it (statefile.DecodeFrom), without
// holding all of it in memory: nil, nil when there is none.
func (b *Backend) read() (*states.State, error) {
	f, err := os.Open(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	defer f.Close()
	s, err := statefile.DecodeFrom(f)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", b.path, err)
	}
	return s, nil
}

// replace puts data in place of the state file atomically, after keeping
// old (the file's current contents, nil when there is none) as the backup.
func (b *Backend) replace(data, old []byte) error {
	dir := filepath.Dir(b.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	tmp, err := writeTemp(dir, filepath.Base(b.path), data)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	// The backup is a copy written the same careful way, not a rename of
	// the old file: at every moment the state file exists and is whole.
	if old != nil {
		btmp, err := writeTemp(dir, filepath.Base(b.BackupPath()), old)
		if err != nil {
			return err
		}
		if err := os.Rename(btmp, b.BackupPath()); err != nil {
			os.Remove(btmp)
			return fmt.Errorf("keep backup of state: %w", err)
		}
	}
	if err := os.Rename(tmp, b.path); err != nil {
		return fmt.Errorf("replace state: %w", err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return err
	}
	return nil
}

// writeTemp writes data to a new file of mode 0600 in dir, synced to disk,
// and returns its name.
func writeTemp(dir, base string, data []byte) (name string, err error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create temporary state file: %w", err)
	}
	name = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	// CreateTemp already uses 0600; say so explicitly so that a change
	// there cannot widen a file that may name every mailbox we manage.
	if err := f.Chmod(0o600); err != nil {
		return "", fmt.Errorf("chmod %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("fsync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", name, err)
	}
	return name, nil
}

// syncDir makes the renames in dir durable. Filesystems that cannot fsync a
// directory say EINVAL or ENOTSUP; there is nothing more to do on them.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// newLineage returns a random version 4 UUID.
func newLineage() string { return states.NewID() }
