package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// Hosts gives the connection to a host; *pool.Pool is one.
type Hosts = transport.Getter

// File is the `file` resource type.
type File struct {
	hosts Hosts
}

var (
	_ resource.Type      = (*File)(nil)
	_ resource.Validator = (*File)(nil)
)

// New returns the file type, reaching hosts through hosts.
func New(hosts Hosts) *File { return &File{hosts: hosts} }

// DefaultMode is the mode of a file whose configuration gives none.
const DefaultMode = "0644"

var schema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"host": {Type: resource.HostType, Kind: resource.HostRef, Required: true, ForceNew: true, Identity: true,
		Description: "The host the file is on."},
	"path": {Type: cty.String, Required: true, ForceNew: true, Identity: true, ShowUnchanged: true,
		Description: "The absolute path of the file."},
	"content": {Type: cty.String, Required: true,
		Description: "The whole content of the file."},
	"mode": {Type: cty.String, Default: cty.StringVal(DefaultMode),
		Description: `Permission bits in octal, e.g. "0640".`},
	"owner": {Type: cty.String,
		Description: "The owning user, by name or number; when unset the owner is left as it is."},
	"group": {Type: cty.String,
		Description: "The owning group, by name or number; when unset the group is left as it is."},
}}

// Name implements resource.Type.
func (*File) Name() string { return "file" }

// Schema implements resource.Type.
func (*File) Schema() *resource.Schema { return schema }

var modeRE = regexp.MustCompile(`^[0-7]{3,4}$`)

// Validate implements resource.Validator.
func (*File) Validate(ctx context.Context, config cty.Value) error {
	config, _ = config.UnmarkDeep()
	if config.IsNull() || !config.IsKnown() {
		return nil
	}
	var errs resource.AttrErrors
	if v, ok := resource.Known(config, "path"); ok {
		p := v.AsString()
		switch {
		case !path.IsAbs(p):
			errs = append(errs, resource.Errorf("path", "Relative file path",
				"The path %q is relative; give the absolute path of the file on the host, e.g. /etc/mailname.", p))
		case path.Clean(p) != p || p == "/":
			errs = append(errs, resource.Errorf("path", "Unclean file path",
				"Write the path %q as %q: no trailing slash, no empty, . or .. elements.", p, path.Clean(p)))
		}
	}
	if v, ok := resource.Known(config, "mode"); ok && !modeRE.MatchString(v.AsString()) {
		errs = append(errs, resource.Errorf("mode", "Invalid file mode",
			`The mode %q is not 3 or 4 octal digits; write it as a string such as "0644" or "0600".`, v.AsString()))
	}
	for _, attr := range []string{"owner", "group"} {
		if v, ok := resource.Known(config, attr); ok && strings.TrimSpace(v.AsString()) == "" {
			errs = append(errs, resource.Errorf(attr, "Empty "+attr,
				"The %s is empty; give a name or a number, or leave %s out to keep the file's current %s.", attr, attr, attr))
		}
	}
	return errs.Err()
}

// config is a decoded configuration or planned value.
type config struct {
	Host    resource.Host `cty:"host"`
	Path    string        `cty:"path"`
	Content string        `cty:"content"`
	Mode    string        `cty:"mode"`
	Owner   string        `cty:"owner"` // "" when not managed
	Group   string        `cty:"group"`
}

func decode(v cty.Value) (config, error) {
	var c config
	if err := resource.Decode(v, &c); err != nil {
		return c, fmt.Errorf("file: %w", err)
	}
	if c.Path == "" {
		return c, errors.New("file: no path given")
	}
	return c, nil
}

// snapshot is what Restore puts back. The bytes themselves are not in it:
// they stay on the host, in a content-addressed copy (see package keep) that
// Apply makes before it changes the file, so that neither the state nor a
// plan file ever holds a file's content — which may be a secret.
type snapshot struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	// Digest is the keyed digest of the content (keep.Sum), naming its
	// stored copy. SHA256 is the plain digest that snapshots taken before
	// keyed digests hold instead; sum gives whichever is there.
	Digest string `json:"digest,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// Content is set only while a snapshot is being taken; it is never
	// serialised.
	Content []byte `json:"-"`
	// Mode is the octal permission bits with set-id and sticky bits.
	Mode uint32 `json:"mode,omitempty"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// parseMode turns "0640" into a FileMode.
func parseMode(s string) (fs.FileMode, error) {
	if !modeRE.MatchString(s) {
		return 0, fmt.Errorf("invalid mode %q: want 3 or 4 octal digits", s)
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, err
	}
	return transport.FileModeOf(uint32(n)), nil
}

func formatMode(n uint32) string { return fmt.Sprintf("%04o", n) }

// look reads what is at p now. Anything but a regular file or nothing is
// an error: the type never replaces it.
func look(ctx context.Context, h transport.Host, p string) (snapshot, error) {
	s := snapshot{Path: p, UID: -1, GID: -1}
	fi, err := h.Stat(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read %s on %s: %w", p, h.Name(), err)
	}
	if err := regular(h, p, fi); err != nil {
		return s, err
	}
	data, err := h.ReadFile(ctx, p)
	if err != nil {
		return s, fmt.Errorf("read %s on %s: %w", p, h.Name(), err)
	}
	s.Exists, s.Content, s.Mode, s.UID, s.GID = true, data, transport.OctalMode(fi.Mode), fi.UID, fi.GID
	s.Digest, s.Size = keep.Sum(ctx, data), int64(len(data))
	return s, nil
}

func regular(h transport.Host, p string, fi transport.FileInfo) error {
	switch {
	case fi.IsRegular():
		return nil
	case fi.IsDir():
		return fmt.Errorf("%s on %s is a directory; a file resource manages a regular file", p, h.Name())
	case fi.IsSymlink():
		// Never followed: whoever can write the directory may have
		// planted it (transport.Resolve).
		return fmt.Errorf("%w on %s", &transport.LinkError{Op: "write", Path: p, Link: p, Root: path.Dir(p)}, h.Name())
	}
	return fmt.Errorf("%s on %s is not a regular file (%s)", p, h.Name(), fi.Mode.Type())
}

// idName is a user or group name for Current: the name, or the number
// when the host has no name for it.
func idName(ctx context.Context, lookup func(context.Context, int) (string, error), id int) (string, error) {
	name, err := lookup(ctx, id)
	if err != nil {
		return "", err
	}
	if name == "" {
		return strconv.Itoa(id), nil
	}
	return name, nil
}

// Read implements resource.Type.
func (f *File) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	c, err := decode(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	h, err := f.hosts.Get(ctx, c.Host)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	// A link planted on the way is refused here, at plan time already.
	h = confine(h, c.Path)
	s, err := look(ctx, h, c.Path)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	resp, err := resource.Absent(schema, s)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	if !s.Exists {
		return resp, nil
	}
	owner, err := idName(ctx, h.UserName, s.UID)
	if err != nil {
		return resource.ReadResponse{}, fmt.Errorf("read %s on %s: %w", c.Path, h.Name(), err)
	}
	group, err := idName(ctx, h.GroupName, s.GID)
	if err != nil {
		return resource.ReadResponse{}, fmt.Errorf("read %s on %s: %w", c.Path, h.Name(), err)
	}
	cfg, _ := req.Config.UnmarkDeep()
	// Bytes that are not UTF-8 cannot be a string value; replaced, they
	// differ from any configured content, so the plan shows a change.
	// (cty also puts strings in Unicode NFC: a file differing from its
	// configuration only in normalization is not seen as different.)
	resp.Current = cty.ObjectVal(map[string]cty.Value{
		"host":    cfg.GetAttr("host"),
		"path":    cty.StringVal(c.Path),
		"content": cty.StringVal(strings.ToValidUTF8(string(s.Content), "\uFFFD")),
		"mode":    cty.StringVal(formatMode(s.Mode)),
		"owner":   cty.StringVal(owner),
		"group":   cty.StringVal(group),
	})
	return resp, nil
}

// Plan implements resource.Type. Owner and group not configured are not
// managed: they keep the file's current ones (or the writer's for a new
// file). A configured owner naming the same id as the current one under
// another spelling ("0" for "root") is no change.
func (f *File) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	c, err := decode(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	mode := c.Mode
	if mode == "" {
		mode = DefaultMode
	}
	m, err := parseMode(mode)
	if err != nil {
		return resource.PlanResponse{}, resource.Errorf("mode", "Invalid file mode", "%s", err)
	}
	cfg, _ := req.Config.UnmarkDeep()
	current, _ := req.Current.UnmarkDeep()
	planned := map[string]cty.Value{
		"host":    cfg.GetAttr("host"),
		"path":    cty.StringVal(c.Path),
		"content": cfg.GetAttr("content"),
		"mode":    cty.StringVal(formatMode(transport.OctalMode(m))),
		"owner":   cfg.GetAttr("owner"),
		"group":   cfg.GetAttr("group"),
	}
	if !current.IsNull() {
		for _, id := range []struct {
			attr   string
			lookup func(transport.Host, context.Context, string) (int, error)
		}{
			{"owner", transport.Host.LookupUser},
			{"group", transport.Host.LookupGroup},
		} {
			want, have := planned[id.attr], current.GetAttr(id.attr)
			if want.IsNull() {
				planned[id.attr] = have
				continue
			}
			if have.IsNull() || want.RawEquals(have) {
				continue
			}
			same, err := f.sameID(ctx, c.Host, id.lookup, want.AsString(), have.AsString())
			if err != nil {
				return resource.PlanResponse{}, fmt.Errorf("plan %s: %w", c.Path, err)
			}
			if same {
				planned[id.attr] = have
			}
		}
	}
	return resource.PlanResponse{Planned: cty.ObjectVal(planned)}, nil
}

func (f *File) sameID(ctx context.Context, host resource.Host, lookup func(transport.Host, context.Context, string) (int, error), a, b string) (bool, error) {
	h, err := f.hosts.Get(ctx, host)
	if err != nil {
		return false, err
	}
	ida, err := lookup(h, ctx, a)
	if err != nil {
		return false, nil // unknown name: Apply reports it
	}
	idb, err := lookup(h, ctx, b)
	if err != nil {
		return false, err
	}
	return ida == idb, nil
}

// Apply implements resource.Type. The file is replaced in one rename, so
// the snapshot alone undoes it: nothing is journalled.
func (f *File) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	c, err := decode(req.Planned)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	m, err := parseMode(c.Mode)
	if err != nil {
		return resource.ApplyResponse{}, fmt.Errorf("write %s: %w", c.Path, err)
	}
	h, err := f.hosts.Get(ctx, c.Host)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	h = confine(h, c.Path)
	opts := transport.WriteOptions{Mode: m, UID: -1, GID: -1}
	var before snapshot
	if len(req.Snapshot) > 0 {
		if err := json.Unmarshal(req.Snapshot, &before); err != nil {
			return resource.ApplyResponse{}, fmt.Errorf("write %s: bad snapshot: %w", c.Path, err)
		}
		if before.Exists {
			opts.UID, opts.GID = before.UID, before.GID
		}
		if before.Path == "" {
			before.Path = c.Path
		}
		// The earlier content must be safe on the host before it is
		// overwritten: Restore puts it back from there.
		if err := saveBefore(ctx, h, before); err != nil {
			return resource.ApplyResponse{}, err
		}
	}
	if c.Owner != "" {
		if opts.UID, err = h.LookupUser(ctx, c.Owner); err != nil {
			return resource.ApplyResponse{}, fmt.Errorf("write %s: %w", c.Path, err)
		}
	}
	if c.Group != "" {
		if opts.GID, err = h.LookupGroup(ctx, c.Group); err != nil {
			return resource.ApplyResponse{}, fmt.Errorf("write %s: %w", c.Path, err)
		}
	}
	if req.Logger != nil {
		req.Logger.Debug("writing file", "host", c.Host.Name, "path", c.Path, "bytes", len(c.Content), "mode", c.Mode)
	}
	if err := h.WriteFile(ctx, c.Path, []byte(c.Content), opts); err != nil {
		return resource.ApplyResponse{}, fmt.Errorf("write %s on %s: %w", c.Path, h.Name(), err)
	}
	return resource.ApplyResponse{Reached: reached(ctx, h, req.Config, c, m, opts)}, nil
}

// Restore implements resource.Type: it writes back the snapshot's bytes,
// mode and ids, or removes the file when there was none. The file type
// journals nothing, so there is no journal to replay.
func (f *File) Restore(ctx context.Context, req resource.RestoreRequest) error {
	var s snapshot
	if err := json.Unmarshal(req.Snapshot, &s); err != nil {
		return fmt.Errorf("restore file: bad snapshot: %w", err)
	}
	c, err := decode(req.Config)
	if err != nil {
		return err
	}
	if s.Path == "" {
		s.Path = c.Path
	}
	h, err := f.hosts.Get(ctx, c.Host)
	if err != nil {
		return err
	}
	h = confine(h, s.Path)
	fi, err := h.Stat(ctx, s.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !s.Exists {
			return nil
		}
	case err != nil:
		return fmt.Errorf("restore %s on %s: %w", s.Path, h.Name(), err)
	default:
		if err := regular(h, s.Path, fi); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if !s.Exists {
		if req.Logger != nil {
			req.Logger.Debug("removing file", "host", c.Host.Name, "path", s.Path)
		}
		if err := h.Remove(ctx, s.Path); err != nil {
			return fmt.Errorf("restore %s on %s: %w", s.Path, h.Name(), err)
		}
		return nil
	}
	data, err := keep.Load(ctx, h, s.Path, s.sum())
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if req.Logger != nil {
		req.Logger.Debug("restoring file", "host", c.Host.Name, "path", s.Path, "bytes", len(data))
	}
	opts := transport.WriteOptions{Mode: transport.FileModeOf(s.Mode), UID: s.UID, GID: s.GID}
	if err := h.WriteFile(ctx, s.Path, data, opts); err != nil {
		return fmt.Errorf("restore %s on %s: %w", s.Path, h.Name(), err)
	}
	return nil
}

var _ resource.Claimer = (*File)(nil)

// Claims implements resource.Claimer: one file on one host has one owner.
// Two resources writing the same path would undo each other on every
// apply, and destroy could not know whose "before" to put back.
func (*File) Claims(config cty.Value) []resource.Claim {
	c, err := decode(config)
	if err != nil {
		return nil
	}
	return []resource.Claim{{
		Key:  claimKey(c.Host, path.Clean(c.Path)),
		Path: cty.GetAttrPath("path"),
		What: fmt.Sprintf("the file %s on %s", c.Path, c.Host.String()),
	}}
}

// claimKey is the claim on the file p on host, shared with postfix_map's
// table claims.
func claimKey(host resource.Host, p string) string {
	return "file\x00" + host.Key() + "\x00" + p
}

// saveBefore keeps the earlier content on the host before the file changes.
func saveBefore(ctx context.Context, h transport.Host, s snapshot) error {
	if !s.Exists || s.sum() == "" {
		return nil
	}
	return keep.Save(ctx, h, s.Path, s.sum(), s.Content)
}

// sum is the digest naming the snapshot's stored copy.
func (s snapshot) sum() string {
	if s.Digest != "" {
		return s.Digest
	}
	return s.SHA256
}

var _ resource.Adopter = (*File)(nil)

// Adopt implements resource.Adopter: a file that already matches is kept
// on its host as it is, so that destroy can put these bytes back even if
// someone edits the file before mailplan first changes it.
func (f *File) Adopt(ctx context.Context, req resource.ApplyRequest) error {
	c, err := decode(req.Config)
	if err != nil {
		return err
	}
	var s snapshot
	if err := json.Unmarshal(req.Snapshot, &s); err != nil {
		return fmt.Errorf("adopt %s: bad snapshot: %w", c.Path, err)
	}
	if s.Path == "" {
		s.Path = c.Path
	}
	h, err := f.hosts.Get(ctx, c.Host)
	if err != nil {
		return err
	}
	return saveBefore(ctx, confine(h, s.Path), s)
}
