package postfix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// Map is the `postfix_map` resource type: a lookup table file, compiled
// with postmap(1) for hashed types, and the main.cf parameter that lists
// it.
type Map struct {
	hosts Hosts
}

var (
	_ resource.Type      = (*Map)(nil)
	_ resource.Validator = (*Map)(nil)
	_ resource.Claimer   = (*Map)(nil)
)

// NewMap returns the postfix_map type, reaching hosts through hosts.
func NewMap(hosts Hosts) *Map { return &Map{hosts: hosts} }

var entryType = cty.Object(map[string]cty.Type{"key": cty.String, "value": cty.String})

var mapSchema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"host": {Type: resource.HostType, Kind: resource.HostRef, Required: true, ForceNew: true, Identity: true,
		Description: "The host Postfix runs on."},
	"path": {Type: cty.String, Required: true, ForceNew: true, Identity: true, ShowUnchanged: true,
		Description: "The absolute path of the table's source file, e.g. /etc/postfix/migration/transport_map."},
	"type": {Type: cty.String, Required: true, ForceNew: true,
		Description: "The table type: hash, lmdb, btree, cdb, texthash, regexp or pcre."},
	"entries": {Type: cty.List(entryType),
		Description: "The table's lines in order, each {key, value}; give this or content."},
	"content": {Type: cty.String,
		Description: "The whole table file verbatim; give this or entries."},
	"parameter": {Type: cty.String, ForceNew: true,
		Description: "A main.cf parameter that must list TYPE:PATH, e.g. recipient_bcc_maps."},
	"position": {Type: cty.String, Default: cty.StringVal("first"),
		Description: `Where TYPE:PATH goes in the parameter's list when it is not there yet: "first" or "last".`},
	"config_dir": {Type: cty.String, Default: cty.StringVal(DefaultConfigDir), ForceNew: true,
		Description: "The Postfix instance: the directory of its main.cf, passed as -c to every command."},
	"reload": {Type: cty.Bool, Default: cty.True,
		Description: "Run postfix reload after a change, when Postfix runs."},
	"parameter_value": {Type: cty.String, Computed: true,
		Description: "The parameter's whole value (its default when main.cf does not set it)."},
	"compiled": {Type: cty.Bool, Computed: true,
		Description: "For hashed types, whether the compiled file exists and is not older than the source; null for text types."},
}}

// Name implements resource.Type.
func (*Map) Name() string { return "postfix_map" }

// Schema implements resource.Type.
func (*Map) Schema() *resource.Schema { return mapSchema }

var paramNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// Validate implements resource.Validator.
func (*Map) Validate(ctx context.Context, config cty.Value) error {
	config, _ = config.UnmarkDeep()
	if config.IsNull() || !config.IsKnown() {
		return nil
	}
	var errs resource.AttrErrors
	errs = append(errs, checkAbsPath(config, "path", "table")...)
	errs = append(errs, checkAbsPath(config, "config_dir", "configuration directory")...)
	typ := ""
	if v, ok := resource.Known(config, "type"); ok {
		typ = v.AsString()
		if _, valid := compiledSuffix[typ]; !valid {
			errs = append(errs, resource.Errorf("type", "Unsupported table type",
				"The table type %q is not one postfix_map manages; use one of %s.", typ, strings.Join(TableTypes, ", ")))
			typ = ""
		}
	}
	entries, hasEntries := resource.Known(config, "entries")
	_, hasContent := resource.Known(config, "content")
	eKnown, cKnown := config.GetAttr("entries").IsKnown(), config.GetAttr("content").IsKnown()
	switch {
	case hasEntries && hasContent:
		errs = append(errs, resource.Errorf("content", "Both entries and content",
			"Give the table either as entries or as content, not both."))
	case !hasEntries && !hasContent && eKnown && cKnown:
		errs = append(errs, resource.Errorf("entries", "No table content",
			"Give the table's lines as entries = [{ key = ..., value = ... }], or the whole file as content."))
	}
	if hasEntries && typ != "" {
		for i, e := range decodeEntries(entries) {
			at := cty.GetAttrPath("entries").IndexInt(i)
			if msg := checkKey(typ, e.Key); msg != "" {
				errs = append(errs, &resource.AttrError{Path: at.GetAttr("key"), Summary: "Invalid table key", Detail: msg})
			}
			if msg := checkValue(e.Key, e.Value); msg != "" {
				errs = append(errs, &resource.AttrError{Path: at.GetAttr("value"), Summary: "Invalid table value", Detail: msg})
			}
		}
	}
	if v, ok := resource.Known(config, "parameter"); ok {
		p := v.AsString()
		switch {
		case !paramNameRE.MatchString(p):
			errs = append(errs, resource.Errorf("parameter", "Invalid parameter name",
				"%q is not a main.cf parameter name (letters, digits and underscores).", p))
		case !isMapParameter(p):
			errs = append(errs, resource.Errorf("parameter", "Parameter takes no lookup tables",
				"The main.cf parameter %s does not take a list of lookup tables (postconf(5)); name one such as transport_maps, recipient_bcc_maps or virtual_alias_maps.", p))
		}
	}
	if v, ok := resource.Known(config, "position"); ok && v.AsString() != "first" && v.AsString() != "last" {
		errs = append(errs, resource.Errorf("position", "Invalid position",
			`The position %q is neither "first" nor "last".`, v.AsString()))
	}
	return errs.Err()
}

func checkAbsPath(config cty.Value, attr, what string) resource.AttrErrors {
	v := config.GetAttr(attr)
	if !v.IsKnown() || v.IsNull() {
		return nil
	}
	p := v.AsString()
	switch {
	case !path.IsAbs(p):
		return resource.AttrErrors{resource.Errorf(attr, "Relative path",
			"The %s %q is relative; give its absolute path on the host.", what, p)}
	case path.Clean(p) != p || p == "/":
		return resource.AttrErrors{resource.Errorf(attr, "Unclean path",
			"Write the path %q as %q: no trailing slash, no empty, . or .. elements.", p, path.Clean(p))}
	}
	return nil
}

// decodeEntries decodes a wholly known entries list; a null key or value
// is "".
func decodeEntries(v cty.Value) []entry {
	var out []entry
	if err := resource.DecodeAttr(v, &out); err != nil {
		return nil
	}
	return out
}

func encodeEntries(es []entry) cty.Value {
	if len(es) == 0 {
		return cty.ListValEmpty(entryType)
	}
	v, err := gocty.ToCtyValue(es, cty.List(entryType))
	if err != nil {
		panic(err) // entry and entryType disagree
	}
	return v
}

// mapConfig is a decoded postfix_map configuration.
type mapConfig struct {
	Host      resource.Host `cty:"host"`
	Path      string        `cty:"path"`
	Type      string        `cty:"type"`
	Entries   []entry       `cty:"entries"` // nil: the table is content
	Content   string        `cty:"content"`
	Parameter string        `cty:"parameter"`
	Position  string        `cty:"position"`
	ConfigDir string        `cty:"config_dir"`
	Reload    bool          `cty:"reload"`
	// The computed attributes, unused.
	ParameterValue cty.Value `cty:"parameter_value"`
	Compiled       cty.Value `cty:"compiled"`

	cfg   cty.Value
	table []byte // the file as it must be
}

// entry is how the parameter names the table.
func (c mapConfig) entry() string { return c.Type + ":" + c.Path }

// useEntries says whether the table is given as entries.
func (c mapConfig) useEntries() bool { return c.Entries != nil }

// decodeMapRequest is decodeRequest for a postfix_map.
func decodeMapRequest(op string, config cty.Value, snapshot []byte) (mapConfig, mapSnapshot, error) {
	return decodeRequest[mapSnapshot](decodeMap, func(c mapConfig) string { return c.Path }, op, config, snapshot)
}

func decodeMap(v cty.Value) (mapConfig, error) {
	c := mapConfig{Position: "first", ConfigDir: DefaultConfigDir, Reload: true}
	if err := resource.Decode(v, &c); err != nil {
		return c, fmt.Errorf("postfix_map: %w", err)
	}
	c.cfg, _ = v.UnmarkDeep()
	if c.Path == "" || c.Type == "" {
		return c, errors.New("postfix_map: path and type are required")
	}
	if _, ok := compiledSuffix[c.Type]; !ok {
		return c, fmt.Errorf("postfix_map: unsupported table type %q", c.Type)
	}
	if c.useEntries() {
		c.table = []byte(render(c.Entries))
	} else {
		c.table = []byte(c.Content)
	}
	return c, nil
}

// compiledPath is the file postmap writes for the table at p.
func (c mapConfig) compiledPath(p string) string { return p + compiledSuffix[c.Type] }

// tmpPath is where Apply writes and compiles the new table before renaming
// it into place: beside it, so the renames stay on one filesystem, and
// under a fixed name, so that Restore finds what a crash left behind.
func tmpPath(p string) string { return path.Join(path.Dir(p), "."+path.Base(p)+".mailplan-new") }

// mapSnapshot is what Restore puts back. The table's bytes are not in it:
// they stay on the host (package keep), as for the file type.
type mapSnapshot struct {
	Path   string `json:"path"`
	Type   string `json:"type"`
	Exists bool   `json:"exists"`
	// Digest is the table's keyed digest (keep.Sum), naming its kept
	// copy; SHA256 the plain one that snapshots taken before keyed
	// digests hold instead (see sum).
	Digest string `json:"digest,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Mode   uint32 `json:"mode,omitempty"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	// Compiled says whether the compiled file (.db, .lmdb, .cdb) existed.
	Compiled bool `json:"compiled,omitempty"`
	// ParentMissing: the table's directory did not exist; Apply creates
	// it and Restore removes it again when it is empty.
	ParentMissing bool `json:"parent_missing,omitempty"`
	// MainCF says whether config_dir held a main.cf.
	MainCF bool `json:"main_cf"`
	// Param is the parameter's state, when one is configured: what a
	// restore puts back, so without what other maps of this process
	// added to it (see addition).
	Param *param `json:"param,omitempty"`
	// Live is the parameter as it is, when other maps of this process
	// added to it: Param plus their entries.
	Live *param `json:"live,omitempty"`
	// UnknownParam: postconf does not know the parameter.
	UnknownParam bool `json:"unknown_param,omitempty"`

	content []byte // the table's content, while reading
	fresh   bool   // the compiled file is not older than the source
}

// live is the parameter as Read found it.
func (s mapSnapshot) live() *param {
	if s.Live != nil {
		return s.Live
	}
	return s.Param
}

// effective is the value a parameter has: its setting, or its default.
func (p param) effective() string {
	if p.Set {
		return p.Value
	}
	return p.Default
}

// Read implements resource.Type. The object exists when the table file
// does; the parameter's value is read in any case, for the plan.
func (m *Map) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	c, err := decodeMap(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	in, err := openInstance(ctx, m.hosts, c.Host, c.ConfigDir)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	s, err := m.look(ctx, in, c)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	resp, err := resource.Absent(mapSchema, s)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	if !s.Exists {
		return resp, nil
	}
	cur := configAttrs(c)
	text := strings.ToValidUTF8(string(s.content), "\uFFFD")
	if c.useEntries() {
		cur["entries"] = encodeEntries(parseEntries(c.Type, text))
	} else {
		cur["content"] = cty.StringVal(text)
	}
	if p := s.live(); p != nil {
		cur["parameter_value"] = cty.StringVal(p.effective())
	}
	if hashed(c.Type) {
		cur["compiled"] = cty.BoolVal(s.fresh)
	}
	resp.Current = cty.ObjectVal(cur)
	return resp, nil
}

// configAttrs are the attributes of a Current or Planned value that come
// from the configuration, the computed ones null.
func configAttrs(c mapConfig) map[string]cty.Value {
	out := map[string]cty.Value{}
	for name := range mapSchema.Attributes {
		out[name] = c.cfg.GetAttr(name)
	}
	out["entries"] = cty.NullVal(cty.List(entryType))
	out["content"] = cty.NullVal(cty.String)
	out["parameter_value"] = cty.NullVal(cty.String)
	out["compiled"] = cty.NullVal(cty.Bool)
	return out
}

// look reads the table, its compiled file and the parameter.
func (m *Map) look(ctx context.Context, in instance, c mapConfig) (mapSnapshot, error) {
	h := tableHost(in.h, c.Path)
	s := mapSnapshot{Path: c.Path, Type: c.Type, UID: -1, GID: -1}
	if err := m.lookParam(ctx, in, c, &s); err != nil {
		return s, err
	}
	fi, err := h.Stat(ctx, c.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := h.Stat(ctx, path.Dir(c.Path)); errors.Is(err, fs.ErrNotExist) {
			s.ParentMissing = true
		} else if err != nil {
			return s, fmt.Errorf("read %s on %s: %w", path.Dir(c.Path), h.Name(), err)
		} else if hashed(c.Type) {
			// A compiled file without its source is someone's: Restore
			// must not remove it.
			if _, err := h.Stat(ctx, c.compiledPath(c.Path)); err == nil {
				s.Compiled = true
			}
		}
		return s, nil
	case err != nil:
		return s, fmt.Errorf("read %s on %s: %w", c.Path, h.Name(), err)
	case fi.IsSymlink():
		// Never followed: see tableHost.
		return s, fmt.Errorf("%w on %s", &transport.LinkError{Op: "write", Path: c.Path, Link: c.Path, Root: path.Dir(c.Path)}, h.Name())
	case !fi.IsRegular():
		return s, fmt.Errorf("%s on %s is not a regular file (%v); postfix_map manages a table file", c.Path, h.Name(), fi.Mode.Type())
	}
	data, err := h.ReadFile(ctx, c.Path)
	if err != nil {
		return s, fmt.Errorf("read %s on %s: %w", c.Path, h.Name(), err)
	}
	s.Exists, s.content, s.Mode, s.UID, s.GID = true, data, uint32(fi.Mode.Perm()), fi.UID, fi.GID
	s.Digest, s.Size = keep.Sum(ctx, data), int64(len(data))
	if hashed(c.Type) {
		cfi, err := h.Stat(ctx, c.compiledPath(c.Path))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return s, fmt.Errorf("read %s on %s: %w", c.compiledPath(c.Path), h.Name(), err)
		default:
			s.Compiled = true
			// Postfix itself warns "database … is older than source
			// file" in this case and uses the stale database.
			s.fresh = !cfi.ModTime.Before(fi.ModTime)
		}
	}
	return s, nil
}

// lookParam reads whether main.cf exists and the parameter, under the
// edit lock, so that what it reads and what the maps of this process
// added to the parameter agree: the snapshot holds the parameter without
// the other maps' additions.
//
// The reads themselves run without the lock, so that the reads of many
// maps of one instance (the engine reads each before and after its apply)
// run side by side: when the lock is taken, a read that saw no release
// of it since it started (instanceEdits.gen) saw no edit of this process
// either, and is taken; otherwise it is made again, the last time under
// the lock as before.
func (m *Map) lookParam(ctx context.Context, in instance, c mapConfig, s *mapSnapshot) error {
	if c.Parameter == "" {
		mainCF, err := in.readMainCF(ctx)
		s.MainCF = mainCF != nil
		return err
	}
	e := in.edits()
	for try := 0; ; try++ {
		locked := try == 2
		var unlock func()
		if locked {
			unlock = in.lock()
		}
		gen := e.gen.Load()
		mainCF, p, unknown, err := in.lookOne(ctx, c.Parameter)
		if !locked {
			unlock = in.lock()
		}
		if err != nil || (!locked && e.gen.Load() != gen) {
			unlock()
			if err != nil {
				return err
			}
			continue
		}
		s.MainCF = mainCF != nil
		switch {
		case s.MainCF:
			s.Param, s.UnknownParam = &p, unknown
			if !unknown {
				if base := e.addition(p).without(p, c.entry()); base != p {
					s.Param, s.Live = &base, &p
				}
			}
		default:
			s.Param = &param{Name: c.Parameter}
		}
		unlock()
		return nil
	}
}

// lookOne reads main.cf (nil when there is none) and, when there is one,
// the parameter name with its line as written.
func (in instance) lookOne(ctx context.Context, name string) ([]byte, param, bool, error) {
	mainCF, err := in.readMainCF(ctx)
	if err != nil || mainCF == nil {
		return mainCF, param{}, false, err
	}
	p, unknown, err := in.effectiveOf(ctx, mainCF, name)
	if err != nil {
		return nil, param{}, false, err
	}
	vals := map[string]param{p.Name: p}
	rawLines(mainCF, vals)
	return mainCF, vals[p.Name], unknown, nil
}

// effective reads one parameter: `postconf -n NAME` tells whether main.cf
// sets it, and, when it does not, Postfix's built-in default gives the
// value a list edit must start from (e.g. alias_maps' "hash:/etc/aliases,
// …"). The default is read with -d, which ignores main.cf, not with
// `postconf -h NAME`, which prints main.cf's value once there is one: a
// Read holds no host lock, and another run's edit landing between the two
// commands made -h return that run's value as the "default" of a parameter
// -n had found unset. A destroy then restored "not set" for a value that
// listed the other run's table, and postconf -X took it out (seen in CI by
// TestTwoRunsLoopOneMainCF). For the parameters postfix_map edits, lists of
// tables, the two agree whenever main.cf does not set the parameter.
func (in instance) effective(ctx context.Context, name string) (param, bool, error) {
	vals, unknown, err := in.params(ctx, []string{name})
	if err != nil {
		return param{}, false, err
	}
	p := vals[name]
	if len(unknown) > 0 || p.Set {
		return p, len(unknown) > 0, nil
	}
	if p.Default, err = in.builtinDefault(ctx, name); err != nil {
		return p, false, err
	}
	return p, false, nil
}

// Plan implements resource.Type. Besides computing the planned value it
// checks, on the host and without changing it, what only the host can
// tell: that config_dir is a Postfix instance, that the table type is
// available there, that the parameter exists, and that Postfix accepts
// every line of a regexp or pcre table.
func (m *Map) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	c, s, err := decodeMapRequest("plan", req.Config, req.Snapshot)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	if !s.MainCF {
		return resource.PlanResponse{}, noMainCF(c.ConfigDir, c.Host)
	}
	if s.UnknownParam {
		return resource.PlanResponse{}, resource.Errorf("parameter", "Unknown Postfix parameter",
			"Postfix on %s does not know the parameter %s (postconf -c %s says \"unknown parameter\"); check its spelling.",
			c.Host, c.Parameter, c.ConfigDir)
	}
	if err := m.hostChecks(ctx, c); err != nil {
		return resource.PlanResponse{}, err
	}
	planned := configAttrs(c)
	planned["entries"], planned["content"] = c.cfg.GetAttr("entries"), c.cfg.GetAttr("content")
	if c.useEntries() {
		// The planned entries are what Read will parse back.
		planned["entries"] = encodeEntries(decodeEntries(c.cfg.GetAttr("entries")))
	}
	if p := s.live(); p != nil {
		planned["parameter_value"] = cty.StringVal(addEntry(p.effective(), c.entry(), c.Position))
	}
	if hashed(c.Type) {
		planned["compiled"] = cty.True
	}
	return resource.PlanResponse{Planned: cty.ObjectVal(planned)}, nil
}

var warningLineRE = regexp.MustCompile(`, line (\d+): `)

// hostChecks asks the host's Postfix about the table.
func (m *Map) hostChecks(ctx context.Context, c mapConfig) error {
	if !optionalTypes[c.Type] && !patterned(c.Type) {
		return nil
	}
	in, err := openInstance(ctx, m.hosts, c.Host, c.ConfigDir)
	if err != nil {
		return err
	}
	if optionalTypes[c.Type] {
		types, err := in.mapTypes(ctx)
		if err != nil {
			return err
		}
		if !types[c.Type] {
			return resource.Errorf("type", "Table type not available",
				"Postfix on %s does not support %s tables (postconf -c %s -m does not list it); install its package (postfix-%s on Debian) or choose another type.",
				c.Host, c.Type, c.ConfigDir, c.Type)
		}
	}
	if !patterned(c.Type) {
		return nil
	}
	warn, err := in.probe(ctx, c.Type, c.table)
	if err != nil {
		return err
	}
	if warn == "" {
		return nil
	}
	warn = strings.ReplaceAll(warn, "/dev/stdin", c.Path)
	at := cty.GetAttrPath("content")
	if c.useEntries() {
		at = cty.GetAttrPath("entries")
		// Line 1 is the header comment; line N is entry N-2 from zero.
		if m := warningLineRE.FindStringSubmatch(warn); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 2 && n-2 < len(decodeEntries(c.cfg.GetAttr("entries"))) {
				at = at.IndexInt(n - 2).GetAttr("key")
			}
		}
	}
	return &resource.AttrError{Path: at, Summary: "Postfix rejects the table",
		Detail: fmt.Sprintf("postmap on %s rejects the candidate %s table (checked without installing it):\n%s", c.Host, c.Type, warn)}
}

// mapJournal is an undo entry: the parameter as it was before Apply
// changed it.
type mapJournal struct {
	Param param `json:"param"`
	// Base is the parameter without what other maps of this process had
	// added to it (see addition), when that differs from Param: what the
	// restore puts back once theirs are gone too.
	Base *param `json:"base,omitempty"`
}

// bases are the states a restore may put back: the parameter without
// what other maps of this process added to it, and as this map's edit
// found it.
func (e mapJournal) bases() (base, before param) {
	if e.Base != nil {
		return *e.Base, e.Param
	}
	return e.Param, e.Param
}

// Apply implements resource.Type. The order keeps Postfix consistent at
// every step: the new table is written and compiled under a temporary
// name, the compiled file renamed into place before the source (so
// Postfix never pairs a new source with an old database for long), and
// only then is the table listed in the parameter; postfix check must pass
// before the reload.
func (m *Map) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	c, s, err := decodeMapRequest("apply", req.Config, req.Snapshot)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	in, err := openInstance(ctx, m.hosts, c.Host, c.ConfigDir)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	log := orNull(req.Logger)
	var join func()
	if c.Parameter != "" && req.Batch == nil {
		var leave func()
		join, leave = in.edits().queue.arrive()
		defer leave()
	}

	tableChanged := !s.Exists || !keep.Matches(ctx, s.sum(), c.table)
	if hashed(c.Type) {
		cur, _ := req.Current.UnmarkDeep()
		if cur.IsNull() || !cur.GetAttr("compiled").True() {
			tableChanged = true
		}
	}
	if tableChanged {
		if err := m.writeTable(ctx, in, c, s, log); err != nil {
			return resource.ApplyResponse{}, err
		}
	}

	l := &listing{ctx: ctx, in: in, c: c, s: s, j: req.Journal, log: log, tableChanged: tableChanged}
	if req.Batch != nil && (c.Parameter != "" || tableChanged) {
		// The listing, check and reload are the batch's (batch.go).
		req.Batch.Defer(l)
		return resource.ApplyResponse{}, nil
	}
	if c.Parameter != "" {
		return resource.ApplyResponse{}, in.list(l, join)
	}
	if !tableChanged {
		return resource.ApplyResponse{}, nil
	}
	return resource.ApplyResponse{}, in.settle(ctx, c.Reload, log)
}

func (m *Map) writeTable(ctx context.Context, in instance, c mapConfig, s mapSnapshot, log hclog.Logger) error {
	h := tableHost(in.h, c.Path)
	opts := transport.WriteOptions{Mode: 0o644, UID: -1, GID: -1}
	if s.Exists {
		// The earlier table must be safe on the host before it is
		// replaced: Restore puts it back from there.
		if err := keep.Save(ctx, h, c.Path, s.sum(), nil); err != nil {
			return err
		}
		opts = transport.WriteOptions{Mode: fs.FileMode(s.Mode), UID: s.UID, GID: s.GID}
	}
	if s.ParentMissing {
		if err := h.MkdirAll(ctx, path.Dir(c.Path), 0o755); err != nil {
			return fmt.Errorf("create %s on %s: %w", path.Dir(c.Path), h.Name(), err)
		}
	}
	// A write of an earlier apply killed half way (this one continues it)
	// left its temporary files.
	for _, p := range []string{tmpPath(c.Path), c.Path} {
		if err := transport.RemoveTemps(ctx, h, p); err != nil {
			return err
		}
	}
	log.Debug("writing table", "path", c.Path, "type", c.Type, "bytes", len(c.table))
	if !hashed(c.Type) {
		if err := h.WriteFile(ctx, c.Path, c.table, opts); err != nil {
			return fmt.Errorf("write %s on %s: %w", c.Path, h.Name(), err)
		}
		return nil
	}
	tmp := tmpPath(c.Path)
	if err := h.WriteFile(ctx, tmp, c.table, opts); err != nil {
		return fmt.Errorf("write %s on %s: %w", tmp, h.Name(), err)
	}
	if err := in.postmap(ctx, c.Type, tmp); err != nil {
		return err
	}
	if err := h.Rename(ctx, c.compiledPath(tmp), c.compiledPath(c.Path)); err != nil {
		return fmt.Errorf("rename %s on %s: %w", c.compiledPath(tmp), h.Name(), err)
	}
	if err := h.Rename(ctx, tmp, c.Path); err != nil {
		return fmt.Errorf("rename %s on %s: %w", tmp, h.Name(), err)
	}
	return nil
}

// Claims implements resource.Claimer: the table file. Its key is the one
// the file type uses, so a file and a postfix_map on the same path
// conflict too.
func (*Map) Claims(config cty.Value) []resource.Claim {
	c, err := decodeMap(config)
	if err != nil {
		return nil
	}
	claims := []resource.Claim{{
		Key:  "file\x00" + c.Host.Key() + "\x00" + path.Clean(c.Path),
		Path: cty.GetAttrPath("path"),
		What: fmt.Sprintf("the table %s on %s", c.Path, c.Host),
	}}
	if c.Parameter != "" {
		// Maps share the parameter they add themselves to; a
		// postfix_config setting its whole value conflicts with them.
		claims = append(claims, resource.Claim{
			Key:    "postfix-parameter\x00" + c.Host.Key() + "\x00" + c.ConfigDir + "\x00" + c.Parameter,
			Path:   cty.GetAttrPath("parameter"),
			What:   fmt.Sprintf("the main.cf parameter %s of the Postfix instance %s on %s", c.Parameter, c.ConfigDir, c.Host),
			Shared: true,
		})
	}
	return claims
}

var _ resource.Fingerprinter = (*Map)(nil)

// Fingerprint implements resource.Fingerprinter. Of the parameter's
// value only whether it lists this table counts: several maps add
// themselves to one parameter (one per domain, applied in parallel), and
// another map's addition since the plan does not make this one's plan
// stale — Apply reads the value again and adds to what is there.
func (*Map) Fingerprint(current cty.Value) []byte {
	v, _ := current.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return []byte("absent")
	}
	attrs := v.AsValueMap()
	if pv := attrs["parameter_value"]; !pv.IsNull() && pv.IsKnown() {
		entry := attrs["type"].AsString() + ":" + attrs["path"].AsString()
		attrs["parameter_value"] = cty.StringVal(fmt.Sprintf("lists %s: %v", entry, lists(pv.AsString(), entry)))
	}
	b, err := ctyjson.Marshal(cty.ObjectVal(attrs), mapSchema.ImpliedType())
	if err != nil {
		return []byte(v.GoString())
	}
	return b
}
