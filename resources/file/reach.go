package file

import (
	"context"
	"io/fs"
	"path"
	"reflect"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// reached is what Read would report right after Apply wrote c with opts,
// for resource.ApplyResponse.Reached, so that the engine need not read
// the file back (over SSH, a dozen round trips): the content and mode
// were just written; the owner and group were set when known (configured,
// or the earlier file's), else one stat gives them. cty.NilVal when it is
// not sure (the engine then reads): set-id bits, which a later chown
// would clear, or a stat that fails.
func reached(ctx context.Context, h transport.Host, config cty.Value, c config, m fs.FileMode, opts transport.WriteOptions) cty.Value {
	if m&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		return cty.NilVal
	}
	uid, gid := opts.UID, opts.GID
	if uid < 0 || gid < 0 {
		fi, err := h.Stat(ctx, c.Path)
		if err != nil || !fi.IsRegular() {
			return cty.NilVal
		}
		if uid < 0 {
			uid = fi.UID
		}
		if gid < 0 {
			gid = fi.GID
		}
	}
	owner, err := idName(ctx, h.UserName, uid)
	if err != nil {
		return cty.NilVal
	}
	group, err := idName(ctx, h.GroupName, gid)
	if err != nil {
		return cty.NilVal
	}
	return cty.ObjectVal(map[string]cty.Value{
		"host":    resource.Unmarked(config).GetAttr("host"),
		"path":    cty.StringVal(c.Path),
		"content": cty.StringVal(c.Content),
		"mode":    cty.StringVal(formatMode(transport.OctalMode(m))),
		"owner":   cty.StringVal(owner),
		"group":   cty.StringVal(group),
	})
}

// confKey names a host confined to a directory.
type confKey struct {
	h   transport.Host
	dir string
}

// confine returns h with its writes confined to p's directory: no
// symbolic link is followed there (the file itself, its temporary file, the
// store of earlier contents), and one on the way to it only when no one
// but root could have made it (transport.Resolve).
//
// A host that checks each path with lstat calls (SSH) is confined once per
// directory and kept: its checks of the directories on the way are then
// shared, for transport.Confine's recheck interval, by every file of that
// directory and by the steps of one file (plan read, the read before the
// change, the write), instead of costing a round trip per directory each
// time. A host that confines itself (local) has no such cost.
func (f *File) confine(h transport.Host, p string) transport.Host {
	dir := path.Dir(p)
	if _, self := h.(transport.Confiner); self || h == nil || reflect.TypeOf(h).Kind() != reflect.Pointer {
		return transport.Confine(h, dir)
	}
	k := confKey{h, dir}
	if c, ok := f.confined.Load(k); ok {
		return c.(transport.Host)
	}
	c, _ := f.confined.LoadOrStore(k, transport.Confine(h, dir))
	return c.(transport.Host)
}
