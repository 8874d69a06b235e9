package postfix

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// Batches (resource.Batcher). The postfix_map and postfix_config changes
// of one apply on one Postfix instance make one main.cf edit, one postfix
// check and one reload: each map writes its table in its own Apply and
// leaves the listing in its parameter to the batch; each postfix_config
// leaves its parameters. FinishBatch then takes the edit lock once, reads
// every parameter with one postconf -n, journals each change (through the
// journal of the Apply that deferred it) and writes them all with one
// postconf -e, then checks and reloads once. When that combined edit
// fails, the changes are made again one at a time, so that only the one
// whose edit fails fails. In a rollback, the restores of one instance
// undone one after the other reload it once, at the end.

var (
	_ resource.Batcher = (*Map)(nil)
	_ resource.Batcher = (*Config)(nil)
)

// batchKey is the key of the instance of config_dir dir on host.
func batchKey(host resource.Host, dir string) string {
	return "postfix\x00" + host.Key() + "\x00" + dir
}

// BatchKey implements resource.Batcher: the Postfix instance.
func (*Map) BatchKey(config cty.Value) string {
	c, err := decodeMap(config)
	if err != nil {
		return ""
	}
	return batchKey(c.Host, c.ConfigDir)
}

// BatchKey implements resource.Batcher: the Postfix instance.
func (*Config) BatchKey(config cty.Value) string {
	c, err := decodeConfig(config)
	if err != nil {
		return ""
	}
	return batchKey(c.Host, c.ConfigDir)
}

// FinishBatch implements resource.Batcher.
func (*Map) FinishBatch(ctx context.Context, items []any) []error { return finishBatch(ctx, items) }

// FinishBatch implements resource.Batcher.
func (*Config) FinishBatch(ctx context.Context, items []any) []error { return finishBatch(ctx, items) }

// configSet is a postfix_config change a batch makes.
type configSet struct {
	in  instance
	c   configConfig
	s   configSnapshot
	j   resource.Journal
	log hclog.Logger

	changed bool // its edit changed a parameter
	err     error
}

// reloadItem is a restore's reload, which a batch of restores in a
// rollback makes once.
type reloadItem struct {
	in  instance
	log hclog.Logger
}

// finishBatch makes the edits the items (*listing, *configSet) of one
// instance deferred, as one, then checks and reloads once.
func finishBatch(ctx context.Context, items []any) []error {
	errs := make([]error, len(items))
	var (
		reloads  []int // the indexes of the reloadItems
		in       instance
		log      hclog.Logger
		sets     []*configSet
		listings []*listing // those with a parameter
		all      []*listing
	)
	for i, it := range items {
		switch v := it.(type) {
		case *listing:
			v.ctx = ctx
			in, log = v.in, v.log
			all = append(all, v)
			if v.c.Parameter != "" {
				listings = append(listings, v)
			}
		case *configSet:
			in, log = v.in, v.log
			sets = append(sets, v)
		case *reloadItem:
			in, log = v.in, v.log
			reloads = append(reloads, i)
		default:
			errs[i] = fmt.Errorf("internal error: a postfix batch got a %T. This is a bug in mailplan; please report it", it)
		}
	}
	if len(reloads) > 0 {
		log.Debug("restored; reloading", "changes", len(reloads))
		err := in.reloadIfRunning(ctx, log)
		for _, i := range reloads {
			errs[i] = err
		}
	}
	if len(sets)+len(all) == 0 {
		return errs
	}
	if len(sets)+len(listings) > 0 {
		unlock, err := in.editLock(ctx)
		if err != nil {
			for i := range errs {
				errs[i] = err
			}
			return errs
		}
		if err := in.editLocked(ctx, sets, listings); err != nil && len(sets)+len(listings) > 1 {
			// One at a time, from what is there now, so that only the
			// change whose edit fails fails.
			for _, cs := range sets {
				was := cs.changed
				cs.changed, cs.err = false, nil
				in.editLocked(ctx, []*configSet{cs}, nil)
				cs.changed = cs.changed || was
			}
			for _, m := range listings {
				was := m.changed
				m.changed, m.err = false, nil
				in.editLocked(ctx, nil, []*listing{m})
				m.changed = m.changed || was
			}
		}
		unlock()
	}
	due, reload := false, false
	for _, cs := range sets {
		if cs.err == nil && cs.changed {
			due, reload = true, reload || cs.c.Reload
		}
	}
	for _, m := range all {
		if m.err == nil && (m.changed || m.tableChanged) {
			due, reload = true, reload || m.c.Reload
		}
	}
	if due {
		err := in.settle(ctx, reload, log)
		for _, cs := range sets {
			if cs.err == nil && cs.changed && (cs.c.Reload || !errors.Is(err, errReload)) {
				cs.err = err
			}
		}
		for _, m := range all {
			if m.err == nil && (m.changed || m.tableChanged) && (m.c.Reload || !errors.Is(err, errReload)) {
				m.err = err
			}
		}
	}
	for i, it := range items {
		switch v := it.(type) {
		case *listing:
			errs[i] = v.err
		case *configSet:
			errs[i] = v.err
		}
	}
	return errs
}
