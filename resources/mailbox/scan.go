package mailbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// metaFiles are the Dovecot files copied with preserve_uids: they carry
// UIDVALIDITY, UIDs, keyword names and subscriptions (DOMAIN.md). Dovecot's
// index files (dovecot.index*) are caches it rebuilds and are never copied.
var metaFiles = []string{"dovecot-uidlist", "dovecot-keywords", "subscriptions", "maildirfolder"}

// tmpMarker is in the name of every temporary file mailplan writes in a
// destination tmp/; leftovers of a killed apply are removed by the next.
const tmpMarker = ".mailplan-"

// recordName is the file, in keep.Dir of a destination mailbox, holding the
// SHA-256 of each metadata file mailplan last wrote there: a file that no
// longer has that digest was changed by Dovecot on the new server.
const recordName = "mailbox_copy-written.json"

// msgFile is one message file in cur/ or new/.
type msgFile struct {
	sub  string // "cur" or "new"
	name string
	size int64
	// mode and the modification time (Unix seconds and nanoseconds) are
	// what Apply needs of the listing: a copy of 100,000 messages holds
	// two of these each, and a time.Time is larger.
	mode  fs.FileMode
	nsec  int32
	mtime int64
}

// modTime is the message's modification time at its listing.
func (f msgFile) modTime() time.Time { return time.Unix(f.mtime, int64(f.nsec)) }

// fileOfInfo is the msgFile of the entry e of sub/.
func fileOfInfo(sub string, e transport.FileInfo) msgFile {
	return msgFile{sub: sub, name: e.Name, size: e.Size, mode: e.Mode, mtime: e.ModTime.Unix(), nsec: int32(e.ModTime.Nanosecond())}
}

// baseName is a message's identity: its name up to the info part (":2,…").
func baseName(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return name
}

// mbox is one Maildir found under the source root.
type mbox struct {
	rel     string // relative to the roots; "." for a root that is a Maildir
	src     map[string]msgFile
	srcMeta map[string]transport.FileInfo
	dstDir  bool // the destination Maildir exists (its directory)
	dstSubs map[string]bool
	dst     map[string]msgFile
	dstMeta map[string]transport.FileInfo
	dstTmp  []string // our leftover temporary files in the destination tmp/
	// man is the destination's manifest (manifest.go), read only when
	// mirror or dedupe needs it; nil else.
	man manifest
	// skipped are the subs (cur, new, tmp) left unlisted at both ends:
	// unchanged since an apply left them in step (scan_skip.go).
	skipped map[string]bool
	// dirty are the source's subs whose listing had more than messages
	// in step can have (a link, a refused name, a message also in cur/):
	// never recorded as in step.
	dirty map[string]bool
}

// markDirty records that sub of mb had something a dir record must not
// skip.
func (mb *mbox) markDirty(sub string) {
	if mb.dirty == nil {
		mb.dirty = map[string]bool{}
	}
	mb.dirty[sub] = true
}

type copyOp struct {
	mb *mbox
	f  msgFile
}

type renameOp struct {
	mb       *mbox
	from, to msgFile
	// key is the message's entry in the manifest, when mirror found it
	// there ("" else).
	key string
}

// removeOp is a message mirror removes: mailplan copied it, the source
// no longer has it, and the destination has it as copied.
type removeOp struct {
	mb  *mbox
	key string // its entry in the manifest; "" for a shadow copy (shadow.go)
	f   msgFile
}

// pairOp is a source message dedupe found at the destination under
// another name (f).
type pairOp struct {
	mb   *mbox
	base string
	f    msgFile
}

type metaOp struct {
	mb   *mbox
	name string
	src  transport.FileInfo
	// dst is the destination file it replaces, if any.
	dst    *transport.FileInfo
	dstSum string
}

// scan is what the listings of both sides say must happen.
type scan struct {
	srcRoot, dstRoot string
	dstRootExists    bool
	mailboxes        []*mbox
	copies           []copyOp
	bytes            int64
	renames          []renameOp
	removals         []removeOp
	pairs            []pairOp
	// kept counts the messages mailplan copied that changed at both ends
	// since (mirror): the destination's change is kept.
	kept int
	// replaced counts the removals that are shadow copies the source's
	// copy replaces (shadow.go).
	replaced  int
	metas     []metaOp
	conflicts []string
	symlinks  []string
	// refused are the names not copied, each with why (names.go).
	refused []string
	// unselected counts the Maildirs include/exclude leave out.
	unselected int
	// skip, when the hosts can tell unchanged directories, is what the
	// scan used and saw of them (scan_skip.go).
	skip *skipState
}

// lister runs ReadDir calls concurrently: SFTP answers them in parallel over
// one connection, so the latency of a deep tree is paid once per level.
type lister struct {
	h     transport.Host
	width int
	// tree, when the host could list the whole tree at once
	// (transport.TreeLister), answers for the directories it holds.
	tree map[string][]transport.FileInfo
}

type listing struct {
	path    string
	entries []transport.FileInfo
	err     error
}

func join(root, rel string, elems ...string) string {
	return path.Join(append([]string{root, rel}, elems...)...)
}

func relOf(root, p string) string {
	if p == root {
		return "."
	}
	return strings.TrimPrefix(p, strings.TrimSuffix(root, "/")+"/")
}

// scanTrees lists the source and destination trees and works out what a
// copy must do. It reads no message body, and only the few metadata files
// whose size or time differ.
func scanTrees(ctx context.Context, src, dst transport.Host, c config) (*scan, error) {
	s := &scan{srcRoot: c.Source, dstRoot: c.Destination}
	fi, err := src.Stat(ctx, c.Source)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("the source %s does not exist on %s", c.Source, src.Name())
	case err != nil:
		return nil, fmt.Errorf("source %s on %s: %w", c.Source, src.Name(), err)
	case fi.IsSymlink():
		return nil, fmt.Errorf("the source %s on %s is a symbolic link; give the directory it points to", c.Source, src.Name())
	case !fi.IsDir():
		return nil, fmt.Errorf("the source %s on %s is not a directory", c.Source, src.Name())
	}
	sl := lister{h: src, width: c.parallelism * 2}
	if skipping(src, dst, c) {
		k := &skipState{prev: readDirRecord(ctx, dst, c)}
		tree, dirs, at, ok, err := src.(transport.StatTreeLister).ListTreeStat(ctx, c.Source, skipSubs, k.unchangedSince())
		if err != nil {
			return nil, fmt.Errorf("list %s on %s: %w", c.Source, src.Name(), err)
		}
		if ok {
			sl.tree, k.srcDirs, k.srcAt = tree, dirs, at
			s.skip = k
		}
	}
	if tl, ok := src.(transport.TreeLister); ok && s.skip == nil {
		// One command instead of a request per directory.
		tree, ok, err := tl.ListTree(ctx, c.Source)
		if err != nil {
			return nil, fmt.Errorf("list %s on %s: %w", c.Source, src.Name(), err)
		}
		if ok {
			sl.tree = tree
		}
	}
	var msgDirs []string
	byRel := map[string]*mbox{}
	level := []string{c.Source}
	for len(level) > 0 {
		var next []string
		for _, l := range sl.listAll(ctx, level) {
			if l.err != nil {
				return nil, fmt.Errorf("list %s on %s: %w", l.path, src.Name(), l.err)
			}
			maildir, lacks := maildirKind(l.entries)
			rel := relOf(c.Source, l.path)
			if lacks != "" {
				s.refused = append(s.refused, refusal(l.path, "not a complete Maildir: it has no "+lacks))
			}
			if maildir && !c.sel.selected(rel) {
				s.unselected++
			}
			if maildir && c.sel.selected(rel) {
				mb := &mbox{rel: rel, src: map[string]msgFile{}, srcMeta: map[string]transport.FileInfo{}}
				byRel[rel] = mb
				s.mailboxes = append(s.mailboxes, mb)
				for _, sub := range skipSubs {
					p := path.Join(l.path, sub)
					if _, listed := sl.tree[p]; s.skip == nil || !s.skip.skip(ctx, dst, c, mb, sub, listed) {
						msgDirs = append(msgDirs, p)
					}
				}
				if s.skip != nil {
					s.skip.skipTmp(ctx, dst, c, mb)
				}
				for _, e := range l.entries {
					if e.IsRegular() && c.PreserveUIDs && isMeta(e.Name) {
						mb.srcMeta[e.Name] = e
					}
				}
			}
			for _, e := range l.entries {
				p := path.Join(l.path, e.Name)
				switch {
				case e.IsSymlink():
					s.symlinks = append(s.symlinks, p)
				case !e.IsDir():
				case maildir && (e.Name == "cur" || e.Name == "new" || e.Name == "tmp"):
				default:
					if why := refuseDir(e.Name, maildir && strings.HasPrefix(e.Name, ".")); why != "" {
						s.refused = append(s.refused, refusal(p, why))
						continue
					}
					next = append(next, p)
				}
			}
		}
		level = next
	}
	addSrc := func(l listing) error {
		if l.err != nil {
			return fmt.Errorf("list %s on %s: %w", l.path, src.Name(), l.err)
		}
		sub := path.Base(l.path)
		mb := byRel[relOf(c.Source, path.Dir(l.path))]
		for _, e := range l.entries {
			switch {
			case e.IsSymlink():
				s.symlinks = append(s.symlinks, path.Join(l.path, e.Name))
				mb.markDirty(sub)
			case refuseMessage(e) != "":
				s.refused = append(s.refused, refusal(path.Join(l.path, e.Name), refuseMessage(e)))
				mb.markDirty(sub)
			default:
				b := baseName(e.Name)
				if _, dup := mb.src[b]; dup {
					mb.markDirty("new") // the same message in cur/ and new/
					if sub == "new" {
						continue // cur/ wins
					}
				}
				mb.src[b] = fileOfInfo(sub, e)
			}
		}
		return nil
	}
	for _, l := range sl.listAll(ctx, msgDirs) {
		if err := addSrc(l); err != nil {
			return nil, err
		}
	}
	sort.Slice(s.mailboxes, func(i, j int) bool { return s.mailboxes[i].rel < s.mailboxes[j].rel })

	// The destination: each selected mailbox's directory and its cur, new
	// and tmp, all at once.
	if fi, err := dst.Stat(ctx, c.Destination); err == nil {
		if fi.IsSymlink() {
			// A link someone other than root could have made is refused
			// naming it; any other, as the source's, is to be resolved in
			// the configuration.
			if _, err := transport.Resolve(ctx, dst, c.Destination, c.Destination); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("the destination %s on %s is a symbolic link; give the directory it points to", c.Destination, dst.Name())
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("the destination %s on %s is not a directory", c.Destination, dst.Name())
		}
		s.dstRootExists = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("destination %s on %s: %w", c.Destination, dst.Name(), err)
	}
	if s.dstRootExists {
		// The subs a dir record let go unlisted exist (as directories:
		// their stats say so) and have nothing to do.
		type slot struct {
			mb  *mbox
			sub string
		}
		var paths []string
		var slots []slot
		for _, mb := range s.mailboxes {
			mb.dst, mb.dstMeta, mb.dstSubs = map[string]msgFile{}, map[string]transport.FileInfo{}, map[string]bool{}
			d := join(c.Destination, mb.rel)
			for _, sub := range []string{"", "cur", "new", "tmp"} {
				if mb.skipped[sub] && sub == "tmp" {
					mb.dstSubs[sub] = true
					continue
				}
				paths = append(paths, path.Join(d, sub))
				slots = append(slots, slot{mb, sub})
			}
		}
		dl := lister{h: dst, width: c.parallelism * 2}
		var relist []string
		for i, l := range dl.listAll(ctx, paths) {
			mb, sub := slots[i].mb, slots[i].sub
			if mb.skipped[sub] {
				// Unlisted at the source: the destination's must still
				// hold the names and sizes recorded, else both are listed.
				if l.err == nil && s.skip.sameSum(mb, sub, l.entries) {
					continue
				}
				delete(mb.skipped, sub)
				relist = append(relist, join(c.Source, mb.rel, sub))
			}
			if errors.Is(l.err, fs.ErrNotExist) {
				continue
			}
			if l.err != nil {
				return nil, fmt.Errorf("list %s on %s: %w", l.path, dst.Name(), l.err)
			}
			if sub == "" {
				mb.dstDir = true
				for _, e := range l.entries {
					if e.IsRegular() && isMeta(e.Name) {
						mb.dstMeta[e.Name] = e
					}
				}
				continue
			}
			mb.dstSubs[sub] = true
			for _, e := range l.entries {
				switch {
				case sub == "tmp":
					if e.IsRegular() && strings.Contains(e.Name, tmpMarker) {
						mb.dstTmp = append(mb.dstTmp, e.Name)
					}
				case strings.HasPrefix(e.Name, "."):
				default:
					b := baseName(e.Name)
					if _, dup := mb.dst[b]; !dup || sub == "cur" {
						mb.dst[b] = fileOfInfo(sub, e)
					}
				}
			}
		}
		for _, l := range sl.listAll(ctx, relist) {
			if err := addSrc(l); err != nil {
				return nil, err
			}
		}
	}
	sort.Strings(s.refused)
	sort.Strings(s.symlinks)

	if err := s.match(ctx, src, dst, c); err != nil {
		return nil, err
	}
	if err := s.planMeta(ctx, src, dst, c); err != nil {
		return nil, err
	}
	return s, nil
}

func isMeta(name string) bool {
	for _, m := range metaFiles {
		if name == m {
			return true
		}
	}
	return false
}

// planMeta decides, for each metadata file of the source, whether the
// destination needs it: when it is missing there, or differs and is still
// what mailplan wrote last time. A destination file mailplan did not write
// (Dovecot on the new server changed it) is left alone while the source's
// is still what mailplan copied, and is a conflict once the source changed
// too.
func (s *scan) planMeta(ctx context.Context, src, dst transport.Host, c config) error {
	for _, mb := range s.mailboxes {
		var record map[string]string
		for _, name := range metaFiles {
			sf, ok := mb.srcMeta[name]
			if !ok {
				continue
			}
			df, have := mb.dstMeta[name]
			if !have {
				s.metas = append(s.metas, metaOp{mb: mb, name: name, src: sf})
				continue
			}
			if df.Size == sf.Size && df.ModTime.Unix() == sf.ModTime.Unix() {
				continue // mailplan preserves the time: this is the source's copy
			}
			if record == nil {
				var err error
				if record, err = readRecord(ctx, dst, join(c.Destination, mb.rel)); err != nil {
					return err
				}
			}
			dp := join(c.Destination, mb.rel, name)
			data, err := dst.ReadFile(ctx, dp)
			if err != nil {
				return fmt.Errorf("read %s on %s: %w", dp, dst.Name(), err)
			}
			// The record holds keyed digests (keep.Sum), or plain ones
			// when an older mailplan wrote it; keep.Matches takes both.
			// One made with another key matches nothing: the file counts
			// as changed at the destination, never as mailplan's own.
			if !keep.Matches(ctx, record[name], data) {
				sp := join(c.Source, mb.rel, name)
				sdata, err := src.ReadFile(ctx, sp)
				if err != nil {
					return fmt.Errorf("read %s on %s: %w", sp, src.Name(), err)
				}
				if keep.Matches(ctx, record[name], sdata) {
					// The source has not changed since mailplan copied it:
					// only the destination moved on (Dovecot there is in
					// use, as after a cutover). Nothing to copy.
					continue
				}
				if !bytes.Equal(sdata, data) {
					s.conflicts = append(s.conflicts, metaConflict(ctx, dp, record[name]))
					continue
				}
			}
			dfc := df
			s.metas = append(s.metas, metaOp{mb: mb, name: name, src: sf, dst: &dfc, dstSum: keep.Sum(ctx, data)})
		}
	}
	return nil
}

// metaConflict says why the metadata file dp at the destination is in the
// way: changed there since mailplan wrote it, or written with a record
// whose digest key is not this state's, so that mailplan cannot tell.
func metaConflict(ctx context.Context, dp, recorded string) string {
	id, own := resource.DigestKeyID(recorded), resource.DigestKeyFrom(ctx).ID()
	if id == "" || id == own {
		return fmt.Sprintf("%q was changed at the destination since mailplan wrote it", dp)
	}
	return fmt.Sprintf("%q differs from the source, and mailplan recorded what it wrote there with digest key %s, not this state's key %s "+
		"(the key file beside the state was lost or replaced): put that key file back and run again", dp, id, own)
}
