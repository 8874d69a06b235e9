package mailbox

import (
	"context"
	"fmt"
	"path"
	"sort"

	"github.com/mailplan/mailplan/resources/transport"
)

// match works out, from both listings, what each mailbox needs: copies,
// flag renames and conflicts by base name; with dedupe, the copies that
// are already there under another name (identity.go); with mirror, what
// the source did since to the messages mailplan copied.
func (s *scan) match(ctx context.Context, src, dst transport.Host, c config) error {
	var work []dedupeWork
	for _, mb := range s.mailboxes {
		bases := make([]string, 0, len(mb.src))
		for b := range mb.src {
			bases = append(bases, b)
		}
		sort.Strings(bases)
		missing, unmatched := 0, 0
		for _, b := range bases {
			if _, ok := mb.dst[b]; !ok {
				missing++
			}
		}
		for b := range mb.dst {
			if _, ok := mb.src[b]; !ok {
				unmatched++
			}
		}
		if mb.dstDir && (c.Mirror || (c.matching() && missing > 0 && unmatched > 0)) {
			var err error
			if mb.man, err = readManifest(ctx, dst, join(c.Destination, mb.rel)); err != nil {
				return err
			}
		}
		// The destination's messages that are mailplan's copies.
		own := map[string]bool{}
		for _, it := range mb.man {
			own[baseName(path.Base(it.File))] = true
		}
		var candidates []msgFile
		for _, b := range bases {
			sf := mb.src[b]
			df, ok := mb.dst[b]
			switch {
			case !ok:
				if it, in := mb.man[b]; in {
					if _, there := mb.dst[baseName(path.Base(it.File))]; there {
						continue // matched by an earlier copy (dedupe): there
					}
				}
				if c.matching() && unmatched > 0 {
					candidates = append(candidates, sf)
					continue
				}
				s.addCopy(mb, sf)
			case !df.mode.IsRegular():
				s.conflicts = append(s.conflicts, fmt.Sprintf("%q is not a regular file", join(c.Destination, mb.rel, df.sub, df.name)))
			case df.size != sf.size:
				s.conflicts = append(s.conflicts, fmt.Sprintf("%q has %d bytes, the source's %q has %d",
					join(c.Destination, mb.rel, df.sub, df.name), df.size, path.Join(sf.sub, sf.name), sf.size))
			case df.sub != sf.sub || df.name != sf.name:
				if _, in := mb.man[b]; in && c.Mirror {
					continue // mirror decides: the destination may have changed it
				}
				s.renames = append(s.renames, renameOp{mb: mb, from: df, to: sf})
			}
		}
		if len(candidates) > 0 {
			var foreign []msgFile
			for b, df := range mb.dst {
				if _, ok := mb.src[b]; !ok && !own[b] && df.mode.IsRegular() {
					foreign = append(foreign, df)
				}
			}
			sort.Slice(foreign, func(i, j int) bool { return foreign[i].name < foreign[j].name })
			if len(foreign) == 0 {
				for _, sf := range candidates {
					s.addCopy(mb, sf)
				}
			} else {
				work = append(work, dedupeWork{mb: mb, src: candidates, foreign: foreign})
			}
		}
		if c.Mirror {
			s.planMirror(mb)
		}
	}
	if len(work) == 0 {
		return nil
	}
	matched, err := dedupe(ctx, src, dst, c, work)
	if err != nil {
		return err
	}
	for _, w := range work {
		for _, sf := range w.src {
			m, ok := matched[w.mb][baseName(sf.name)]
			switch {
			case ok && m.shadow:
				// The shadow copy makes way for the source's.
				s.removals = append(s.removals, removeOp{mb: w.mb, f: m.f})
				s.replaced++
			case ok && c.Dedupe:
				s.pairs = append(s.pairs, pairOp{mb: w.mb, base: baseName(sf.name), f: m.f})
				continue
			}
			s.addCopy(w.mb, sf)
		}
	}
	// Mailbox by mailbox, in base name order, as without dedupe.
	index := map[*mbox]int{}
	for i, mb := range s.mailboxes {
		index[mb] = i
	}
	sort.SliceStable(s.copies, func(i, j int) bool {
		a, b := s.copies[i], s.copies[j]
		if a.mb != b.mb {
			return index[a.mb] < index[b.mb]
		}
		return baseName(a.f.name) < baseName(b.f.name)
	})
	return nil
}

func (s *scan) addCopy(mb *mbox, f msgFile) {
	s.copies = append(s.copies, copyOp{mb: mb, f: f})
	s.bytes += f.size
}

// info is the part of a message file name after its base name: ":2,FLAGS"
// or "".
func info(name string) string { return name[len(baseName(name)):] }

// planMirror decides, for each message of mb's manifest, what the source
// did to it since mailplan copied it, and whether the destination still
// has it exactly as copied (same file name, so neither its flags nor its
// new/cur place changed there, and same size). Only then does the
// source's change reach it: a message gone at the source is removed, a
// message whose flags changed there is renamed the same way. A message
// the destination changed is left as it is there (counted as kept).
func (s *scan) planMirror(mb *mbox) {
	keys := make([]string, 0, len(mb.man))
	for k := range mb.man {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		it := mb.man[k]
		db := baseName(path.Base(it.File))
		df, there := mb.dst[db]
		untouched := there && df.mode.IsRegular() && fileOf(df) == it.File && df.size == it.Size
		sf, atSource := mb.src[k]
		switch {
		case !there:
			// Gone at the destination (expunged there, or never put in
			// place by a killed apply): nothing to mirror.
		case !atSource && untouched:
			s.removals = append(s.removals, removeOp{mb: mb, key: k, f: df})
		case !atSource:
			s.kept++
		case sf.sub+"/"+db+info(sf.name) == it.File:
			// The source did not change it since.
		case !untouched:
			s.kept++
		default:
			to := df
			to.sub, to.name = sf.sub, db+info(sf.name)
			s.renames = append(s.renames, renameOp{mb: mb, from: df, to: to, key: k})
		}
	}
}
