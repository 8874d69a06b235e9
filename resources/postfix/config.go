package postfix

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// Config is the `postfix_config` resource type: some main.cf parameters
// of one Postfix instance. Only the parameters it lists are managed.
type Config struct {
	hosts Hosts
}

var (
	_ resource.Type      = (*Config)(nil)
	_ resource.Validator = (*Config)(nil)
	_ resource.Claimer   = (*Config)(nil)
)

// NewConfig returns the postfix_config type, reaching hosts through hosts.
func NewConfig(hosts Hosts) *Config { return &Config{hosts: hosts} }

var configSchema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"host": {Type: resource.HostType, Kind: resource.HostRef, Required: true, ForceNew: true, Identity: true,
		Description: "The host Postfix runs on."},
	"config_dir": {Type: cty.String, Default: cty.StringVal(DefaultConfigDir), ForceNew: true,
		Description: "The Postfix instance: the directory of its main.cf, passed as -c to every command."},
	"reload": {Type: cty.Bool, Default: cty.True,
		Description: "Run postfix reload after a change, when Postfix runs."},
	"parameters": {Type: cty.Map(cty.String), Required: true,
		Description: "main.cf parameters and their values; in the real state, those of them main.cf sets."},
}}

// Name implements resource.Type.
func (*Config) Name() string { return "postfix_config" }

// Schema implements resource.Type.
func (*Config) Schema() *resource.Schema { return configSchema }

// Validate implements resource.Validator.
func (*Config) Validate(ctx context.Context, config cty.Value) error {
	config, _ = config.UnmarkDeep()
	if config.IsNull() || !config.IsKnown() {
		return nil
	}
	errs := checkAbsPath(config, "config_dir", "configuration directory")
	ps := config.GetAttr("parameters")
	if !ps.IsKnown() || ps.IsNull() {
		return errs.Err()
	}
	if ps.LengthInt() == 0 {
		errs = append(errs, resource.Errorf("parameters", "No parameters",
			"Give at least one main.cf parameter to manage, e.g. parameters = { recipient_bcc_maps = \"...\" }."))
	}
	for it := ps.ElementIterator(); it.Next(); {
		k, v := it.Element()
		name := k.AsString()
		at := cty.GetAttrPath("parameters").Index(k)
		if !paramNameRE.MatchString(name) {
			errs = append(errs, &resource.AttrError{Path: at, Summary: "Invalid parameter name",
				Detail: fmt.Sprintf("%q is not a main.cf parameter name (letters, digits and underscores).", name)})
		}
		if v.IsKnown() && !v.IsNull() && strings.ContainsAny(v.AsString(), "\n\r") {
			errs = append(errs, &resource.AttrError{Path: at, Summary: "Line break in a parameter value",
				Detail: fmt.Sprintf("The value of %s holds a line break; write a list on one line, separated by commas.", name)})
		}
		if v.IsKnown() && v.IsNull() {
			errs = append(errs, &resource.AttrError{Path: at, Summary: "Null parameter value",
				Detail: fmt.Sprintf("The value of %s is null; give a string (\"\" for an empty value).", name)})
		}
	}
	return errs.Err()
}

type configConfig struct {
	Host      resource.Host      `cty:"host"`
	ConfigDir string             `cty:"config_dir"`
	Reload    bool               `cty:"reload"`
	Values    map[string]*string `cty:"parameters"` // as configured

	cfg    cty.Value
	params map[string]string // set ones, normalized as postconf -n prints them
}

func (c configConfig) names() []string { return slices.Sorted(maps.Keys(c.params)) }

// decodeConfigRequest is decodeRequest for a postfix_config.
func decodeConfigRequest(op string, config cty.Value, snapshot []byte) (configConfig, configSnapshot, error) {
	return decodeRequest[configSnapshot](decodeConfig, func(configConfig) string { return "postfix_config" }, op, config, snapshot)
}

func decodeConfig(v cty.Value) (configConfig, error) {
	c := configConfig{ConfigDir: DefaultConfigDir, Reload: true}
	if err := resource.Decode(v, &c); err != nil {
		return c, fmt.Errorf("postfix_config: %w", err)
	}
	c.cfg, _ = v.UnmarkDeep()
	c.params = map[string]string{}
	for name, val := range c.Values {
		if val != nil {
			c.params[name] = normalize(*val)
		}
	}
	return c, nil
}

// configSnapshot is the managed parameters as they were.
type configSnapshot struct {
	MainCF  bool             `json:"main_cf"`
	Params  map[string]param `json:"params,omitempty"`
	Unknown []string         `json:"unknown,omitempty"`
}

// configJournal is an undo entry: parameters before Apply changed them.
type configJournal struct {
	Params []param `json:"params"`
}

// Read implements resource.Type. The object exists when main.cf does;
// Current's parameters hold those of the managed ones that main.cf sets,
// so that an unset one shows as added in the plan.
func (t *Config) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	c, err := decodeConfig(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	in, err := openInstance(ctx, t.hosts, c.Host, c.ConfigDir)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	mainCF, err := in.readMainCF(ctx)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	s := configSnapshot{MainCF: mainCF != nil}
	resp := resource.ReadResponse{Current: cty.NullVal(configSchema.ImpliedType())}
	if s.MainCF {
		if s.Params, s.Unknown, err = in.params(ctx, c.names()); err != nil {
			return resource.ReadResponse{}, err
		}
		rawLines(mainCF, s.Params)
		set := map[string]cty.Value{}
		for name, p := range s.Params {
			if p.Set {
				set[name] = cty.StringVal(p.Value)
			}
		}
		ps := cty.MapValEmpty(cty.String)
		if len(set) > 0 {
			ps = cty.MapVal(set)
		}
		resp.Current = cty.ObjectVal(map[string]cty.Value{
			"host":       c.cfg.GetAttr("host"),
			"config_dir": c.cfg.GetAttr("config_dir"),
			"reload":     c.cfg.GetAttr("reload"),
			"parameters": ps,
		})
	}
	if resp.Snapshot, err = json.Marshal(s); err != nil {
		return resource.ReadResponse{}, err
	}
	return resp, nil
}

// Plan implements resource.Type: the configured values, in the form
// postconf -n prints them (whitespace collapsed), so that a re-plan after
// apply shows no change.
func (t *Config) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	c, s, err := decodeConfigRequest("plan", req.Config, req.Snapshot)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	if !s.MainCF {
		return resource.PlanResponse{}, noMainCF(c.ConfigDir, c.Host)
	}
	if len(s.Unknown) > 0 {
		var errs resource.AttrErrors
		for _, n := range s.Unknown {
			errs = append(errs, &resource.AttrError{Path: cty.GetAttrPath("parameters").Index(cty.StringVal(n)),
				Summary: "Unknown Postfix parameter",
				Detail:  fmt.Sprintf("Postfix on %s does not know the parameter %s (postconf -c %s says \"unknown parameter\"); check its spelling.", c.Host, n, c.ConfigDir)})
		}
		if len(errs) == 1 {
			return resource.PlanResponse{}, errs[0]
		}
		return resource.PlanResponse{}, errs
	}
	ps := map[string]cty.Value{}
	for n, v := range c.params {
		ps[n] = cty.StringVal(v)
	}
	planned := cty.MapValEmpty(cty.String)
	if len(ps) > 0 {
		planned = cty.MapVal(ps)
	}
	return resource.PlanResponse{Planned: cty.ObjectVal(map[string]cty.Value{
		"host":       c.cfg.GetAttr("host"),
		"config_dir": c.cfg.GetAttr("config_dir"),
		"reload":     c.cfg.GetAttr("reload"),
		"parameters": planned,
	})}, nil
}

// Apply implements resource.Type: the parameters that differ are
// journalled with their earlier values, then set in one postconf -e;
// postfix check must pass before the reload.
func (t *Config) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	c, s, err := decodeConfigRequest("apply", req.Config, req.Snapshot)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	in, err := openInstance(ctx, t.hosts, c.Host, c.ConfigDir)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	log := orNull(req.Logger)
	if req.Batch != nil {
		// The edit, check and reload are the batch's (batch.go).
		req.Batch.Defer(&configSet{in: in, c: c, s: s, j: req.Journal, log: log})
		return resource.ApplyResponse{}, nil
	}
	changed, err := t.set(ctx, in, c, s, req.Journal, log)
	if err != nil || !changed {
		return resource.ApplyResponse{}, err
	}
	return resource.ApplyResponse{}, in.settle(ctx, c.Reload, log)
}

func (t *Config) set(ctx context.Context, in instance, c configConfig, s configSnapshot, j resource.Journal, log hclog.Logger) (bool, error) {
	unlock, err := in.editLock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	cur, _, err := in.params(ctx, c.names())
	if err != nil {
		return false, err
	}
	earlier, want := c.changes(cur, s)
	if len(want) == 0 {
		return false, nil
	}
	if err := journal(ctx, j, configJournal{Params: earlier}); err != nil {
		return false, err
	}
	log.Debug("setting parameters", "count", len(want))
	return true, in.putAll(ctx, want)
}

// changes are the parameters of c that differ from cur, as they were
// (with the snapshot's raw form when unchanged since), and as c wants them.
func (c configConfig) changes(cur map[string]param, s configSnapshot) (earlier, want []param) {
	for _, n := range c.names() {
		p := cur[n]
		if p.Set && p.Value == c.params[n] {
			continue
		}
		if before, ok := s.Params[n]; ok && before.Set == p.Set && before.Value == p.Value {
			p.Raw = before.Raw
		}
		earlier = append(earlier, p)
		want = append(want, param{Name: n, Set: true, Value: c.params[n]})
	}
	return earlier, want
}

// Restore implements resource.Type: the journal's earlier values newest
// first, then the snapshot's; a parameter that was not set is removed
// (postconf -X).
func (t *Config) Restore(ctx context.Context, req resource.RestoreRequest) error {
	c, s, err := decodeConfigRequest("restore", req.Config, req.Snapshot)
	if err != nil {
		return err
	}
	if !s.MainCF {
		return nil // Apply never ran: Plan refuses a missing main.cf
	}
	in, err := openInstance(ctx, t.hosts, c.Host, c.ConfigDir)
	if err != nil {
		return err
	}
	log := orNull(req.Logger)
	es, err := newestFirst[configJournal](req.Journal)
	if err != nil {
		return fmt.Errorf("restore postfix_config: bad journal entry: %w", err)
	}
	var steps [][]param
	for _, e := range es {
		steps = append(steps, e.Params)
	}
	unknown := map[string]bool{}
	for _, n := range s.Unknown {
		unknown[n] = true
	}
	var last []param
	for _, n := range slices.Sorted(maps.Keys(s.Params)) {
		if !unknown[n] {
			last = append(last, s.Params[n])
		}
	}
	steps = append(steps, last)

	changed, err := func() (bool, error) {
		unlock, err := in.editLock(ctx)
		if err != nil {
			return false, err
		}
		defer unlock()
		changed := false
		for _, step := range steps {
			names := make([]string, len(step))
			for i, p := range step {
				names[i] = p.Name
			}
			cur, _, err := in.params(ctx, names)
			if err != nil {
				return changed, err
			}
			var differ []param
			for _, p := range step {
				if q := cur[p.Name]; q.Set != p.Set || q.Value != p.Value {
					differ = append(differ, p)
				}
			}
			if err := in.putAll(ctx, differ); err != nil {
				return changed, err
			}
			changed = changed || len(differ) > 0
			if err := in.restoreRaw(ctx, step); err != nil {
				return changed, err
			}
		}
		return changed, nil
	}()
	if err != nil {
		return err
	}
	if c.Reload && req.Batch != nil {
		// One reload for the batch, even when this restore changed
		// nothing: an earlier, interrupted rollback may have.
		req.Batch.Defer(&reloadItem{in: in, log: log})
		return nil
	}
	if changed && c.Reload {
		log.Debug("parameters restored; reloading")
		return in.reloadIfRunning(ctx, log)
	}
	return nil
}

// Claims implements resource.Claimer: one claim per parameter of the
// instance, so two resources managing one parameter are refused at plan
// time. A postfix_map's parameter is not claimed: several tables may
// share one, and the map only adds itself to the list.
func (*Config) Claims(config cty.Value) []resource.Claim {
	c, err := decodeConfig(config)
	if err != nil {
		return nil
	}
	var out []resource.Claim
	for _, n := range c.names() {
		out = append(out, resource.Claim{
			Key:  "postfix-parameter\x00" + c.Host.Key() + "\x00" + c.ConfigDir + "\x00" + n,
			Path: cty.GetAttrPath("parameters").Index(cty.StringVal(n)),
			What: fmt.Sprintf("the main.cf parameter %s of the Postfix instance %s on %s", n, c.ConfigDir, c.Host),
		})
	}
	return out
}

var _ resource.OriginalMerger = (*Config)(nil)

// MergeOriginal implements resource.OriginalMerger: a parameter managed
// since a later apply joins the original with the value it had before that
// apply, so that destroy puts every managed parameter back.
func (*Config) MergeOriginal(original, before []byte) ([]byte, error) {
	var o, b configSnapshot
	if err := json.Unmarshal(original, &o); err != nil {
		return nil, fmt.Errorf("postfix_config: bad snapshot: %w", err)
	}
	if err := json.Unmarshal(before, &b); err != nil {
		return nil, fmt.Errorf("postfix_config: bad snapshot: %w", err)
	}
	if !o.MainCF {
		return before, nil
	}
	if o.Params == nil {
		o.Params = map[string]param{}
	}
	known := map[string]bool{}
	for _, n := range o.Unknown {
		known[n] = true
	}
	for n, p := range b.Params {
		if _, ok := o.Params[n]; !ok && !known[n] {
			o.Params[n] = p
		}
	}
	for _, n := range b.Unknown {
		if _, ok := o.Params[n]; !ok && !known[n] {
			o.Unknown = append(o.Unknown, n)
		}
	}
	return json.Marshal(o)
}
