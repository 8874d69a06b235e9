package mailbox

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// Skipping unchanged message directories (the dir record). In a Maildir
// every delivery, flag change (a rename in cur/), move and deletion
// changes the directory's modification and change times, so a cur/ or
// new/ whose times and inode are what they were when an earlier apply
// left it in step with the source's has nothing to copy. A completed
// apply records, for each (mailbox, sub-directory) it left in step, the
// source's and the destination's DirStat; the next scan lists the source
// with one command that does not descend into a cur/ or new/ unchanged
// since (transport.StatTreeLister), lstats the destination's, and lists
// at the source only what differs on either side. The destination's
// cur/ and new/ are still listed (locally, cheap): their names and sizes
// must have the recorded digest, since a message rewritten in place
// changes no directory's times, and the scan must still find it a
// conflict.
//
// As git's index does with racily clean files, a stat is recorded only
// when the directory's times are older, by a margin larger than the
// filesystem's timestamp granularity, than the moment its listing began:
// a change in the same tick as the listing could otherwise leave the
// times as recorded. Any doubt — no record, one that does not parse, one
// of another configuration, a host that cannot tell, mirror or shadow
// (they act on what the source no longer has) — lists everything, as
// without a record. The record is a cache: Restore removes it (the
// journal names it), and a rolled-back copy changes the directories
// anyway.

// dirRecordName is the dir record's file, in the destination root's
// store (storeFor).
const dirRecordName = "mailbox_copy-dirs.json"

const dirRecordVersion = 1

// The margins: for a filesystem that keeps sub-second times (Linux
// takes them from a clock that ticks every 10 ms at worst; seen as a
// change time with a fraction of a second) and for one that does not
// (whole seconds, FAT's two). Tests change them.
var (
	fineMargin   = 50 * time.Millisecond
	coarseMargin = 2 * time.Second
)

// marginFor is the margin for a filesystem whose directories have st.
func marginFor(st transport.DirStat) time.Duration {
	if st.Ctime%int64(time.Second) != 0 || st.Mtime%int64(time.Second) != 0 {
		return fineMargin
	}
	return coarseMargin
}

// skipSubs are the directories that the source's listing may skip.
var skipSubs = []string{"cur", "new"}

// dirRecord is the dir record: DirStats by "REL/SUB" (cur and new at
// both ends, tmp at the destination, holding no leftover of mailplan's).
type dirRecord struct {
	Version int    `json:"version"`
	Key     string `json:"key"`
	// SrcBefore is a time on the source's clock (Unix nanoseconds)
	// every source stat in the record is older than: the moment the
	// listing of the apply that wrote it began, less the margin.
	SrcBefore int64                        `json:"src_before"`
	Src       map[string]transport.DirStat `json:"src"`
	Dst       map[string]transport.DirStat `json:"dst"`
	// Sums are, for each destination cur/ and new/ in Dst, the digest
	// of its messages' names and sizes (entrySum): a message rewritten
	// in place changes no directory's times.
	Sums map[string]string `json:"sums"`
}

// recordKey ties a record to everything that decides what a scan must
// know.
func recordKey(c config) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s", dirRecordVersion, c.key())))
	return hex.EncodeToString(sum[:])
}

func dirRecordPath(c config) string { return path.Join(storeFor(c.Destination), dirRecordName) }

// skipping says whether a scan of c may use a dir record: never with
// mirror or shadow, which act on messages the source no longer has.
func skipping(src, dst transport.Host, c config) bool {
	_, ok1 := src.(transport.StatTreeLister)
	_, ok2 := dst.(transport.DirStater)
	return ok1 && ok2 && !c.Mirror && c.ShadowHeader == nil && c.ShadowMatch == nil
}

// readDirRecord returns the dir record of c, nil when there is none
// usable.
func readDirRecord(ctx context.Context, dst transport.Host, c config) *dirRecord {
	b, err := dst.ReadFile(ctx, dirRecordPath(c))
	if err != nil {
		return nil
	}
	var r dirRecord
	if json.Unmarshal(b, &r) != nil || r.Version != dirRecordVersion || r.Key != recordKey(c) || r.Src == nil || r.Dst == nil || r.Sums == nil {
		return nil
	}
	return &r
}

// skipState is what a scan with a dir record knows of the directories.
type skipState struct {
	prev *dirRecord
	// srcDirs are the source's directories' DirStats (all of them), from
	// the listing that began at srcAt (the source's clock).
	srcDirs map[string]transport.DirStat
	srcAt   time.Time
}

// unchangedSince is the time before which a cur/ or new/ at the source
// must have last changed for its listing to be skipped.
func (k *skipState) unchangedSince() time.Time {
	if k.prev == nil {
		return time.Time{}
	}
	return time.Unix(0, k.prev.SrcBefore)
}

// skip says whether sub of mb may go unlisted at both ends, and marks it
// so: its source directory was not descended into and has its recorded
// stat, and so has the destination's.
func (k *skipState) skip(ctx context.Context, dst transport.Host, c config, mb *mbox, sub string, listed bool) bool {
	if k.prev == nil || listed {
		return false
	}
	key := mb.rel + "/" + sub
	rec, ok := k.prev.Src[key]
	if !ok || k.srcDirs[join(c.Source, mb.rel, sub)] != rec {
		return false
	}
	if !k.dstSame(ctx, dst, c, mb, sub) {
		return false
	}
	if mb.skipped == nil {
		mb.skipped = map[string]bool{}
	}
	mb.skipped[sub] = true
	return true
}

// dstSame says whether the destination's sub of mb has its recorded
// stat.
func (k *skipState) dstSame(ctx context.Context, dst transport.Host, c config, mb *mbox, sub string) bool {
	rec, ok := k.prev.Dst[mb.rel+"/"+sub]
	if !ok {
		return false
	}
	st, isDir, err := dst.(transport.DirStater).StatDir(ctx, join(c.Destination, mb.rel, sub))
	return err == nil && isDir && st == rec
}

// skipTmp marks the destination's tmp/ of mb unlisted when it is as
// recorded (with none of mailplan's leftovers).
func (k *skipState) skipTmp(ctx context.Context, dst transport.Host, c config, mb *mbox) {
	if k.prev == nil || !k.dstSame(ctx, dst, c, mb, "tmp") {
		return
	}
	if mb.skipped == nil {
		mb.skipped = map[string]bool{}
	}
	mb.skipped["tmp"] = true
}

// recordDirs writes the dir record after a completed apply that changed
// the destination: the subs left unlisted keep their stats; each other
// sub of a mailbox in step is listed again at the destination, and
// recorded when it holds exactly what the source's listing held (by name
// and size) and its times are older than the margin. The record is
// journalled first: Restore removes it.
func (a *applier) recordDirs(ctx context.Context) error {
	s := a.s
	if s.skip == nil || s.skip.srcDirs == nil || a.skipped > 0 {
		return nil
	}
	ds, ok := a.dst.(transport.DirStater)
	if !ok {
		return nil
	}
	p := dirRecordPath(a.cfg)
	rec := dirRecord{Version: dirRecordVersion, Key: recordKey(a.cfg), Src: map[string]transport.DirStat{}, Dst: map[string]transport.DirStat{}, Sums: map[string]string{}}
	// A mailbox with a message dedupe matched is not in step: its
	// foreign message has no source counterpart by name.
	outOfStep := map[*mbox]bool{}
	for _, p := range s.pairs {
		outOfStep[p.mb] = true
	}
	margin := coarseMargin
	srcMargin := fineMargin
	for _, st := range s.skip.srcDirs {
		srcMargin = max(srcMargin, marginFor(st))
	}
	srcBefore := s.skip.srcAt.Add(-srcMargin).UnixNano()
	rec.SrcBefore = srcBefore
	var todo []*mbox
	candidates := 0
	for _, mb := range s.mailboxes {
		if outOfStep[mb] {
			continue
		}
		for _, sub := range []string{"cur", "new", "tmp"} {
			if !mb.skipped[sub] && !mb.dirty[sub] && (a.changed || listedInStep(mb, sub)) {
				candidates++
			}
		}
		for _, sub := range []string{"cur", "new", "tmp"} {
			key := mb.rel + "/" + sub
			if mb.skipped[sub] {
				rec.Dst[key] = s.skip.prev.Dst[key]
				if sub != "tmp" {
					rec.Src[key] = s.skip.prev.Src[key]
					rec.Sums[key] = s.skip.prev.Sums[key]
				}
			}
		}
		todo = append(todo, mb)
		if st, ok, _ := ds.StatDir(ctx, join(a.cfg.Destination, mb.rel, "cur")); ok {
			margin = min(margin, marginFor(st))
		}
	}
	if !a.changed && candidates == 0 {
		return nil // nothing new to record
	}
	if a.changed {
		if err := a.record(ctx, entry{Meta: []metaEntry{{Path: p, Record: true}}}); err != nil {
			return err
		}
	}
	// Every change this apply made is older than the margin when the
	// listing below begins.
	if a.changed && margin < time.Second {
		time.Sleep(time.Until(a.settled.Add(margin)))
	}
	begin := time.Now().Add(-margin).UnixNano()
	for _, mb := range todo {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if mb.skipped[sub] || mb.dirty[sub] || !a.changed && !listedInStep(mb, sub) {
				continue
			}
			key := mb.rel + "/" + sub
			if sub != "tmp" {
				st, ok := s.skip.srcDirs[join(a.cfg.Source, mb.rel, sub)]
				if !ok || st.Ctime >= srcBefore || st.Mtime >= srcBefore {
					continue
				}
				rec.Src[key] = st
			}
			d := join(a.cfg.Destination, mb.rel, sub)
			if st, sum, ok := a.inStep(ctx, ds, mb, sub, d, begin); ok {
				rec.Dst[key] = st
				if sub != "tmp" {
					rec.Sums[key] = sum
				}
			} else {
				delete(rec.Src, key)
			}
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := keep.MkdirStore(ctx, a.dst, path.Dir(p)); err != nil {
		return fmt.Errorf("create %s on %s: %w", path.Dir(p), a.dst.Name(), err)
	}
	if err := transport.RemoveTemps(ctx, a.dst, p); err != nil {
		return err
	}
	if err := a.dst.WriteFile(ctx, p, b, transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1}); err != nil {
		return fmt.Errorf("write %s on %s: %w", p, a.dst.Name(), err)
	}
	return nil
}

// inStep lists the destination directory d (sub of mb) and says whether
// it holds what the source's sub held, returning its stat: taken before
// and after the listing (the same), both times older than before.
func (a *applier) inStep(ctx context.Context, ds transport.DirStater, mb *mbox, sub, d string, before int64) (transport.DirStat, string, bool) {
	st, ok, err := ds.StatDir(ctx, d)
	if err != nil || !ok || st.Mtime >= before || st.Ctime >= before {
		return st, "", false
	}
	es, err := a.dst.ReadDir(ctx, d)
	if err != nil {
		return st, "", false
	}
	want := 0
	if sub != "tmp" {
		for _, f := range mb.src {
			if f.sub == sub {
				want++
			}
		}
	}
	got := 0
	for _, e := range es {
		switch {
		case sub == "tmp":
			if strings.Contains(e.Name, tmpMarker) {
				return st, "", false
			}
		case strings.HasPrefix(e.Name, "."):
		default:
			f, ok := mb.src[baseName(e.Name)]
			if !ok || !e.IsRegular() || f.sub != sub || f.name != e.Name || f.size != e.Size {
				return st, "", false
			}
			got++
		}
	}
	if got != want {
		return st, "", false
	}
	again, ok, err := ds.StatDir(ctx, d)
	return st, entrySum(es), err == nil && ok && again == st
}

// entrySum is the digest of the names, types and sizes of a cur/ or
// new/ listing (sorted by name), leaving out dot files as the scan does.
func entrySum(es []transport.FileInfo) string {
	// A name holds no NUL: NAME NUL TYPE SIZE is unambiguous. No fmt:
	// this runs for every message at the destination.
	h := sha256.New()
	var b []byte
	for _, e := range es {
		if !strings.HasPrefix(e.Name, ".") {
			b = append(b[:0], e.Name...)
			b = append(b, 0)
			b = binary.AppendUvarint(b, uint64(e.Mode.Type()))
			b = binary.AppendVarint(b, e.Size)
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sameSum says whether the destination's listing es of sub of mb has the
// names and sizes recorded.
func (k *skipState) sameSum(mb *mbox, sub string, es []transport.FileInfo) bool {
	want, ok := k.prev.Sums[mb.rel+"/"+sub]
	return ok && entrySum(es) == want
}

// listedInStep says whether the scan's listings of sub of mb, at both
// ends, hold the same messages under the same names and sizes: without a
// change made by the apply, a sub that is not cannot be recorded.
func listedInStep(mb *mbox, sub string) bool {
	if sub == "tmp" {
		return len(mb.dstTmp) == 0
	}
	n := 0
	for b, f := range mb.src {
		if f.sub != sub {
			continue
		}
		n++
		if d, ok := mb.dst[b]; !ok || d.sub != f.sub || d.name != f.name || d.size != f.size {
			return false
		}
	}
	for _, d := range mb.dst {
		if d.sub == sub {
			n--
		}
	}
	return n == 0
}
