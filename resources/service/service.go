package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// Hosts gives the connection to a host; *pool.Pool is one.
type Hosts = transport.Getter

// State is the `service_state` resource type.
type State struct {
	hosts Hosts
}

var (
	_ resource.Type      = (*State)(nil)
	_ resource.Validator = (*State)(nil)
	_ resource.Claimer   = (*State)(nil)
)

// New returns the service_state type, reaching hosts through hosts.
func New(hosts Hosts) *State { return &State{hosts: hosts} }

// The values of the state attribute.
const (
	Running = "running"
	Stopped = "stopped"
)

// The values of the manager attribute.
const (
	Systemd = "systemd"
	SysV    = "sysv"
	Command = "command"
)

var commandAttrs = []string{"start_command", "stop_command", "status_command"}

var schema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"host": {Type: resource.HostType, Kind: resource.HostRef, Required: true, ForceNew: true, Identity: true,
		Description: "The host the service runs on."},
	"service": {Type: cty.String, Required: true, ForceNew: true,
		Description: "The service's name, e.g. postfix or dovecot (a systemd unit or an /etc/init.d script)."},
	"state": {Type: cty.String, Required: true,
		Description: `"running" or "stopped".`},
	"manager": {Type: cty.String,
		Description: `"systemd", "sysv" or "command"; detected on the host when not set.`},
	"start_command": {Type: cty.List(cty.String),
		Description: `The argv that starts the service; with manager = "command" only.`},
	"stop_command": {Type: cty.List(cty.String),
		Description: `The argv that stops the service; with manager = "command" only.`},
	"status_command": {Type: cty.List(cty.String),
		Description: `The argv whose exit status 0 means running; with manager = "command" only.`},
}}

// Name implements resource.Type.
func (*State) Name() string { return "service_state" }

// Schema implements resource.Type.
func (*State) Schema() *resource.Schema { return schema }

// Validate implements resource.Validator. Unknown values are skipped: they
// are checked again at plan time, once known.
func (*State) Validate(ctx context.Context, config cty.Value) error {
	config, _ = config.UnmarkDeep()
	if config.IsNull() || !config.IsKnown() {
		return nil
	}
	var errs resource.AttrErrors
	if v, ok := resource.Known(config, "service"); ok {
		if err := checkName(v.AsString()); err != nil {
			errs = append(errs, err)
		}
	}
	if v, ok := resource.Known(config, "state"); ok {
		if s := v.AsString(); s != Running && s != Stopped {
			errs = append(errs, resource.Errorf("state", "Invalid service state",
				`The state %q is neither "running" nor "stopped".`, s))
		}
	}
	mv := config.GetAttr("manager")
	if !mv.IsKnown() {
		return errs.Err()
	}
	mgr := ""
	if !mv.IsNull() {
		mgr = mv.AsString()
		switch mgr {
		case Systemd, SysV, Command:
		default:
			errs = append(errs, resource.Errorf("manager", "Invalid service manager",
				`The manager %q is not one of "systemd", "sysv" or "command"; leave manager out to have it detected on the host.`, mgr))
			return errs.Err()
		}
	}
	for _, attr := range commandAttrs {
		v := config.GetAttr(attr)
		switch {
		case mgr == Command && v.IsNull():
			errs = append(errs, resource.Errorf(attr, "Missing "+attr,
				`With manager = "command", give %s as a list of program and arguments, e.g. ["postfix", "-c", "/etc/postfix", "%s"].`, attr, verb(attr)))
		case mgr != Command && !v.IsNull():
			errs = append(errs, resource.Errorf(attr, "Command without manager = \"command\"",
				`%s is used only with manager = "command"; set manager = "command" (and all three commands) or leave %s out.`, attr, attr))
		case mgr == Command && v.IsWhollyKnown():
			if v.LengthInt() == 0 {
				errs = append(errs, resource.Errorf(attr, "Empty "+attr,
					"%s is an empty list; give the program to run and its arguments.", attr))
				break
			}
			for i, el := range v.AsValueSlice() {
				if el.IsNull() || (i == 0 && strings.TrimSpace(el.AsString()) == "") {
					errs = append(errs, &resource.AttrError{
						Path:    cty.GetAttrPath(attr).IndexInt(i),
						Summary: "Invalid " + attr,
						Detail:  fmt.Sprintf("Element %d of %s is null or, for the program, empty; every element must be a string.", i, attr),
					})
					break
				}
			}
		}
	}
	return errs.Err()
}

func verb(attr string) string { return strings.TrimSuffix(attr, "_command") }

// checkName refuses names that are not one service: the name becomes an
// argument of systemctl and service and part of /etc/init.d/NAME.
func checkName(name string) *resource.AttrError {
	bad := func(detail string) *resource.AttrError {
		return resource.Errorf("service", "Invalid service name", "The service name %q %s; give one name such as \"postfix\" or \"dovecot\".", name, detail)
	}
	switch {
	case name == "":
		return bad("is empty")
	case strings.Contains(name, "/"):
		return bad("holds a slash")
	case name == "." || name == "..":
		return bad("is not a name")
	case strings.HasPrefix(name, "-"):
		return bad("starts with a dash, which commands would take for an option")
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return bad("holds a space or control character")
	}
	return nil
}

// config is a decoded configuration or planned value. A null element of
// a command is "".
type config struct {
	Host    resource.Host `cty:"host"`
	Service string        `cty:"service"`
	State   string        `cty:"state"`
	Manager string        `cty:"manager"` // "" when to be detected
	Start   []string      `cty:"start_command"`
	Stop    []string      `cty:"stop_command"`
	Status  []string      `cty:"status_command"`
}

func decode(v cty.Value) (config, error) {
	var c config
	if err := resource.Decode(v, &c); err != nil {
		return c, fmt.Errorf("service_state: %w", err)
	}
	if err := checkName(c.Service); err != nil {
		return c, err
	}
	return c, nil
}

// snapshot is what Restore puts back.
type snapshot struct {
	State   string `json:"state"`
	Manager string `json:"manager"`
}

// Read implements resource.Type. Current is never null: a service that is
// not installed is reported stopped by its manager.
func (s *State) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	r, err := readService(ctx, s.hosts, req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	return resource.ReadResponse{Current: value(r.cfg, r.snap.State, r.snap.Manager), Snapshot: r.snapJSON}, nil
}

// serviceRead is what readService found.
type serviceRead struct {
	c        config
	cfg      cty.Value // the configuration, unmarked
	snap     snapshot  // the state now, and the manager in use
	snapJSON []byte
}

// readService decodes a service_state or service_window configuration
// and reads the service's state with its manager (detected when not
// configured).
func readService(ctx context.Context, hosts Hosts, config cty.Value) (serviceRead, error) {
	var r serviceRead
	c, err := decode(config)
	if err != nil {
		return r, err
	}
	h, err := hosts.Get(ctx, c.Host)
	if err != nil {
		return r, err
	}
	mgr, err := effectiveManager(ctx, h, c)
	if err != nil {
		return r, err
	}
	ctl, err := controlFor(c, mgr)
	if err != nil {
		return r, err
	}
	state, _, err := ctl.check(ctx, h)
	if err != nil {
		return r, err
	}
	r.c, r.snap = c, snapshot{State: state, Manager: mgr}
	if r.snapJSON, err = json.Marshal(r.snap); err != nil {
		return r, err
	}
	r.cfg, _ = config.UnmarkDeep()
	return r, nil
}

// value is cfg with state and manager replaced. The commands are the
// configuration's: they are how the service is driven, not part of what
// is real, so they never show as a change.
func value(cfg cty.Value, state, mgr string) cty.Value {
	vals := map[string]cty.Value{}
	for name := range schema.Attributes {
		vals[name] = cfg.GetAttr(name)
	}
	vals["state"] = cty.StringVal(state)
	vals["manager"] = cty.StringVal(mgr)
	return cty.ObjectVal(vals)
}

// Plan implements resource.Type. The planned manager is the configured
// one, else the one Read detected, else (when the engine replaces the
// instance and gives no Current) detected now.
func (s *State) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	c, err := decode(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	if c.State != Running && c.State != Stopped {
		return resource.PlanResponse{}, resource.Errorf("state", "Invalid service state",
			`The state %q is neither "running" nor "stopped".`, c.State)
	}
	current, _ := req.Current.UnmarkDeep()
	mgr := c.Manager
	if mgr == "" && !current.IsNull() {
		if m := current.GetAttr("manager"); !m.IsNull() {
			mgr = m.AsString()
		}
	}
	if mgr == "" {
		h, err := s.hosts.Get(ctx, c.Host)
		if err != nil {
			return resource.PlanResponse{}, err
		}
		if mgr, err = detect(ctx, h, c.Service); err != nil {
			return resource.PlanResponse{}, err
		}
	}
	if _, err := controlFor(c, mgr); err != nil {
		return resource.PlanResponse{}, err
	}
	cfg, _ := req.Config.UnmarkDeep()
	resp := resource.PlanResponse{Planned: value(cfg, c.State, mgr)}
	if current.IsNull() || current.GetAttr("state").IsNull() || current.GetAttr("state").AsString() != c.State {
		resp.Summary = fmt.Sprintf("%s %s (%s)", action(c.State), c.Service, mgr)
	}
	return resp, nil
}

func action(state string) string {
	if state == Running {
		return "start"
	}
	return "stop"
}

// Apply implements resource.Type. The status is checked first, so that an
// Apply repeated after a crash, or a service someone started since the
// plan, is no error (`postfix start` fails when Postfix already runs).
func (s *State) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	c, err := decode(req.Planned)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	if c.Manager == "" {
		return resource.ApplyResponse{}, fmt.Errorf("%s %s: the plan names no manager", action(c.State), c.Service)
	}
	h, err := s.hosts.Get(ctx, c.Host)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	ctl, err := controlFor(c, c.Manager)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	return resource.ApplyResponse{}, ctl.reach(ctx, h, c.State, req.Logger)
}

// Restore implements resource.Type: the service is put back in the
// snapshot's state with the snapshot's manager (and, for "command", the
// configuration's commands). Apply journals nothing, so there is no
// journal to replay.
func (s *State) Restore(ctx context.Context, req resource.RestoreRequest) error {
	var snap snapshot
	if err := json.Unmarshal(req.Snapshot, &snap); err != nil {
		return fmt.Errorf("restore service_state: bad snapshot: %w", err)
	}
	if snap.State != Running && snap.State != Stopped {
		return fmt.Errorf("restore service_state: bad snapshot: state %q", snap.State)
	}
	c, err := decode(req.Config)
	if err != nil {
		return err
	}
	h, err := s.hosts.Get(ctx, c.Host)
	if err != nil {
		return err
	}
	ctl, err := controlFor(c, snap.Manager)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := ctl.reach(ctx, h, snap.State, req.Logger); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// Claims implements resource.Claimer: one service on one host has one
// owner; two resources could only fight over it, and destroy could not
// know whose earlier state to put back.
func (*State) Claims(config cty.Value) []resource.Claim {
	c, err := decode(config)
	if err != nil {
		return nil
	}
	// systemd takes "postfix" and "postfix.service" for the same unit.
	name := strings.TrimSuffix(c.Service, ".service")
	return []resource.Claim{{
		Key:  "service\x00" + c.Host.Key() + "\x00" + name,
		Path: cty.GetAttrPath("service"),
		What: fmt.Sprintf("the service %s on %s", c.Service, c.Host.String()),
	}}
}
