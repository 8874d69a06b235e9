package postfix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// Restore implements resource.Type: the parameter as the journal and then
// the snapshot had it, then the table's exact earlier bytes (compiled
// again) or no table at all, then a reload when something changed.
func (m *Map) Restore(ctx context.Context, req resource.RestoreRequest) error {
	c, s, err := decodeMapRequest("restore", req.Config, req.Snapshot)
	if err != nil {
		return err
	}
	if s.Path != "" {
		c.Path = s.Path
	}
	if s.Type != "" {
		c.Type = s.Type
	}
	in, err := openInstance(ctx, m.hosts, c.Host, c.ConfigDir)
	if err != nil {
		return err
	}
	log := orNull(req.Logger)
	changed := false
	if s.MainCF {
		earlier, err := newestFirst[mapJournal](req.Journal)
		if err != nil {
			return fmt.Errorf("restore %s: bad journal entry: %w", c.Path, err)
		}
		if s.Param != nil && !s.UnknownParam {
			earlier = append(earlier, mapJournal{Param: *s.Param})
		}
		if len(earlier) > 0 {
			ch, err := m.unlistTable(ctx, in, c, earlier, log)
			if err != nil {
				return err
			}
			changed = changed || ch
		}
	}
	ch, err := m.restoreTable(ctx, in, c, s, log)
	if err != nil {
		return err
	}
	changed = changed || ch
	if c.Reload && s.MainCF && req.Batch != nil {
		// One reload for the batch, even when this restore changed
		// nothing: an earlier, interrupted rollback may have.
		req.Batch.Defer(&reloadItem{in: in, log: log})
		return nil
	}
	if changed && c.Reload && s.MainCF {
		return in.reloadIfRunning(ctx, log)
	}
	return nil
}

// unlistTable takes the table out of the parameter, looking at each
// earlier state in turn (the journal's, newest first, then the
// snapshot's). The rest of the parameter decides what comes back: when it
// is what the parameter was before this map and the other maps of this
// process added to it (their restores ran already, in whatever order),
// that state comes back exactly — removed again with postconf -X when
// main.cf did not set it, else its value and its line as written; when it
// is what this map's edit found (the others are still there), that
// value; otherwise (tables added since, by other maps or by hand) only
// this table is taken out and the rest stays.
func (m *Map) unlistTable(ctx context.Context, in instance, c mapConfig, earlier []mapJournal, log hclog.Logger) (bool, error) {
	unlock, err := in.editLock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	edits := in.edits()
	changed := false
	for _, e := range earlier {
		base, before := e.bases()
		if lists(before.effective(), c.entry()) || lists(base.effective(), c.entry()) {
			continue // Apply did not add it
		}
		cur, _, err := in.effective(ctx, base.Name)
		if err != nil {
			return changed, err
		}
		if !lists(cur.effective(), c.entry()) {
			// Taken out already: just now, by an earlier restore (a
			// restore may run again), or by someone else.
			edits.remove(base.Name, c.entry())
			var want *param
			switch {
			case changed:
			case cur.Set == base.Set && cur.Value == base.Value:
				want = &base
			case cur.Set == before.Set && cur.Value == before.Value:
				want = &before
			default:
				log.Warn("parameter changed by someone else since the apply; left as it is", "name", base.Name, "value", cur.effective())
			}
			if want != nil {
				if err := in.restoreRaw(ctx, []param{*want}); err != nil {
					return changed, err
				}
			}
			continue
		}
		v := removeEntry(cur.effective(), c.entry())
		// What each earlier state would make the parameter is judged
		// from what is read under the lock: its value when main.cf set
		// it, else Postfix's default read now, never the default the
		// earlier state recorded. A snapshot is read without the host
		// lock, and one an earlier version recorded may hold another
		// run's value as the default (see effective): removing the line
		// for it took that run's table out with this one.
		def := ""
		if !base.Set || !before.Set || strings.TrimSpace(v) == "" {
			if def, err = in.builtinDefault(ctx, base.Name); err != nil {
				return changed, err
			}
		}
		restores := func(p param) bool {
			if p.Set {
				return sameList(v, p.Value)
			}
			return sameList(v, def)
		}
		want := param{Name: base.Name, Set: true, Value: v}
		switch {
		case restores(base):
			want = base
		case restores(before):
			want = before
		case strings.TrimSpace(v) == "":
			// The last table is out, but this map's edit found others
			// (maps of other states, applied before it): the line is
			// taken out when Postfix's own default is empty too, so that
			// a parameter main.cf did not set before the first of them
			// is not left set to nothing. Which map removes the last
			// table depends on the order the runs end in.
			if unset := (param{Name: base.Name}); restores(unset) {
				want = unset
			}
		default:
			log.Info("parameter lists tables added since the apply; only this table is taken out", "name", base.Name, "value", v)
		}
		log.Debug("restoring parameter", "name", want.Name, "set", want.Set, "value", want.Value)
		if err := in.putAll(ctx, []param{want}); err != nil {
			return changed, err
		}
		edits.remove(want.Name, c.entry())
		changed = true
		if err := in.restoreRaw(ctx, []param{want}); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// restoreTable puts back the table file and its compiled form, and
// removes what a crashed Apply left under the temporary name.
func (m *Map) restoreTable(ctx context.Context, in instance, c mapConfig, s mapSnapshot, log hclog.Logger) (bool, error) {
	h := tableHost(in.h, c.Path)
	tmp := tmpPath(c.Path)
	for _, p := range []string{tmp, c.compiledPath(tmp)} {
		if err := h.Remove(ctx, p); err != nil {
			return false, fmt.Errorf("restore: remove %s on %s: %w", p, h.Name(), err)
		}
	}
	// And what a write killed half way left beside them.
	for _, p := range []string{tmp, c.Path} {
		if err := transport.RemoveTemps(ctx, h, p); err != nil {
			return false, fmt.Errorf("restore: %w", err)
		}
	}
	fi, err := h.Stat(ctx, c.Path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("restore %s on %s: %w", c.Path, h.Name(), err)
	}
	if exists && !fi.IsRegular() {
		return false, fmt.Errorf("restore: %s on %s is not a regular file", c.Path, h.Name())
	}
	if !s.Exists {
		changed := exists
		for _, p := range []string{c.Path, c.compiledPath(c.Path)} {
			if p == c.Path && !exists {
				continue
			}
			if p != c.Path && (s.Compiled || !hashed(c.Type)) {
				continue // it was there before mailplan: not ours to remove
			}
			if err := h.Remove(ctx, p); err != nil {
				return changed, fmt.Errorf("restore: remove %s on %s: %w", p, h.Name(), err)
			}
		}
		if s.ParentMissing {
			if err := removeMadeDir(ctx, h, path.Dir(c.Path)); err != nil {
				return changed, fmt.Errorf("restore: %w", err)
			}
		}
		if changed {
			log.Debug("removed table", "path", c.Path)
		}
		return changed, nil
	}
	// keep refuses a digest made with another key: bytes it cannot check
	// are never written back.
	data, err := keep.Load(ctx, h, c.Path, s.sum())
	if err != nil {
		return false, fmt.Errorf("restore: %w", err)
	}
	changed := false
	if cur, err := h.ReadFile(ctx, c.Path); err != nil || !keep.Matches(ctx, s.sum(), cur) {
		log.Debug("restoring table", "path", c.Path, "bytes", len(data))
		opts := transport.WriteOptions{Mode: fs.FileMode(s.Mode), UID: s.UID, GID: s.GID}
		if err := h.WriteFile(ctx, c.Path, data, opts); err != nil {
			return false, fmt.Errorf("restore %s on %s: %w", c.Path, h.Name(), err)
		}
		changed = true
	}
	if hashed(c.Type) {
		if s.Compiled {
			// The database is rebuilt from the restored source rather
			// than kept: its bytes are not reproducible anyway, and a
			// crash may have left the new one beside the old source.
			if err := in.postmap(ctx, c.Type, c.Path); err != nil {
				return changed, fmt.Errorf("restore: %w", err)
			}
		} else if err := h.Remove(ctx, c.compiledPath(c.Path)); err != nil {
			return changed, fmt.Errorf("restore: remove %s on %s: %w", c.compiledPath(c.Path), h.Name(), err)
		}
	}
	return changed, nil
}

// removeMadeDir removes the directory Apply made for a table, once the
// table is gone: when it holds nothing but mailplan's kept copies (the
// tables mailplan itself wrote there, kept by later updates), those go
// with it. A directory holding anything else (another table, someone's
// file) stays as it is, copies included, since another map's restore may
// still need them.
func removeMadeDir(ctx context.Context, h transport.Host, dir string) error {
	entries, found, err := transport.ListDir(ctx, h, dir)
	if err != nil || !found {
		return err
	}
	for _, e := range entries {
		if e.Name != keep.Dir || !e.IsDir() {
			return nil
		}
	}
	store := path.Join(dir, keep.Dir)
	if len(entries) == 1 {
		kept, _, err := transport.ListDir(ctx, h, store)
		if err != nil {
			return err
		}
		for _, k := range kept {
			if !k.IsRegular() {
				return nil
			}
		}
		for _, k := range kept {
			if err := h.Remove(ctx, path.Join(store, k.Name)); err != nil {
				return fmt.Errorf("remove %s on %s: %w", path.Join(store, k.Name), h.Name(), err)
			}
		}
		if err := h.Remove(ctx, store); err != nil {
			return fmt.Errorf("remove %s on %s: %w", store, h.Name(), err)
		}
	}
	if err := h.Remove(ctx, dir); err != nil {
		return fmt.Errorf("remove %s on %s: %w", dir, h.Name(), err)
	}
	return nil
}

// sum is the digest naming the snapshot's kept table: the keyed one, or
// the plain SHA-256 of a snapshot taken before keyed digests.
func (s mapSnapshot) sum() string {
	if s.Digest != "" {
		return s.Digest
	}
	return s.SHA256
}
