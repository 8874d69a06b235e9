package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// snapshot is what Read saw: whether the check said done, and its exit
// status when it did not. Restore does not need it (a command's "before"
// can only be reached through undo, which the journal or Private
// decides); Plan shows it.
type snapshot struct {
	Checked   bool `json:"checked,omitempty"`
	Done      bool `json:"done"`
	CheckExit int  `json:"check_exit,omitempty"`
}

// entry is the journal entry Apply records before the command starts.
type entry struct {
	// Started is when the command was about to start.
	Started time.Time `json:"started"`
	// Undo is the undo argv of that apply, nil when there was none.
	Undo []string `json:"undo,omitempty"`
	// UndoInConfig: the undo argv holds a sensitive value, which the
	// state never keeps; Restore takes undo from its configuration (a
	// rollback lends the live configuration's secrets).
	UndoInConfig bool `json:"undo_in_config,omitempty"`
}

// private is what the state keeps after an apply (ApplyResponse.Private):
// that the command ran, and when; never its output.
type private struct {
	Ran time.Time `json:"ran"`
}

// Read implements resource.Type. Without a check, Current is null:
// nothing on the host tells, and the engine takes the state's record
// (resource.StateKept). With one, exit 0 is done (Current is the
// configuration), any other exit not done (null); a check that cannot be
// run, or that the shell could not find or start (126, 127), is an error.
func (c *Command) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	cfg, err := decode(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	if len(cfg.Check) == 0 {
		return resource.Absent(schema, snapshot{})
	}
	h, err := c.hosts.Get(ctx, cfg.Host)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	res, err := run(ctx, h, cfg.Check, cfg, req.Config.GetAttr("check"))
	if err != nil {
		return resource.ReadResponse{}, fmt.Errorf("check: %w", err)
	}
	if res.ExitCode == 126 || res.ExitCode == 127 {
		return resource.ReadResponse{}, fmt.Errorf("check `%s` on %s could not be run (exit %d): %s",
			shown(req.Config.GetAttr("check")), h.Name(), res.ExitCode, tail(res))
	}
	if res.ExitCode != 0 {
		return resource.Absent(schema, snapshot{Checked: true, CheckExit: res.ExitCode})
	}
	snap, err := json.Marshal(snapshot{Checked: true, Done: true})
	if err != nil {
		return resource.ReadResponse{}, err
	}
	cur, _ := req.Config.UnmarkDeep()
	return resource.ReadResponse{Current: cur, Snapshot: snap}, nil
}

// Plan implements resource.Type. A command done (its check passed, or the
// state records that it ran) stays as it is: a change of undo, check,
// environment, timeout or confirm is no change, and takes effect when
// they are next used. A command not done is planned to run, with a
// summary of what runs and what undo will run.
func (c *Command) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	cfg, err := decode(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	current, _ := req.Current.UnmarkDeep()
	if !current.IsNull() {
		return resource.PlanResponse{Planned: current}, nil
	}
	planned, _ := req.Config.UnmarkDeep()
	verb := "runs"
	var snap snapshot
	_ = json.Unmarshal(req.Snapshot, &snap)
	if req.Prior != nil && sameCommand(req.Prior.Config, planned) {
		// It ran in an earlier apply, and its check says it is not
		// done (any more).
		verb = "runs again"
	}
	s := fmt.Sprintf("%s: %s", verb, shown(req.Config.GetAttr("command")))
	if snap.Checked {
		s += fmt.Sprintf(" (check `%s` exited %d)", shown(req.Config.GetAttr("check")), snap.CheckExit)
	}
	if len(cfg.Undo) > 0 {
		s += fmt.Sprintf("; undo: %s", shown(req.Config.GetAttr("undo")))
	} else {
		s += "; no undo: destroy and rollback cannot take it back"
	}
	if cfg.Confirm {
		s += "; asks before it runs"
	}
	return resource.PlanResponse{Planned: planned, Summary: s}, nil
}

// Apply implements resource.Type: it journals, then runs the command.
// Called for a command that is done (an in-place update, which Plan never
// makes, or a resumed apply) it runs nothing.
func (c *Command) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	cfg, err := decode(req.Planned)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	if current, _ := req.Current.UnmarkDeep(); !current.IsNull() {
		return resource.ApplyResponse{}, nil
	}
	conf := req.Config
	if conf == cty.NilVal || conf.IsNull() {
		conf = req.Planned
	}
	h, err := c.hosts.Get(ctx, cfg.Host)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	e := entry{Started: time.Now().UTC()}
	if undo := conf.GetAttr("undo"); !undo.IsNull() {
		if undo.ContainsMarked() {
			e.UndoInConfig = true
		} else {
			e.Undo = cfg.Undo
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	// From here on the command may have run: a rollback must run undo.
	if err := req.Journal.Record(ctx, b); err != nil {
		return resource.ApplyResponse{}, fmt.Errorf("journal before running %s: %w", shown(conf.GetAttr("command")), err)
	}
	log := logger(req.Logger)
	log.Info("running", "host", h.Name(), "command", shown(conf.GetAttr("command")))
	start := time.Now()
	res, err := run(ctx, h, cfg.Command, cfg, conf.GetAttr("command"))
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	if res.ExitCode != 0 {
		return resource.ApplyResponse{}, fmt.Errorf("`%s` on %s exited %d%s", shown(conf.GetAttr("command")), h.Name(), res.ExitCode, outputTail(res))
	}
	log.Info("ran", "host", h.Name(), "command", shown(conf.GetAttr("command")), "elapsed", time.Since(start).Round(time.Millisecond).String(), "output", tail(res))
	p, err := json.Marshal(private{Ran: e.Started})
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	return resource.ApplyResponse{Private: p}, nil
}

// Restore implements resource.Type. It runs undo when the command may
// have run: once for each distinct undo of the journal's entries, newest
// first (a rollback), or, with no journal, when the state's Private says
// it ran (a destroy, or the old command of a replace). It never runs the
// command: the snapshot's "not run" can only be reached through undo, and
// a "done" snapshot (the rollback of a destroy) is not put back. Without
// undo it does nothing.
func (c *Command) Restore(ctx context.Context, req resource.RestoreRequest) error {
	var undos [][]string
	fromConfig := false
	for i := len(req.Journal) - 1; i >= 0; i-- {
		var e entry
		if err := json.Unmarshal(req.Journal[i], &e); err != nil {
			return fmt.Errorf("restore command: bad journal entry: %w", err)
		}
		switch {
		case e.UndoInConfig:
			fromConfig = true
		case len(e.Undo) > 0 && !slices.ContainsFunc(undos, func(u []string) bool { return slices.Equal(u, e.Undo) }):
			undos = append(undos, e.Undo)
		}
	}
	if len(req.Journal) == 0 && len(req.Private) > 0 {
		var p private
		if err := json.Unmarshal(req.Private, &p); err != nil {
			return fmt.Errorf("restore command: bad private data in the state: %w", err)
		}
		if !p.Ran.IsZero() {
			fromConfig = true
		}
	}
	if len(undos) == 0 && !fromConfig {
		return nil
	}
	uv := req.Config.GetAttr("undo")
	if fromConfig && !uv.IsNull() && missingSecret(uv) {
		return errors.New("restore command: undo holds a sensitive value, which the state does not keep: run with the configuration and the same -var, -var-file and MAILPLAN_VAR_ values as the apply")
	}
	cfg, err := decode(req.Config)
	if err != nil {
		return fmt.Errorf("restore command: %w", err)
	}
	if fromConfig && len(cfg.Undo) > 0 && !slices.ContainsFunc(undos, func(u []string) bool { return slices.Equal(u, cfg.Undo) }) {
		undos = append(undos, cfg.Undo)
	}
	if len(undos) == 0 {
		return nil
	}
	h, err := c.hosts.Get(ctx, cfg.Host)
	if err != nil {
		return fmt.Errorf("restore command: %w", err)
	}
	log := logger(req.Logger)
	for _, undo := range undos {
		what := shownArgv(undo)
		if slices.Equal(undo, cfg.Undo) {
			what = shown(uv)
		}
		log.Info("running undo", "host", h.Name(), "undo", what)
		res, err := run(ctx, h, undo, cfg, uv)
		if err != nil {
			return fmt.Errorf("undo: %w", err)
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("undo `%s` on %s exited %d%s", what, h.Name(), res.ExitCode, outputTail(res))
		}
		log.Info("undo ran", "host", h.Name(), "undo", what, "output", tail(res))
	}
	return nil
}

// sameCommand reports whether two configurations run the same argv on
// the same host.
func sameCommand(a, b cty.Value) bool {
	a, _ = a.UnmarkDeep()
	if a == cty.NilVal || a.IsNull() || !a.Type().Equals(b.Type()) {
		return false
	}
	return a.GetAttr("command").RawEquals(b.GetAttr("command")) && a.GetAttr("host").RawEquals(b.GetAttr("host"))
}

// missingSecret reports whether an argv value from the state has a null
// element: a sensitive value the state left out.
func missingSecret(v cty.Value) bool {
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() {
		return true
	}
	for _, el := range v.AsValueSlice() {
		if el.IsNull() {
			return true
		}
	}
	return false
}

// run runs argv on h with cfg's environment and timeout. shownAs is the
// argv's value as configured, for messages (sensitive elements hidden).
// A run that could not start, was cut off by the timeout or lost its
// connection is an error; a non-zero exit is not.
func run(ctx context.Context, h transport.Host, argv []string, cfg config, shownAs cty.Value) (transport.Result, error) {
	timeout := cfg.timeout
	if timeout <= 0 {
		timeout, _ = time.ParseDuration(DefaultTimeout)
	}
	var env []string
	for k, v := range cfg.Environment {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := h.Run(cctx, argv, transport.RunOptions{Env: env})
	if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return res, fmt.Errorf("`%s` on %s did not finish within the timeout of %s and was stopped%s", shown(shownAs), h.Name(), timeout, outputTail(res))
	}
	if err != nil {
		return res, fmt.Errorf("run `%s` on %s: %w", shown(shownAs), h.Name(), err)
	}
	return res, nil
}

// tailLines is how many of the last lines of a command's output messages
// quote.
const tailLines = 10

// tail is the last lines of what r printed on its standard error, else
// on its standard output, at most about 2000 bytes; "" for nothing.
func tail(r transport.Result) string {
	out := strings.TrimSpace(string(r.Stderr))
	if out == "" {
		out = strings.TrimSpace(string(r.Stdout))
	}
	lines := strings.Split(out, "\n")
	cut := len(lines) > tailLines
	if cut {
		lines = lines[len(lines)-tailLines:]
	}
	out = strings.Join(lines, "\n")
	if len(out) > 2000 {
		out, cut = out[len(out)-2000:], true
	}
	if cut {
		out = "…\n" + out
	}
	return out
}

// outputTail is tail for the end of an error message.
func outputTail(r transport.Result) string {
	t := tail(r)
	if t == "" {
		return " and printed nothing"
	}
	return ":\n" + t
}

func logger(l hclog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return l
}
