package mailbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// batchSize is how many creates or renames one journal entry announces.
const batchSize = 512

// streamBatchSize is how many messages are copied between two flushes
// when the source streams them (apply_stream.go); each of its batchSize
// parts is one journal entry, all recorded before the first is copied.
const streamBatchSize = 8 * batchSize

// entry is one journal entry: the destination changes about to be made.
// Restore undoes them newest-first.
type entry struct {
	// Dirs are directories about to be created, parents first.
	Dirs pathList `json:"dirs,omitempty"`
	// Created are message files about to be renamed into cur/ or new/.
	Created pathList `json:"created,omitempty"`
	// Renames are flag changes about to be made, [from, to].
	Renames []pathPair `json:"renames,omitempty"`
	// Meta are metadata files about to be written.
	Meta []metaEntry `json:"meta,omitempty"`
	// Manifest are manifest files about to be written (manifest.go).
	Manifest pathList `json:"manifest,omitempty"`
	// Removed are messages mirror is about to move out of their Maildir
	// into the store, [from, to] (mirror.go).
	Removed []pathPair `json:"removed,omitempty"`
}

type metaEntry struct {
	Path string `json:"path"`
	// Before is the keyed digest (keep.Sum) of the file replaced, naming
	// its copy kept by package keep; "" when there was none. Journals
	// written before keyed digests hold its plain SHA-256, which keep
	// still takes.
	Before string `json:"before,omitempty"`
	// Content is the earlier content verbatim, for mailplan's own small
	// record file (Record true); nil when there was none.
	Record  bool    `json:"record,omitempty"`
	Content *string `json:"content,omitempty"`
}

// ConflictError is an apply refused because files at the destination are in
// the way of the copy.
type ConflictError struct {
	Conflicts []string
	Metadata  bool
}

func (e *ConflictError) Error() string {
	shown := e.Conflicts[:min(listed, len(e.Conflicts))]
	msg := fmt.Sprintf("%d conflicts at the destination, nothing copied (mailplan never overwrites a different message): %s",
		len(e.Conflicts), strings.Join(shown, "; "))
	if len(e.Conflicts) > len(shown) {
		msg += fmt.Sprintf("; and %d more", len(e.Conflicts)-len(shown))
	}
	if e.Metadata {
		msg += ". Dovecot on the new server has already used these mailboxes, so the UIDs there may no longer match the old server's. " +
			"Run the final sync with IMAP on the new server stopped: add a service_state resource stopping dovecot on the destination host " +
			"and make this mailbox_copy depend on it (depends_on); remove the changed files if the new server's state can be discarded"
	}
	return msg
}

// Apply implements resource.Type. It lists both sides again and copies
// whatever is missing now, not what the plan counted.
func (c *Copy) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	cfg, err := decode(req.Config)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	src, dst, err := c.hostsOf(ctx, cfg)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	log := req.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := c.takeRecent(cfg)
	if s == nil {
		if s, err = scanTrees(ctx, src, dst, cfg); err != nil {
			logPanic(log, err)
			return resource.ApplyResponse{}, err
		}
	}
	if len(s.conflicts) > 0 {
		meta := false
		for _, c := range s.conflicts {
			meta = meta || strings.HasSuffix(c, "since mailplan wrote it")
		}
		return resource.ApplyResponse{}, &ConflictError{Conflicts: s.conflicts, Metadata: meta}
	}
	free, err := freeSpace(ctx, dst, cfg.Destination)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	if free != nil && uint64(s.need()) > *free {
		return resource.ApplyResponse{}, fmt.Errorf("not enough free space at %s on %s: the copy needs about %s, %s free",
			cfg.Destination, dst.Name(), sizeString(s.need()), sizeString(int64(*free)))
	}
	a := &applier{cfg: cfg, src: src, dst: dst, s: s, j: req.Journal, log: log, progress: req.Progress, uid: -1, gid: -1,
		dirs: newDirCache(dst)}
	defer a.dirs.close()
	if cfg.Owner != "" {
		if a.uid, err = dst.LookupUser(ctx, cfg.Owner); err != nil {
			return resource.ApplyResponse{}, resource.Errorf("owner", "Unknown owner", "%s", err)
		}
	}
	if cfg.Group != "" {
		if a.gid, err = dst.LookupGroup(ctx, cfg.Group); err != nil {
			return resource.ApplyResponse{}, resource.Errorf("group", "Unknown group", "%s", err)
		}
	}
	if cfg.maxBPS > 0 {
		a.throttle = &throttle{rate: cfg.maxBPS, start: time.Now()}
	}
	log.Info("copying", "messages", len(s.copies), "bytes", s.bytes, "renames", len(s.renames), "removals", len(s.removals),
		"already_there", len(s.pairs), "metadata", len(s.metas), "mailboxes", len(s.mailboxes))
	if err := a.run(ctx); err != nil {
		logPanic(log, err)
		return resource.ApplyResponse{}, err
	}
	// The state keeps this with the instance; a later plan with once =
	// true finds it in Prior.Private.
	return resource.ApplyResponse{Private: []byte(completedPrivate)}, nil
}

type applier struct {
	cfg      config
	src, dst transport.Host
	s        *scan
	j        resource.Journal
	log      hclog.Logger
	progress resource.Progress
	uid, gid int
	throttle *throttle
	// dirs holds the destination's open directories, when it has them.
	dirs *dirCache
	// noStream: the source cannot stream files (apply_stream.go).
	noStream atomic.Bool
	mu       sync.Mutex
	skipped  int
	// changed: the apply journalled a change.
	changed bool
	// settled is when the apply last changed a cur/, new/ or tmp/.
	settled time.Time
}

func (a *applier) record(ctx context.Context, e entry) error {
	a.changed = true
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if a.j == nil {
		return nil
	}
	return a.j.Record(ctx, b)
}

func (a *applier) run(ctx context.Context) error {
	// Leftovers of a killed apply: never visible to a reader, removed now.
	for _, mb := range a.s.mailboxes {
		for _, name := range mb.dstTmp {
			p := join(a.cfg.Destination, mb.rel, "tmp", name)
			if err := a.dst.Remove(ctx, p); err != nil {
				return fmt.Errorf("remove leftover %s on %s: %w", p, a.dst.Name(), err)
			}
		}
	}
	if err := a.makeDirs(ctx); err != nil {
		return err
	}
	if a.progress != nil {
		a.progress.Total(a.s.bytes, "bytes")
	}
	// What mailplan is about to leave in each mailbox, before it is there:
	// with messages to copy, the flush before the first of them is put in
	// place makes it durable too.
	if err := a.writeDeltas(ctx, a.intents(), len(a.s.copies) == 0); err != nil {
		return err
	}
	if err := a.copyBatches(ctx); err != nil {
		return err
	}
	for i := 0; i < len(a.s.renames); i += batchSize {
		batch := a.s.renames[i:min(i+batchSize, len(a.s.renames))]
		e := entry{}
		for _, op := range batch {
			e.Renames = append(e.Renames, [2]string{
				join(a.cfg.Destination, op.mb.rel, op.from.sub, op.from.name),
				join(a.cfg.Destination, op.mb.rel, op.to.sub, op.to.name)})
		}
		if err := a.record(ctx, e); err != nil {
			return err
		}
		for _, r := range e.Renames {
			if err := a.dst.Rename(ctx, r[0], r[1]); err != nil {
				return fmt.Errorf("rename %s on %s: %w", r[0], a.dst.Name(), err)
			}
		}
	}
	if err := a.removeMirrored(ctx); err != nil {
		return err
	}
	// The last change to a cur/, new/ or tmp/ (recordDirs).
	a.settled = time.Now()
	if err := a.writeDeltas(ctx, a.changes(ctx), true); err != nil {
		return err
	}
	if err := a.copyMeta(ctx); err != nil {
		return err
	}
	if err := a.recordDirs(ctx); err != nil {
		return err
	}
	if a.skipped > 0 {
		a.log.Warn("messages gone from the source while copying (renamed or removed there); the next run copies them under their new names", "count", a.skipped)
	}
	return nil
}

// makeDirs creates the destination Maildirs that are missing, journalling
// each directory first so that rollback removes the ones it made.
func (a *applier) makeDirs(ctx context.Context) error {
	known := map[string]bool{}
	if a.s.dstRootExists {
		known[a.cfg.Destination] = true
	}
	var e entry
	var todo []string
	for _, mb := range a.s.mailboxes {
		d := join(a.cfg.Destination, mb.rel)
		if mb.dstDir {
			// It and its parents exist: no stat for them on a re-run.
			for p := d; !known[p]; p = path.Dir(p) {
				known[p] = true
				if p == a.cfg.Destination || p == "/" || p == "." {
					break
				}
			}
			if mb.dstSubs["cur"] && mb.dstSubs["new"] && mb.dstSubs["tmp"] {
				continue
			}
		}
		// Ancestors from the root down, then cur, new and tmp.
		var chain []string
		for p := d; ; p = path.Dir(p) {
			chain = append([]string{p}, chain...)
			if p == a.cfg.Destination || p == "/" || p == "." {
				break
			}
		}
		for _, sub := range []string{"cur", "new", "tmp"} {
			if !mb.dstSubs[sub] {
				chain = append(chain, path.Join(d, sub))
			}
		}
		for _, p := range chain {
			if known[p] {
				continue
			}
			known[p] = true
			if _, err := a.dst.Stat(ctx, p); err == nil {
				continue
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("stat %s on %s: %w", p, a.dst.Name(), err)
			}
			e.Dirs = append(e.Dirs, p)
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := a.record(ctx, e); err != nil {
		return err
	}
	for _, p := range todo {
		if err := a.dst.MkdirAll(ctx, p, 0o700); err != nil {
			return fmt.Errorf("create %s on %s: %w", p, a.dst.Name(), err)
		}
		if err := a.chown(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) chown(ctx context.Context, p string) error {
	if a.uid < 0 && a.gid < 0 {
		return nil
	}
	if err := a.dst.Chown(ctx, p, a.uid, a.gid); err != nil {
		return fmt.Errorf("chown %s on %s: %w", p, a.dst.Name(), err)
	}
	return nil
}

// copyBatches copies the messages, batchSize at a time, each batch
// announced in the journal before any of its messages is written. A batch
// is copied in two phases: every message is written to tmp/ and verified
// (stageBatch); then the filesystem is flushed once (syncfs) and the
// messages renamed into cur/ or new/, so none is visible before its bytes
// are durable (finishBatch). The second phase of one batch runs while the
// next batch is staged: the flush then waits on the disk while the next
// messages come over the network. The first error stops the copy;
// temporary files left are removed by the next run.
func (a *applier) copyBatches(ctx context.Context) error {
	var finish func() error // the previous batch's second phase
	size := batchSize
	if _, ok := a.src.(transport.Streamer); ok {
		// A stream costs a command on the source: fewer, larger batches.
		size = streamBatchSize
	}
	for i := 0; i < len(a.s.copies); i += size {
		batch := a.s.copies[i:min(i+size, len(a.s.copies))]
		for k := 0; k < len(batch); k += batchSize {
			part := batch[k:min(k+batchSize, len(batch))]
			e := entry{Created: make([]string, len(part))}
			for k, op := range part {
				e.Created[k] = join(a.cfg.Destination, op.mb.rel, op.f.sub, op.f.name)
			}
			if err := a.record(ctx, e); err != nil {
				return errors.Join(err, runFinish(finish))
			}
		}
		done := make(chan error, 1)
		go func(finish func() error) { done <- runFinish(finish) }(finish)
		staged, err := a.stageBatch(ctx, batch)
		if err = errors.Join(err, <-done); err != nil {
			for _, tmp := range staged {
				if tmp != "" {
					_ = a.dst.Remove(context.WithoutCancel(ctx), tmp)
				}
			}
			return err
		}
		finish = func() error { return a.finishBatch(ctx, batch, staged) }
	}
	return runFinish(finish)
}

// runFinish runs a batch's second phase, if any, its panic an error.
func runFinish(finish func() error) (err error) {
	if finish == nil {
		return nil
	}
	defer recovered("renaming a batch into place", &err)
	return finish()
}

// finishBatch flushes what stageBatch wrote and renames it into place.
func (a *applier) finishBatch(ctx context.Context, batch []copyOp, staged []string) error {
	syncer, _ := a.dst.(transport.FSSyncer)
	if syncer != nil {
		if err := syncer.SyncFS(ctx, a.cfg.Destination); err != nil {
			return fmt.Errorf("flush %s on %s: %w", a.cfg.Destination, a.dst.Name(), err)
		}
	}
	err := a.parallel(ctx, len(batch), func(i int) string { return "renaming " + staged[i] }, func(ctx context.Context, i int) error {
		if staged[i] == "" {
			return nil // gone from the source
		}
		op := batch[i]
		return a.renameStaged(ctx, staged[i], join(a.cfg.Destination, op.mb.rel, op.f.sub, op.f.name))
	})
	if err != nil {
		return err
	}
	if syncer != nil {
		// The new directory entries.
		if err := syncer.SyncFS(ctx, a.cfg.Destination); err != nil {
			return fmt.Errorf("flush %s on %s: %w", a.cfg.Destination, a.dst.Name(), err)
		}
	}
	return nil
}
func (a *applier) srcPath(op copyOp) string {
	return join(a.cfg.Source, op.mb.rel, op.f.sub, op.f.name)
}

var pid = os.Getpid()

// smallMessage is the size up to which a message is read in one call into
// a pooled buffer.
const smallMessage = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, smallMessage); return &b }}

func tmpName(base string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s%d-%s", tmpPrefix(base), pid, hex.EncodeToString(b[:]))
}

// tmpPrefix is how the name of a temporary file staged for the message
// with base name base begins. The base name keeps a leftover
// recognisable, and lets Restore find it.
func tmpPrefix(base string) string {
	if len(base) > 180 {
		base = base[:180]
	}
	return base + tmpMarker
}

// stage streams one message into the destination's tmp/, verifies it, and
// sets owner and time; it returns the temporary path, or "" for a message
// no longer at the source. With fsync it also flushes the file (when the
// host cannot flush a whole filesystem at once).
func (a *applier) stage(ctx context.Context, op copyOp, fsync bool) (tmpPath string, err error) {
	sp := a.srcPath(op)
	r, err := a.src.Open(ctx, sp)
	if errors.Is(err, fs.ErrNotExist) {
		a.log.Debug("message gone from the source", "path", sp)
		a.mu.Lock()
		a.skipped++
		a.mu.Unlock()
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("open %s on %s: %w", sp, a.src.Name(), err)
	}
	// The source's close is not waited for: over SFTP it is a round trip
	// that nothing depends on.
	defer closeLater(r, a.log, sp)
	return a.stageFrom(ctx, op, r, fsync)
}

// stageFrom is stage with the message's content read from r, which has
// at least its listed size.
func (a *applier) stageFrom(ctx context.Context, op copyOp, r io.Reader, fsync bool) (tmpPath string, err error) {
	sp := a.srcPath(op)
	t, err := a.tmpFile(ctx, op)
	if err != nil {
		return "", err
	}
	tmp := t.path
	w, err := t.create(ctx, op.f.mode.Perm()|0o600)
	if err != nil {
		return "", fmt.Errorf("create %s on %s: %w", tmp, a.dst.Name(), err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				w.Close()
			}
			if rerr := t.remove(context.WithoutCancel(ctx)); rerr != nil {
				a.log.Warn("cannot remove temporary file", "path", tmp, "error", rerr)
			}
		}
	}()
	// Runs before the removal above, so that a panic removes tmp too.
	defer recovered("copying "+sp, &err)
	cw := &countWriter{w: w, a: a, ctx: ctx}
	var sum hash.Hash
	var dstW io.Writer = cw
	if a.cfg.Verify == "sha256" {
		sum = sha256.New()
		dstW = io.MultiWriter(cw, sum)
	}
	var n int64
	if op.f.size <= smallMessage {
		// Most mail: one read of the listed size (over SFTP, its packets
		// all in flight at once), no stat, no read to see EOF.
		bp := bufPool.Get().(*[]byte)
		buf := (*bp)[:op.f.size]
		var m int
		// Maildir messages are never rewritten in place, so the listed
		// size is the size.
		m, err = io.ReadFull(r, buf)
		if err == nil {
			m, err = dstW.Write(buf)
		}
		bufPool.Put(bp)
		n = int64(m)
	} else {
		// io.Copy uses the SFTP file's WriteTo, which keeps several reads
		// in flight.
		n, err = io.Copy(dstW, r)
	}
	if err != nil {
		return "", fmt.Errorf("copy %s on %s to %s on %s: %w", sp, a.src.Name(), tmp, a.dst.Name(), err)
	}
	if n != op.f.size {
		return "", fmt.Errorf("verify %s: read %d bytes from %s on %s, listed with %d; was the message changed at the source?", tmp, n, sp, a.src.Name(), op.f.size)
	}
	if s, ok := w.(interface{ Sync() error }); ok && fsync {
		if err = s.Sync(); err != nil {
			return "", fmt.Errorf("fsync %s on %s: %w", tmp, a.dst.Name(), err)
		}
	}
	closed = true
	if err = w.Close(); err != nil {
		return "", fmt.Errorf("close %s on %s: %w", tmp, a.dst.Name(), err)
	}
	if err = a.verify(ctx, tmp, op.f.size, sum); err != nil {
		return "", fmt.Errorf("verify %s: %w", tmp, err)
	}
	if err = t.chown(ctx); err != nil {
		return "", err
	}
	if err = t.chtimes(ctx, op.f.modTime()); err != nil {
		return "", err
	}
	return tmp, nil
}

// verify checks the file written at tmp: its size, and with sha256 its
// content read back from the destination against the digest of the bytes
// read from the source.
func (a *applier) verify(ctx context.Context, tmp string, size int64, sum hash.Hash) error {
	if sum == nil {
		return nil // stage compared the bytes read and written with the listed size
	}
	r, err := a.dst.Open(ctx, tmp)
	if err != nil {
		return err
	}
	defer r.Close()
	back := sha256.New()
	n, err := io.Copy(back, r)
	if err != nil {
		return fmt.Errorf("read back %s on %s: %w", tmp, a.dst.Name(), err)
	}
	if n != size || string(back.Sum(nil)) != string(sum.Sum(nil)) {
		return fmt.Errorf("%s on %s does not have the source's SHA-256 (%d bytes read back, %d expected)", tmp, a.dst.Name(), n, size)
	}
	return nil
}

// countWriter reports progress and applies the throttle as bytes land.
type countWriter struct {
	w   io.Writer
	a   *applier
	ctx context.Context
}

func (c *countWriter) Write(b []byte) (int, error) {
	if c.a.throttle != nil {
		if err := c.a.throttle.wait(c.ctx, int64(len(b))); err != nil {
			return 0, err
		}
	}
	n, err := c.w.Write(b)
	if c.a.progress != nil && n > 0 {
		c.a.progress.Add(int64(n))
	}
	return n, err
}

// throttle paces all transfers together to rate bytes per second.
type throttle struct {
	mu    sync.Mutex
	rate  int64
	start time.Time
	sent  int64
}

func (t *throttle) wait(ctx context.Context, n int64) error {
	t.mu.Lock()
	t.sent += n
	due := t.start.Add(time.Duration(float64(t.sent) / float64(t.rate) * float64(time.Second)))
	t.mu.Unlock()
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readRecord returns the digests of the metadata files mailplan last wrote
// in the destination mailbox dir.
func readRecord(ctx context.Context, h transport.Host, dir string) (map[string]string, error) {
	raw, err := readRecordRaw(ctx, h, dir)
	if err != nil || raw == nil {
		return map[string]string{}, err
	}
	rec := map[string]string{}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return map[string]string{}, nil // unreadable: as if mailplan had written nothing
	}
	return rec, nil
}

func recordPath(dir string) string { return path.Join(storeFor(dir), recordName) }

// storeFor is where mailbox_copy keeps its record and the earlier metadata
// files of the mailbox in dir: outside the Maildir, beside it, because
// Dovecot shows every dot-directory inside a Maildir as a folder
// (Maildir++). /home/alice/Maildir/.Sent keeps them in
// /home/alice/.mailplan-snapshots/Maildir/.Sent.
func storeFor(dir string) string {
	root, folder := dir, "INBOX"
	if b := path.Base(dir); strings.HasPrefix(b, ".") {
		root, folder = path.Dir(dir), b
	}
	return path.Join(path.Dir(root), keep.Dir, path.Base(root), folder)
}

func readRecordRaw(ctx context.Context, h transport.Host, dir string) ([]byte, error) {
	p := recordPath(dir)
	b, err := h.ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s on %s: %w", p, h.Name(), err)
	}
	return b, nil
}

// copyMeta writes the Dovecot metadata after the messages it lists, one
// mailbox at a time, keeping the files it replaces.
func (a *applier) copyMeta(ctx context.Context) error {
	byMbox := map[*mbox][]metaOp{}
	var order []*mbox
	for _, m := range a.s.metas {
		if byMbox[m.mb] == nil {
			order = append(order, m.mb)
		}
		byMbox[m.mb] = append(byMbox[m.mb], m)
	}
	for _, mb := range order {
		dir := join(a.cfg.Destination, mb.rel)
		raw, err := readRecordRaw(ctx, a.dst, dir)
		if err != nil {
			return err
		}
		rec := map[string]string{}
		_ = json.Unmarshal(raw, &rec)
		e := entry{}
		re := metaEntry{Path: recordPath(dir), Record: true}
		if raw != nil {
			s := string(raw)
			re.Content = &s
		}
		e.Meta = append(e.Meta, re)
		for _, m := range byMbox[mb] {
			e.Meta = append(e.Meta, metaEntry{Path: path.Join(dir, m.name), Before: m.dstSum})
		}
		if err := a.record(ctx, e); err != nil {
			return err
		}
		for _, m := range byMbox[mb] {
			dp := path.Join(dir, m.name)
			// A write of an earlier apply killed half way (this one
			// continues it) left its temporary file beside dp.
			if err := transport.RemoveTemps(ctx, a.dst, dp); err != nil {
				return err
			}
			if m.dst != nil {
				if err := keep.SaveIn(ctx, a.dst, storeFor(dir), dp, m.dstSum, nil); err != nil {
					return err
				}
			}
			sp := join(a.cfg.Source, mb.rel, m.name)
			data, err := a.src.ReadFile(ctx, sp)
			if err != nil {
				return fmt.Errorf("read %s on %s: %w", sp, a.src.Name(), err)
			}
			if err := a.dst.WriteFile(ctx, dp, data, transport.WriteOptions{Mode: m.src.Mode.Perm() | 0o600, UID: a.uid, GID: a.gid}); err != nil {
				return fmt.Errorf("write %s on %s: %w", dp, a.dst.Name(), err)
			}
			if err := a.dst.Chtimes(ctx, dp, m.src.ModTime); err != nil {
				return fmt.Errorf("set time of %s on %s: %w", dp, a.dst.Name(), err)
			}
			// Keyed: the journal holds the record's earlier content.
			rec[m.name] = keep.Sum(ctx, data)
		}
		b, _ := json.MarshalIndent(rec, "", "  ")
		if err := transport.RemoveTemps(ctx, a.dst, recordPath(dir)); err != nil {
			return err
		}
		if err := keep.MkdirStore(ctx, a.dst, storeFor(dir)); err != nil {
			return fmt.Errorf("create %s on %s: %w", storeFor(dir), a.dst.Name(), err)
		}
		if err := a.dst.WriteFile(ctx, recordPath(dir), b, transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1}); err != nil {
			return fmt.Errorf("write %s on %s: %w", recordPath(dir), a.dst.Name(), err)
		}
	}
	return nil
}
