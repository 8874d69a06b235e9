package mailbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// Hosts gives the connection to a host; *pool.Pool is one.
type Hosts = transport.Getter

// Copy is the `mailbox_copy` resource type.
type Copy struct {
	hosts Hosts

	// recent holds the last listing of each copy, so that an Apply that
	// comes right after the engine's Read (it reads again just before
	// applying) does not list both trees a second time.
	mu     sync.Mutex
	recent map[string]recentScan
}

// recentScan is a listing and when it was made.
type recentScan struct {
	s  *scan
	at time.Time
}

// scanReuse is how old a listing Apply may start from. Mail that arrives
// in that time is copied by the next run, as mail arriving just after a
// listing always is; a message that vanishes is skipped.
const scanReuse = 2 * time.Second

func (c config) key() string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%q\x00%q\x00%v\x00%v\x00%v\x00%q\x00%q", c.From, c.To, c.Source, c.Destination, c.include, c.exclude, c.PreserveUIDs, c.Dedupe, c.Mirror,
		deref(c.ShadowHeader), deref(c.ShadowMatch))
}

// remember keeps s as the latest listing for cfg.
func (c *Copy) remember(cfg config, s *scan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recent == nil {
		c.recent = map[string]recentScan{}
	}
	c.recent[cfg.key()] = recentScan{s: s, at: time.Now()}
}

// takeRecent returns, and forgets, a listing of cfg made less than
// scanReuse ago.
func (c *Copy) takeRecent(cfg config) *scan {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recent[cfg.key()]
	delete(c.recent, cfg.key())
	if !ok || time.Since(r.at) > scanReuse {
		return nil
	}
	return r.s
}

var (
	_ resource.Type          = (*Copy)(nil)
	_ resource.Validator     = (*Copy)(nil)
	_ resource.Fingerprinter = (*Copy)(nil)
)

// New returns the mailbox_copy type, reaching hosts through hosts.
func New(hosts Hosts) *Copy { return &Copy{hosts: hosts} }

// Defaults.
const (
	DefaultParallelism = 8
	DefaultVerify      = "size"
)

// The computed attributes: what is still to do, read from both sides. A
// plan sets them all to zero, so a diff shows the work as "N -> 0".
var counters = []string{"pending_messages", "pending_bytes", "flag_changes", "pending_removals", "pending_metadata", "conflicts"}

var schema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"from": {Type: resource.HostType, Kind: resource.HostRef, Required: true,
		Description: "The host the mailboxes are copied from; it is never written."},
	"to": {Type: resource.HostType, Kind: resource.HostRef, Required: true,
		Description: "The host the mailboxes are copied to."},
	"source": {Type: cty.String, Required: true,
		Description: "The absolute root directory on from; every Maildir under it is copied."},
	"destination": {Type: cty.String, Required: true,
		Description: "The absolute root directory on to; each Maildir goes to the same relative place."},
	"include": {Type: cty.List(cty.String), Default: cty.ListVal([]cty.Value{cty.StringVal("**")}),
		Description: `Globs over mailbox paths relative to source ("**" any number of path elements).`},
	"exclude": {Type: cty.List(cty.String), Default: cty.ListValEmpty(cty.String),
		Description: "Globs of mailboxes not to copy."},
	"owner": {Type: cty.String,
		Description: "The owner of what is created at the destination; unset: the connecting user."},
	"group": {Type: cty.String,
		Description: "The group of what is created at the destination."},
	"preserve_uids": {Type: cty.Bool, Default: cty.True,
		Description: "Also copy dovecot-uidlist, dovecot-keywords, subscriptions and maildirfolder."},
	"verify": {Type: cty.String, Default: cty.StringVal(DefaultVerify),
		Description: `"size" or "sha256", checked on every copied message.`},
	"parallelism": {Type: cty.Number, Default: cty.NumberIntVal(DefaultParallelism),
		Description: "Transfers in flight."},
	"max_bytes_per_second": {Type: cty.Number,
		Description: "A throttle on the bytes read from the source; unset: unlimited."},
	"once": {Type: cty.Bool, Default: cty.False,
		Description: "Once an apply has completed the copy, copy nothing more while source, destination, include and exclude stay the same: after the cutover the destination is its users'."},
	"dedupe": {Type: cty.Bool, Default: cty.True,
		Description: "Take a source message as already copied when the same mailbox at the destination has it under another file name (same Message-ID; without one, same size and header block)."},
	"mirror": {Type: cty.Bool, Default: cty.False,
		Description: "Carry over what the source did since to the messages mailplan copied and the destination left as copied: removed there, removed here; flags changed there, changed here."},
	"shadow_header": {Type: cty.String,
		Description: "With shadow_match: the header (e.g. Delivered-To) that marks a message a shadow copy delivered to the destination."},
	"shadow_match": {Type: cty.String,
		Description: "A regular expression (RE2) on shadow_header's value: a destination message it matches, which the source also has, is replaced by the source's copy (its flags and UID)."},
	"pending_messages": {Type: cty.Number, Computed: true, Description: "Messages still to copy."},
	"pending_bytes":    {Type: cty.Number, Computed: true, Description: "Bytes of the messages still to copy."},
	"flag_changes":     {Type: cty.Number, Computed: true, Description: "Messages to rename at the destination."},
	"pending_removals": {Type: cty.Number, Computed: true, Description: "Messages mirror removes at the destination."},
	"pending_metadata": {Type: cty.Number, Computed: true, Description: "Dovecot metadata files to copy."},
	"conflicts":        {Type: cty.Number, Computed: true, Description: "Destination files in the way."},
}}

// Name implements resource.Type.
func (*Copy) Name() string { return "mailbox_copy" }

// Schema implements resource.Type.
func (*Copy) Schema() *resource.Schema { return schema }

// config is a decoded configuration.
type config struct {
	From         resource.Host `cty:"from"`
	To           resource.Host `cty:"to"`
	Source       string        `cty:"source"`      // clean
	Destination  string        `cty:"destination"` // clean
	IncludeGlobs []*string     `cty:"include"`
	ExcludeGlobs []*string     `cty:"exclude"`
	Owner        string        `cty:"owner"`
	Group        string        `cty:"group"`
	PreserveUIDs bool          `cty:"preserve_uids"`
	Verify       string        `cty:"verify"`
	Parallelism  *big.Float    `cty:"parallelism"`
	MaxBPS       *big.Float    `cty:"max_bytes_per_second"`
	Once         bool          `cty:"once"`
	Dedupe       bool          `cty:"dedupe"`
	Mirror       bool          `cty:"mirror"`
	ShadowHeader *string       `cty:"shadow_header"`
	ShadowMatch  *string       `cty:"shadow_match"`
	// The computed counters, unused.
	PendingMessages cty.Value `cty:"pending_messages"`
	PendingBytes    cty.Value `cty:"pending_bytes"`
	FlagChanges     cty.Value `cty:"flag_changes"`
	PendingRemovals cty.Value `cty:"pending_removals"`
	PendingMetadata cty.Value `cty:"pending_metadata"`
	Conflicts       cty.Value `cty:"conflicts"`

	// include and exclude are the globs but for null ones.
	include, exclude []string
	sel              selector
	// shadow, when shadow_header and shadow_match are set, tells a
	// header block of a shadow copy.
	shadow      func(header []byte) bool
	parallelism int
	maxBPS      int64
}

func strList(v cty.Value) []string {
	var l []*string
	if v.IsNull() || resource.DecodeAttr(v, &l) != nil {
		return nil
	}
	return strs(l)
}

// strs is l without its nil elements.
func strs(l []*string) []string {
	var out []string
	for _, s := range l {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}

func decode(v cty.Value) (config, error) {
	c := config{PreserveUIDs: true, Dedupe: true}
	if err := resource.Decode(v, &c); err != nil {
		return c, fmt.Errorf("mailbox_copy: %w", err)
	}
	c.Source, c.Destination = path.Clean(c.Source), path.Clean(c.Destination)
	if c.Verify == "" {
		c.Verify = DefaultVerify
	}
	c.include, c.exclude = strs(c.IncludeGlobs), strs(c.ExcludeGlobs)
	if c.IncludeGlobs == nil {
		c.include = []string{"**"}
	}
	c.parallelism = DefaultParallelism
	if c.Parallelism != nil {
		i, _ := c.Parallelism.Int64()
		c.parallelism = int(i)
	}
	if c.MaxBPS != nil {
		c.maxBPS, _ = c.MaxBPS.Int64()
	}
	var err error
	if c.sel, err = newSelector(c.include, c.exclude); err != nil {
		return c, fmt.Errorf("mailbox_copy: %w", err)
	}
	if c.ShadowHeader != nil && c.ShadowMatch != nil {
		re, err := regexp.Compile(*c.ShadowMatch)
		if err != nil {
			return c, fmt.Errorf("mailbox_copy: shadow_match: %w", err)
		}
		c.shadow = shadowMatcher(*c.ShadowHeader, re)
	}
	if c.parallelism < 1 {
		c.parallelism = 1
	}
	return c, nil
}

// Validate implements resource.Validator.
func (*Copy) Validate(ctx context.Context, cfg cty.Value) error {
	cfg, _ = cfg.UnmarkDeep()
	if cfg.IsNull() || !cfg.IsKnown() {
		return nil
	}
	var errs resource.AttrErrors
	for _, attr := range []string{"source", "destination"} {
		v := cfg.GetAttr(attr)
		if !v.IsKnown() || v.IsNull() {
			continue
		}
		p := v.AsString()
		switch {
		case !path.IsAbs(p):
			errs = append(errs, resource.Errorf(attr, "Relative "+attr+" path",
				"The %s %q is relative; give the absolute path of the directory holding the Maildirs, e.g. /var/vmail.", attr, p))
		case p == "/":
			errs = append(errs, resource.Errorf(attr, "Root directory as "+attr,
				"The %s is /; give the directory holding the Maildirs, e.g. /var/vmail.", attr))
		}
	}
	for _, attr := range []string{"include", "exclude"} {
		v := cfg.GetAttr(attr)
		if !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		for _, p := range strList(v) {
			if _, err := compileGlob(p); err != nil {
				errs = append(errs, resource.Errorf(attr, "Invalid mailbox pattern", "%s. Write patterns such as \"**\", \"alice/**\" or \"**/.Trash\".", err))
			}
		}
	}
	if v, ok := resource.Known(cfg, "verify"); ok && v.AsString() != "size" && v.AsString() != "sha256" {
		errs = append(errs, resource.Errorf("verify", "Invalid verify method",
			`The verify method %q is not known; use "size" (compare lengths) or "sha256" (read the copy back and compare digests).`, v.AsString()))
	}
	if v, ok := resource.Known(cfg, "parallelism"); ok {
		if i, acc := v.AsBigFloat().Int64(); acc != big.Exact || i < 1 || i > 256 {
			errs = append(errs, resource.Errorf("parallelism", "Invalid parallelism",
				"The parallelism must be a whole number from 1 to 256; %s is not.", v.AsBigFloat().String()))
		}
	}
	if v, ok := resource.Known(cfg, "max_bytes_per_second"); ok {
		if i, _ := v.AsBigFloat().Int64(); i < 4096 {
			errs = append(errs, resource.Errorf("max_bytes_per_second", "Throttle too low",
				"max_bytes_per_second must be at least 4096; leave it out for no limit."))
		}
	}
	errs = append(errs, validateShadow(cfg)...)
	for _, attr := range counters {
		if _, ok := resource.Known(cfg, attr); ok {
			errs = append(errs, resource.Errorf(attr, "Read-only attribute",
				"%s is computed from the mailboxes and cannot be set.", attr))
		}
	}
	return errs.Err()
}

// snapshot is what Read saw, for Plan's summary and checks. It holds counts,
// not file lists, so that states and plan files stay small. Restore does
// not need it: a copy is undone by its journal alone.
type snapshot struct {
	Mailboxes   int      `json:"mailboxes"`
	Messages    int      `json:"messages"`
	Bytes       int64    `json:"bytes"`
	Renames     int      `json:"renames"`
	Deduped     int      `json:"deduped,omitempty"`
	Removals    int      `json:"removals,omitempty"`
	Kept        int      `json:"kept,omitempty"`
	Replaced    int      `json:"replaced,omitempty"`
	Metadata    int      `json:"metadata"`
	Conflicts   []string `json:"conflicts,omitempty"`
	NConflicts  int      `json:"n_conflicts,omitempty"`
	Symlinks    []string `json:"symlinks,omitempty"`
	NSymlinks   int      `json:"n_symlinks,omitempty"`
	Refused     []string `json:"refused,omitempty"`
	NRefused    int      `json:"n_refused,omitempty"`
	Unselected  int      `json:"unselected,omitempty"`
	Free        *uint64  `json:"free,omitempty"`
	Need        int64    `json:"need,omitempty"`
	FreeInodes  *uint64  `json:"free_inodes,omitempty"`
	NeedInodes  int64    `json:"need_inodes,omitempty"`
	Destination string   `json:"destination"`
	DestHost    string   `json:"dest_host"`
}

const listed = 20

func (s *scan) snapshot(free *uint64, dstName string) snapshot {
	sn := snapshot{
		Mailboxes: len(s.mailboxes), Messages: len(s.copies), Bytes: s.bytes, Renames: len(s.renames),
		Deduped: len(s.pairs), Removals: len(s.removals) - s.replaced, Kept: s.kept, Replaced: s.replaced,
		Metadata: len(s.metas), NConflicts: len(s.conflicts), NSymlinks: len(s.symlinks), NRefused: len(s.refused), Unselected: s.unselected,
		Free: free, Need: s.need(), Destination: s.dstRoot, DestHost: dstName,
	}
	sn.Conflicts = s.conflicts[:min(listed, len(s.conflicts))]
	for _, l := range s.symlinks[:min(listed, len(s.symlinks))] {
		sn.Symlinks = append(sn.Symlinks, fmt.Sprintf("%q", l))
	}
	sn.Refused = s.refused[:min(listed, len(s.refused))]
	return sn
}

// need is the space the copy takes: the bytes, rounded up to 4 KiB blocks.
func (s *scan) need() int64 {
	var n int64
	for _, op := range s.copies {
		n += (op.f.size + 4095) &^ 4095
	}
	for _, m := range s.metas {
		n += (m.src.Size + 4095) &^ 4095
	}
	return n
}

func (c *Copy) hostsOf(ctx context.Context, cfg config) (src, dst transport.Host, err error) {
	if src, err = c.hosts.Get(ctx, cfg.From); err != nil {
		return nil, nil, err
	}
	if dst, err = c.hosts.Get(ctx, cfg.To); err != nil {
		return nil, nil, err
	}
	return src, confine(dst, cfg), nil
}

// confine returns dst with every write confined to the destination
// (transport.Confine): no symbolic link below it is followed, and the way
// to it only through links no one but root could have made. Whoever can
// write the mail tree — the mail user — could otherwise point a Maildir,
// its cur/, or a snapshot store anywhere, and mailplan, as root, would
// write there. The destination's parent is a root too, for the store of a
// destination that is itself a Maildir (storeFor).
func confine(dst transport.Host, cfg config) transport.Host {
	return transport.Confine(dst, cfg.Destination, path.Dir(cfg.Destination))
}

// freeSpace asks the destination's filesystem for its free bytes, at the
// destination root or its nearest existing parent; nil when the host
// cannot tell.
func freeSpace(ctx context.Context, h transport.Host, p string) (*uint64, error) {
	st, ok := h.(transport.FSStater)
	if !ok {
		return nil, nil
	}
	for {
		_, err := h.Stat(ctx, p)
		if err == nil || p == "/" {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("free space at %s on %s: %w", p, h.Name(), err)
		}
		p = path.Dir(p)
	}
	free, err := st.StatFS(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("free space at %s on %s: %w", p, h.Name(), err)
	}
	return &free, nil
}

// Read implements resource.Type. Current is null while the destination
// root does not exist (the copy is then "created"); else it carries the
// configuration and the counts of what is left to do.
func (c *Copy) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	cfg, err := decode(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	src, dst, err := c.hostsOf(ctx, cfg)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	s, err := scanTrees(ctx, src, dst, cfg)
	if err != nil {
		logPanic(req.Logger, err)
		return resource.ReadResponse{}, err
	}
	c.remember(cfg, s)
	free, err := freeSpace(ctx, dst, cfg.Destination)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	if req.Logger != nil {
		for _, l := range s.symlinks {
			req.Logger.Warn("symbolic link in the source skipped", "path", l, "host", src.Name())
		}
		for _, r := range s.refused {
			req.Logger.Warn("not copied", "what", r, "host", src.Name())
		}
	}
	sn := s.snapshot(free, dst.Name())
	if sn.FreeInodes, err = freeInodes(ctx, dst, cfg.Destination); err != nil {
		return resource.ReadResponse{}, err
	}
	sn.NeedInodes = s.needInodes()
	snap, err := json.Marshal(sn)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	resp := resource.ReadResponse{Current: cty.NullVal(schema.ImpliedType()), Snapshot: snap}
	if s.dstRootExists {
		resp.Current = withCounts(req.Config, map[string]int64{
			"pending_messages": int64(len(s.copies)), "pending_bytes": s.bytes, "flag_changes": int64(len(s.renames)),
			"pending_removals": int64(len(s.removals)),
			"pending_metadata": int64(len(s.metas)), "conflicts": int64(len(s.conflicts)),
		})
	}
	return resp, nil
}

func withCounts(cfg cty.Value, counts map[string]int64) cty.Value {
	cfg, _ = cfg.UnmarkDeep()
	m := cfg.AsValueMap()
	for _, name := range counters {
		m[name] = cty.NumberIntVal(counts[name])
	}
	return cty.ObjectVal(m)
}

// Plan implements resource.Type: everything copied, nothing left. It reads
// no host: Read's snapshot has the counts and the free space. With once =
// true and a completed earlier apply of the same selection it plans no
// change at all (Planned is Current), whatever the destination holds now:
// see copiedOnce.
func (c *Copy) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	cfg, err := decode(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	if copiedOnce(cfg, req.Current, req.Prior) {
		return resource.PlanResponse{Planned: req.Current, Summary: onceSummary}, nil
	}
	var sn snapshot
	if err := json.Unmarshal(req.Snapshot, &sn); err != nil {
		return resource.PlanResponse{}, fmt.Errorf("mailbox_copy: bad snapshot: %w", err)
	}
	if sn.Free != nil && uint64(sn.Need) > *sn.Free {
		return resource.PlanResponse{}, resource.Errorf("destination", "Not enough free space at the destination",
			"The copy needs about %s at %s on %s, and its filesystem has %s free. Free some space or copy fewer mailboxes (include/exclude).",
			sizeString(sn.Need), sn.Destination, sn.DestHost, sizeString(int64(*sn.Free)))
	}
	if err := sn.checkInodes(); err != nil {
		return resource.PlanResponse{}, err
	}
	return resource.PlanResponse{Planned: withCounts(req.Config, nil), Summary: sn.summary()}, nil
}

// summary is the plan's line: "copy 1,204 messages (88 MiB) in 12
// mailboxes, 31 flag changes".
func (sn snapshot) summary() string {
	parts := []string{fmt.Sprintf("copy %s messages (%s) in %s mailboxes", commas(int64(sn.Messages)), sizeString(sn.Bytes), commas(int64(sn.Mailboxes)))}
	if sn.Deduped > 0 {
		parts = append(parts, fmt.Sprintf("%s already there by Message-ID or header", commas(int64(sn.Deduped))))
	}
	if sn.Renames > 0 {
		parts = append(parts, fmt.Sprintf("%s flag changes", commas(int64(sn.Renames))))
	}
	if sn.Removals > 0 {
		parts = append(parts, fmt.Sprintf("remove %s messages deleted at the source since they were copied", commas(int64(sn.Removals))))
	}
	if sn.Replaced > 0 {
		parts = append(parts, fmt.Sprintf("replace %s shadow copies with the source's (its flags and UIDs)", commas(int64(sn.Replaced))))
	}
	if sn.Kept > 0 {
		parts = append(parts, fmt.Sprintf("%s changed at both ends since they were copied (the destination's change kept)", commas(int64(sn.Kept))))
	}
	if sn.Metadata > 0 {
		parts = append(parts, fmt.Sprintf("%d Dovecot metadata files", sn.Metadata))
	}
	if sn.Unselected > 0 {
		parts = append(parts, fmt.Sprintf("%s mailboxes left out by include/exclude", commas(int64(sn.Unselected))))
	}
	if sn.NSymlinks > 0 {
		parts = append(parts, fmt.Sprintf("%d symbolic links skipped (%s%s)", sn.NSymlinks, strings.Join(sn.Symlinks, ", "), more(sn.NSymlinks, len(sn.Symlinks))))
	}
	if sn.NRefused > 0 {
		parts = append(parts, fmt.Sprintf("%d names not copied (%s%s)", sn.NRefused, strings.Join(sn.Refused, "; "), more(sn.NRefused, len(sn.Refused))))
	}
	if sn.NConflicts > 0 {
		parts = append(parts, fmt.Sprintf("%d CONFLICTS, apply will fail (%s)", sn.NConflicts, strings.Join(sn.Conflicts, "; ")))
	}
	return strings.Join(parts, ", ")
}

// more says how many of n are not in the shown list.
func more(n, shown int) string {
	if n > shown {
		return fmt.Sprintf("; and %d more", n-shown)
	}
	return ""
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 10 {
		return fmt.Sprintf("%.0f %ciB", v, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}

// Fingerprint implements resource.Fingerprinter: only the configuration and
// the conflicts at the destination make a saved plan stale. New mail at a
// live source, or the copy's own progress, does not: Apply copies whatever
// is missing when it runs.
func (*Copy) Fingerprint(current cty.Value) []byte {
	current, _ = current.UnmarkDeep()
	if current.IsNull() {
		return []byte("null")
	}
	m := current.AsValueMap()
	for _, name := range counters {
		if name != "conflicts" {
			delete(m, name)
		}
	}
	b, _ := json.Marshal(cty.ObjectVal(m).GoString())
	return b
}
