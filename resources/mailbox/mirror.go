package mailbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// intents is the manifest of what this apply is about to put in place:
// each message it copies, under the source's name, and each source
// message dedupe found at the destination, under the name it has there.
func (a *applier) intents() map[string][]manifestChange {
	out := map[string][]manifestChange{}
	for _, op := range a.s.copies {
		d := join(a.cfg.Destination, op.mb.rel)
		out[d] = append(out[d], manifestChange{base: baseName(op.f.name), item: &manifestItem{File: fileOf(op.f), Size: op.f.size}})
	}
	for _, p := range a.s.pairs {
		d := join(a.cfg.Destination, p.mb.rel)
		out[d] = append(out[d], manifestChange{base: p.base, item: &manifestItem{File: fileOf(p.f), Size: p.f.size}})
	}
	return out
}

// changes is the manifest of the renames and removals this apply made,
// for the messages the manifest has: a rename by the source's flags keeps
// the message mailplan's copy as it is now named.
func (a *applier) changes(ctx context.Context) map[string][]manifestChange {
	out := map[string][]manifestChange{}
	for _, op := range a.s.renames {
		key := op.key
		if key == "" {
			if op.mb.man == nil {
				m, err := readManifest(ctx, a.dst, join(a.cfg.Destination, op.mb.rel))
				if err != nil {
					// Not recorded: the message is left out of later mirroring,
					// never removed by it.
					a.log.Warn("cannot read the manifest; renamed messages will not be mirrored", "error", err)
					m = manifest{}
				}
				op.mb.man = m
			}
			b := baseName(op.from.name)
			if it, ok := op.mb.man[b]; ok && baseName(path.Base(it.File)) == b {
				key = b
			}
		}
		if key != "" {
			d := join(a.cfg.Destination, op.mb.rel)
			out[d] = append(out[d], manifestChange{base: key, item: &manifestItem{File: fileOf(op.to), Size: op.to.size}})
		}
	}
	for _, op := range a.s.removals {
		if op.key == "" {
			continue // a shadow copy, never in the manifest
		}
		d := join(a.cfg.Destination, op.mb.rel)
		out[d] = append(out[d], manifestChange{base: op.key})
	}
	return out
}

// removedDir is where mirror moves the messages it removes from the
// mailbox dir, one directory per apply: in the mailbox's store, on the
// same filesystem, so that the removal is a rename a rollback undoes and
// the message stays recoverable by hand afterwards.
func removedDir(dir, stamp string) string { return path.Join(storeFor(dir), stamp) }

// removeMirrored moves the messages deleted at the source out of their
// Maildirs, journalling each batch first.
func (a *applier) removeMirrored(ctx context.Context) error {
	if len(a.s.removals) == 0 {
		return nil
	}
	stamp := fmt.Sprintf("removed-%020d-%d", time.Now().UnixNano(), pid)
	made := map[string]bool{}
	for i := 0; i < len(a.s.removals); i += batchSize {
		batch := a.s.removals[i:min(i+batchSize, len(a.s.removals))]
		var e entry
		for _, op := range batch {
			dir := join(a.cfg.Destination, op.mb.rel)
			e.Removed = append(e.Removed, pathPair{
				join(dir, op.f.sub, op.f.name),
				path.Join(removedDir(dir, stamp), op.f.sub, op.f.name)})
		}
		if err := a.record(ctx, e); err != nil {
			return err
		}
		for _, r := range e.Removed {
			if d := path.Dir(r[1]); !made[d] {
				if err := keep.MkdirStore(ctx, a.dst, d); err != nil {
					return fmt.Errorf("create %s on %s: %w", d, a.dst.Name(), err)
				}
				made[d] = true
			}
			err := a.dst.Rename(ctx, r[0], r[1])
			if errors.Is(err, fs.ErrNotExist) {
				// Changed at the destination since the listing: left alone.
				a.log.Debug("message gone before its removal", "path", r[0])
				continue
			}
			if err != nil {
				return fmt.Errorf("move %s on %s to %s: %w", r[0], a.dst.Name(), r[1], err)
			}
		}
	}
	return nil
}

// undoRemoved puts back the messages of removed, [from, to], that are in
// the store and not back in place yet, then removes the directories of
// the store that are empty.
func undoRemoved(ctx context.Context, h transport.Host, removed []pathPair) []error {
	var errs []error
	dirs := map[string]bool{}
	var order []string
	for i := len(removed) - 1; i >= 0; i-- {
		from, to := removed[i][0], removed[i][1]
		if d := path.Dir(to); !dirs[d] {
			dirs[d] = true
			order = append(order, d)
		}
		kept, err1 := exists(ctx, h, to)
		back, err2 := exists(ctx, h, from)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("put back %s on %s: %w", from, h.Name(), err))
			continue
		}
		if kept && !back {
			if err := h.Rename(ctx, to, from); err != nil {
				errs = append(errs, fmt.Errorf("put back %s on %s: %w", from, h.Name(), err))
			}
		}
	}
	for _, d := range order {
		// store/removed-STAMP/cur: each only if empty.
		if h.Remove(ctx, d) != nil || h.Remove(ctx, path.Dir(d)) != nil {
			continue
		}
		removeEmptyStore(ctx, h, path.Dir(path.Dir(d)))
	}
	return errs
}

// undoManifest removes manifest files an apply wrote, and the store
// directories left empty.
func undoManifest(ctx context.Context, h transport.Host, files []string) []error {
	var errs []error
	for i := len(files) - 1; i >= 0; i-- {
		p := files[i]
		err := transport.RemoveTemps(ctx, h, p)
		if err == nil {
			err = h.Remove(ctx, p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s on %s: %w", p, h.Name(), err))
			continue
		}
		removeEmptyStore(ctx, h, path.Dir(p))
	}
	return errs
}
