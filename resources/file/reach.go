package file

import (
	"context"
	"io/fs"
	"path"

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

// confine returns h with its writes confined to p's directory: no
// symbolic link is followed there (the file itself, its temporary file, the
// store of earlier contents), and one on the way to it only when no one
// but root could have made it (transport.Resolve). Each call checks anew:
// a directory swapped for a link between the plan and the apply must be
// seen (TestHostileDestination), so checks are not shared across steps.
func confine(h transport.Host, p string) transport.Host {
	return transport.Confine(h, path.Dir(p))
}
