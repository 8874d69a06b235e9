package mailbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// Restore implements resource.Type. It replays the journal newest-first:
// the manifest files it wrote go, the messages mirror removed come back,
// metadata files come back (or go, when there were none), flag renames are
// undone, the messages this apply created are removed, and then the
// directories it created if they are empty. Without a journal (destroy)
// it does nothing: copied mail stays, as nothing at the destination is
// deleted except what a rolled-back apply created.
func (c *Copy) Restore(ctx context.Context, req resource.RestoreRequest) error {
	if len(req.Journal) == 0 {
		return nil
	}
	cfg, err := decode(req.Config)
	if err != nil {
		return err
	}
	dst, err := c.hosts.Get(ctx, cfg.To)
	if err != nil {
		return err
	}
	dst = confine(dst, cfg)
	var errs []error
	for i := len(req.Journal) - 1; i >= 0; i-- {
		var e entry
		if err := json.Unmarshal(req.Journal[i], &e); err != nil {
			return fmt.Errorf("mailbox_copy: bad journal entry: %w", err)
		}
		errs = append(errs, undo(ctx, dst, e)...)
	}
	return errors.Join(errs...)
}

func exists(ctx context.Context, h transport.Host, p string) (bool, error) {
	_, err := h.Stat(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func undo(ctx context.Context, h transport.Host, e entry) []error {
	var errs []error
	errs = append(errs, undoManifest(ctx, h, e.Manifest)...)
	errs = append(errs, undoRemoved(ctx, h, e.Removed)...)
	for i := len(e.Meta) - 1; i >= 0; i-- {
		m := e.Meta[i]
		// What a write killed half way left beside the file.
		err := transport.RemoveTemps(ctx, h, m.Path)
		switch {
		case err != nil:
		case m.Record && m.Content != nil:
			err = h.WriteFile(ctx, m.Path, []byte(*m.Content), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1})
		case m.Before == "" || m.Record:
			err = h.Remove(ctx, m.Path)
			if err == nil && m.Record {
				removeEmptyStore(ctx, h, path.Dir(m.Path))
			}
		default:
			var fi transport.FileInfo
			var data []byte
			fi, err = h.Stat(ctx, m.Path)
			opts := transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1}
			if err == nil {
				opts = transport.WriteOptions{Mode: fi.Mode.Perm(), UID: fi.UID, GID: fi.GID}
			}
			if data, err = keep.LoadIn(ctx, h, storeFor(path.Dir(m.Path)), m.Path, m.Before); err == nil {
				err = h.WriteFile(ctx, m.Path, data, opts)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restore %s on %s: %w", m.Path, h.Name(), err))
		}
	}
	for i := len(e.Renames) - 1; i >= 0; i-- {
		from, to := e.Renames[i][0], e.Renames[i][1]
		toOK, err1 := exists(ctx, h, to)
		fromOK, err2 := exists(ctx, h, from)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("undo rename of %s on %s: %w", from, h.Name(), err))
			continue
		}
		if toOK && !fromOK {
			if err := h.Rename(ctx, to, from); err != nil {
				errs = append(errs, fmt.Errorf("undo rename of %s on %s: %w", from, h.Name(), err))
			}
		}
	}
	errs = append(errs, removeCreated(ctx, h, e.Created)...)
	// Directories deepest first; one that is not empty (mail delivered to
	// it since, or a leftover in tmp/) stays.
	for i := len(e.Dirs) - 1; i >= 0; i-- {
		_ = h.Remove(ctx, storeFor(e.Dirs[i])) // only if empty
		if path.Base(e.Dirs[i]) == "tmp" {
			// Temporary files of a killed apply, in a tmp/ it created.
			if es, err := h.ReadDir(ctx, e.Dirs[i]); err == nil {
				for _, f := range es {
					if f.IsRegular() && strings.Contains(f.Name, tmpMarker) {
						_ = h.Remove(ctx, path.Join(e.Dirs[i], f.Name))
					}
				}
			}
		}
		if err := h.Remove(ctx, e.Dirs[i]); err != nil {
			if ok, _ := exists(ctx, h, e.Dirs[i]); ok {
				// not empty: kept
				continue
			}
			errs = append(errs, fmt.Errorf("remove %s on %s: %w", e.Dirs[i], h.Name(), err))
		}
	}
	return errs
}

// removeEmptyStore removes a mailbox's store (storeFor) once its record is
// gone, and the directories above it up to keep.Dir, each only if empty:
// the apply that wrote the first record made them (MkdirAll), and a store
// that also holds kept copies stays. Without this a rolled-back first copy
// left the store's directories, and with them the destination's
// directories it had made (they were no longer empty).
func removeEmptyStore(ctx context.Context, h transport.Host, store string) {
	for _, d := range []string{store, path.Dir(store), path.Dir(path.Dir(store))} {
		if !strings.Contains(d, "/"+keep.Dir) {
			return
		}
		if err := h.Remove(ctx, d); err != nil {
			return // not empty, or not removable: it and what is above stay
		}
		if path.Base(d) == keep.Dir {
			return
		}
	}
}

// removeCreated removes the messages an apply created. A message is found
// by its base name in its mailbox's new/ and cur/, as Dovecot (IMAP live
// on the destination since) moves messages from new/ to cur/ and renames
// them when their flags change: the copy goes whatever its name is now.
// A message the apply staged in tmp/ but never moved into place (it failed
// or was killed in between) goes too. Each mailbox is listed once; files
// outside new/ and cur/ (metadata) are removed by path.
func removeCreated(ctx context.Context, h transport.Host, created []string) []error {
	var errs []error
	type listing struct {
		msgs map[string]string   // base name -> path now
		tmps map[string][]string // base name (as tmpPrefix cuts it) -> files staged for it
	}
	listings := map[string]listing{} // mailbox dir -> its messages
	for _, p := range created {
		dir, sub := path.Dir(path.Dir(p)), path.Base(path.Dir(p))
		target := p
		if sub == "new" || sub == "cur" {
			l, ok := listings[dir]
			if !ok {
				l = listing{msgs: map[string]string{}, tmps: map[string][]string{}}
				for _, s := range []string{"new", "cur", "tmp"} {
					es, err := h.ReadDir(ctx, path.Join(dir, s))
					if err != nil && !errors.Is(err, fs.ErrNotExist) {
						errs = append(errs, fmt.Errorf("list %s on %s: %w", path.Join(dir, s), h.Name(), err))
						continue
					}
					for _, f := range es {
						switch {
						case !f.IsRegular():
						case s == "tmp":
							if i := strings.Index(f.Name, tmpMarker); i >= 0 {
								l.tmps[f.Name[:i]] = append(l.tmps[f.Name[:i]], path.Join(dir, s, f.Name))
							}
						default:
							l.msgs[baseName(f.Name)] = path.Join(dir, s, f.Name)
						}
					}
				}
				listings[dir] = l
			}
			base := baseName(path.Base(p))
			for _, tp := range l.tmps[strings.TrimSuffix(tmpPrefix(base), tmpMarker)] {
				if err := h.Remove(ctx, tp); err != nil {
					errs = append(errs, fmt.Errorf("remove %s on %s: %w", tp, h.Name(), err))
				}
			}
			now, ok := l.msgs[base]
			if !ok {
				continue // gone already (expunged, or a rollback that ran before)
			}
			target = now
		}
		if err := h.Remove(ctx, target); err != nil {
			errs = append(errs, fmt.Errorf("remove %s on %s: %w", target, h.Name(), err))
		}
	}
	return errs
}
