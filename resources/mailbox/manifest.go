package mailbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// The manifest: what mailplan put in a destination mailbox, so that a
// later copy — the same resource or another one (a migration's final pass
// is another resource than its first) — can tell its own copies from mail
// the new server got by itself, and mirror what the source did to them
// since (mirror.go). It lives in the mailbox's store (storeFor), beside
// the Maildir, never in the state: it names every message.
//
// It is a set of delta files, never one file rewritten: each apply that
// copies into a mailbox writes one new file before the messages it names
// go into place (an intent: an entry whose file is not there is not
// mailplan's copy, and counts for nothing), and one after the renames and
// removals it made. A rollback removes the apply's files (journalled
// before they are written), and nothing else changes: no large file is
// copied aside per apply, and a killed write leaves a file that does not
// parse, which counts for nothing either. The files are read in name
// order, which is the order they were written (the name starts with the
// time in nanoseconds, fixed width).

// manifestPrefix starts the name of every manifest file in a store.
const manifestPrefix = "mailbox_copy-copied-"

// manifestItem is one message mailplan left in the mailbox: the file, in
// cur/ or new/ ("cur/NAME"), as mailplan named it, and its size. Its base
// name is the source's, except for a message dedupe matched with mail the
// destination already had (then the destination's).
type manifestItem struct {
	File string
	Size int64
}

// manifest maps source base names to what mailplan left for them.
type manifest map[string]manifestItem

// manifestLine is one entry of a delta file: a message left as File with
// Size, or, with Gone, one mailplan no longer has a copy of.
type manifestLine struct {
	Base json.RawMessage `json:"base"`
	File json.RawMessage `json:"file,omitempty"`
	Size int64           `json:"size,omitempty"`
	Gone bool            `json:"gone,omitempty"`
}

type manifestDelta struct {
	Version  int            `json:"version"`
	Messages []manifestLine `json:"messages"`
}

// manifestChange is what an apply records for one base name: nil item
// for a message removed.
type manifestChange struct {
	base string
	item *manifestItem
}

// encodeDelta is a delta file's content.
func encodeDelta(changes []manifestChange) []byte {
	d := manifestDelta{Version: 1, Messages: make([]manifestLine, 0, len(changes))}
	for _, c := range changes {
		l := manifestLine{Base: pathJSON(c.base), Gone: c.item == nil}
		if c.item != nil {
			l.File, l.Size = pathJSON(c.item.File), c.item.Size
		}
		d.Messages = append(d.Messages, l)
	}
	b, _ := json.Marshal(d)
	return b
}

// apply merges the delta in b into m; a delta that does not parse (a
// write killed half way, or a newer format) changes nothing.
func (m manifest) apply(b []byte) {
	var d manifestDelta
	if json.Unmarshal(b, &d) != nil || d.Version != 1 {
		return
	}
	type change struct {
		base string
		item manifestItem
		gone bool
	}
	var cs []change
	for _, l := range d.Messages {
		base, err := pathFromJSON(l.Base)
		if err != nil {
			return
		}
		c := change{base: base, gone: l.Gone}
		if !l.Gone {
			if c.item.File, err = pathFromJSON(l.File); err != nil {
				return
			}
			c.item.Size = l.Size
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		if c.gone {
			delete(m, c.base)
		} else {
			m[c.base] = c.item
		}
	}
}

// readManifest reads the manifest of the destination mailbox dir: empty
// when mailplan has recorded nothing there.
func readManifest(ctx context.Context, h transport.Host, dir string) (manifest, error) {
	m := manifest{}
	store := storeFor(dir)
	es, err := h.ReadDir(ctx, store)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s on %s: %w", store, h.Name(), err)
	}
	var names []string
	for _, e := range es {
		if e.IsRegular() && strings.HasPrefix(e.Name, manifestPrefix) && strings.HasSuffix(e.Name, ".json") {
			names = append(names, e.Name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p := path.Join(store, n)
		b, err := h.ReadFile(ctx, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s on %s: %w", p, h.Name(), err)
		}
		m.apply(b)
	}
	return m, nil
}

// deltaName is the name of a new delta file: the time first, so that
// name order is write order.
func deltaName() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s%020d-%d-%s.json", manifestPrefix, time.Now().UnixNano(), pid, hex.EncodeToString(b[:]))
}

// writeDeltas records changes, per destination mailbox directory: the
// delta files are journalled, then written, and made durable together
// (one syncfs when the host has it, else WriteFile's fsyncs). Without
// flush, the syncfs is left to the caller's next one, which must come
// before anything the deltas name is put in place.
func (a *applier) writeDeltas(ctx context.Context, byDir map[string][]manifestChange, flush bool) error {
	if len(byDir) == 0 {
		return nil
	}
	dirs := make([]string, 0, len(byDir))
	for d := range byDir {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var e entry
	for _, d := range dirs {
		e.Manifest = append(e.Manifest, path.Join(storeFor(d), deltaName()))
	}
	if err := a.record(ctx, e); err != nil {
		return err
	}
	syncer, _ := a.dst.(transport.FSSyncer)
	for i, d := range dirs {
		p := e.Manifest[i]
		if err := keep.MkdirStore(ctx, a.dst, path.Dir(p)); err != nil {
			return fmt.Errorf("create %s on %s: %w", path.Dir(p), a.dst.Name(), err)
		}
		data := encodeDelta(byDir[d])
		if syncer == nil {
			if err := a.dst.WriteFile(ctx, p, data, transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1}); err != nil {
				return fmt.Errorf("write %s on %s: %w", p, a.dst.Name(), err)
			}
			continue
		}
		w, err := a.dst.Create(ctx, p, 0o600)
		if err != nil {
			return fmt.Errorf("create %s on %s: %w", p, a.dst.Name(), err)
		}
		_, err = w.Write(data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s on %s: %w", p, a.dst.Name(), err)
		}
	}
	if syncer != nil && flush {
		if err := syncer.SyncFS(ctx, a.cfg.Destination); err != nil {
			return fmt.Errorf("flush %s on %s: %w", a.cfg.Destination, a.dst.Name(), err)
		}
	}
	return nil
}

// fileOf is how the manifest names a message file: "cur/NAME".
func fileOf(f msgFile) string { return f.sub + "/" + f.name }
