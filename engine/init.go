package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/modsrc"
	"github.com/mailplan/mailplan/engine/states"
)

// InitRequest is what `mailplan init` was asked.
type InitRequest struct {
	Options
	// BackendConfig are -backend-config arguments: KEY=VALUE, or the path
	// of an HCL file of KEY = "VALUE" lines.
	BackendConfig []string
	// MigrateState copies the state of every workspace from the backend
	// init last recorded (the local one at first) into the new one.
	MigrateState bool
	// Upgrade resolves module refs again instead of keeping the commits
	// the lock file records.
	Upgrade bool
}

// Init prepares a plan directory: it installs the modules it calls from
// git and initialises its backend, recording init's -backend-config
// settings and, with MigrateState, moving the existing state into it.
func (e *Engine) Init(ctx context.Context, req InitRequest, ui UI) *Result {
	const op = "init"
	s := &Session{e: e, opts: req.Options}
	if d := s.loadForState(); d.HasErrors() {
		ui.Diagnostics(d, nil)
		return failed(op)
	}
	ui.Say("Initializing modules...\n")
	l := configs.NewLoader()
	lines, diags := modsrc.Install(ctx, s.dir(), modsrc.InstallOptions{Upgrade: req.Upgrade, Logger: e.logger(), Loader: l})
	for _, line := range lines {
		ui.Say("- " + line + "\n")
	}
	if ui.Diagnostics(diags, l.Files()); diags.HasErrors() {
		return failed(op)
	}
	// The configuration may only load now that its modules are here.
	if d := s.loadForState(); d.HasErrors() {
		ui.Diagnostics(d, nil)
		return failed(op)
	}
	if _, diags := s.loader.Load(s.dir()); diags.HasErrors() {
		ui.Diagnostics(diags, s.loader.Files())
		return failed(op)
	}
	extra, diags := parseBackendConfig(req.BackendConfig)
	if diags.HasErrors() {
		ui.Diagnostics(diags, nil)
		return failed(op)
	}
	ui.Say("Initializing the backend...\n")
	to, diags := s.backendChoice(extra)
	if diags.HasErrors() {
		ui.Diagnostics(diags, s.Files())
		return failed(op)
	}
	from, err := s.previousBackend()
	if err != nil {
		ui.Diagnostics(hcl.Diagnostics{errDiag("Cannot read the backend settings", err)}, nil)
		return failed(op)
	}
	// The new backend must answer before anything is recorded.
	probe, err := s.openStore(ctx, to, DefaultWorkspace)
	if err != nil {
		ui.Diagnostics(hcl.Diagnostics{errDiag(fmt.Sprintf("Cannot use the %s backend", to.typ), err)}, nil)
		return failed(op)
	}
	if _, err := probe.Read(ctx); err != nil {
		closeStore(probe)
		ui.Diagnostics(hcl.Diagnostics{errDiag(fmt.Sprintf("Cannot use the %s backend", to.typ), err)}, nil)
		return failed(op)
	}
	closeStore(probe)
	if from != nil && !sameBackend(from, to) {
		moved, err := s.migrate(ctx, from, to, req.MigrateState)
		if err != nil {
			ui.Diagnostics(hcl.Diagnostics{errDiag("Cannot change the backend", err)}, nil)
			return failed(op)
		}
		for _, w := range moved {
			ui.Say(fmt.Sprintf("- Copied the state of workspace %q from the %s backend to the %s backend.\n", w, from.typ, to.typ))
		}
	}
	if err := s.recordInit(to); err != nil {
		ui.Diagnostics(hcl.Diagnostics{errDiag("Cannot record the backend settings", err)}, nil)
		return failed(op)
	}
	ui.Say(fmt.Sprintf("\nmailplan has been initialized: %s backend, workspace %q.\n", to.typ, s.workspace))
	return &Result{Status: Done, Operation: op}
}

// parseBackendConfig reads -backend-config arguments.
func parseBackendConfig(args []string) (BackendSettings, hcl.Diagnostics) {
	out := BackendSettings{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && !strings.ContainsAny(k, "/\\.") {
			out[strings.TrimSpace(k)] = v
			continue
		}
		f, diags := hclparse.NewParser().ParseHCLFile(a)
		if diags.HasErrors() {
			return nil, diags
		}
		attrs, diags := f.Body.JustAttributes()
		if diags.HasErrors() {
			return nil, diags
		}
		for name, at := range attrs {
			v, diags := at.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, diags
			}
			if v.IsNull() || v.Type() != cty.String {
				return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid backend setting", Detail: name + " must be a string", Subject: at.Expr.Range().Ptr()}}
			}
			out[name] = v.AsString()
		}
	}
	return out, nil
}

// previousBackend is the backend init last recorded: the local one (its
// state where the configuration puts it now) when there is no record.
func (s *Session) previousBackend() (*backendChoice, error) {
	rec, err := s.readInitRecord()
	if err != nil {
		return nil, err
	}
	if rec == nil || rec.Type == "local" {
		c := &backendChoice{typ: "local", settings: BackendSettings{}, statePath: filepath.Join(s.dotDir(), "state.json")}
		if rec != nil {
			for k, v := range rec.Settings {
				c.settings[k] = v
			}
			if p, ok := rec.Settings["path"]; ok {
				if !filepath.IsAbs(p) {
					p = filepath.Join(s.dir(), p)
				}
				c.statePath = p
			}
		}
		return c, nil
	}
	if _, ok := backendTypes[rec.Type]; !ok {
		return nil, fmt.Errorf("init recorded backend %q, which this mailplan does not know", rec.Type)
	}
	return &backendChoice{typ: rec.Type, settings: rec.Settings}, nil
}

func sameBackend(a, b *backendChoice) bool {
	if a.typ != b.typ {
		return false
	}
	if a.typ == "local" {
		pa, _ := filepath.Abs(a.statePath)
		pb, _ := filepath.Abs(b.statePath)
		return pa == pb
	}
	return a.settings.hash() == b.settings.hash()
}

// recordInit writes what init set up, mode 0600.
func (s *Session) recordInit(c *backendChoice) error {
	// The block's settings are recorded with init's, so that a later init
	// can still open this backend after the block changed.
	rec := initRecord{Type: c.typ, Hash: c.block.hash(), Settings: c.settings}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dotDir(), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dotDir(), backendConfigFile), append(b, '\n'), 0o600)
}

// migrate copies every workspace's state from one backend to another and
// returns the workspaces it copied. Without copy, a state that would be
// left behind is an error that says to run init -migrate-state.
func (s *Session) migrate(ctx context.Context, from, to *backendChoice, doCopy bool) ([]string, error) {
	names, err := s.listWorkspaces(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("the %s backend: %w", from.typ, err)
	}
	var moved []string
	for _, w := range names {
		did, err := s.migrateOne(ctx, from, to, w, doCopy)
		if err != nil {
			return moved, fmt.Errorf("workspace %q: %w", w, err)
		}
		if did {
			moved = append(moved, w)
		}
	}
	return moved, nil
}

func (s *Session) migrateOne(ctx context.Context, from, to *backendChoice, workspace string, doCopy bool) (bool, error) {
	src, err := s.openStore(ctx, from, workspace)
	if err != nil {
		return false, err
	}
	defer closeStore(src)
	info := states.LockInfo{ID: randomID(), Operation: "init -migrate-state", Who: whoami(), PID: os.Getpid()}
	su, err := src.Lock(ctx, info)
	if err != nil {
		return false, err
	}
	defer su.Unlock()
	st, err := src.Read(ctx)
	if err != nil {
		return false, err
	}
	if len(st.Resources) == 0 && st.LastApply == nil && len(st.Outputs) == 0 {
		return false, nil // nothing to carry over
	}
	if !doCopy {
		return false, fmt.Errorf("the %s backend holds a state (%d resources); run \"mailplan init -migrate-state\" to copy it into the %s backend, or remove the backend change", from.typ, len(st.Resources), to.typ)
	}
	if st.LastApply.Open() {
		return false, errors.New("its last apply did not finish; `mailplan apply` or `mailplan rollback` with the old backend first")
	}
	dst, err := s.openStore(ctx, to, workspace)
	if err != nil {
		return false, err
	}
	defer closeStore(dst)
	du, err := dst.Lock(ctx, info)
	if err != nil {
		return false, err
	}
	defer du.Unlock()
	have, err := dst.Read(ctx)
	if err != nil {
		return false, err
	}
	empty := len(have.Resources) == 0 && have.LastApply == nil && len(have.Outputs) == 0
	switch {
	case empty:
	case have.Lineage != st.Lineage:
		return false, fmt.Errorf("the %s backend already holds a different state (lineage %s, %d resources, where the %s backend's is lineage %s); refusing to replace it", to.typ, have.Lineage, len(have.Resources), from.typ, st.Lineage)
	case have.Serial >= st.Serial:
		return false, nil // already there, or newer
	}
	if err := s.copyDigestKey(ctx, src, dst); err != nil {
		return false, err
	}
	return true, dst.Push(ctx, st, empty)
}

// copyDigestKey gives the target the source's digest key, so that the
// digests in the copied state still match.
func (s *Session) copyDigestKey(ctx context.Context, src, dst StateStore) error {
	sk, ok := src.(states.DigestKeyer)
	if !ok {
		return nil
	}
	key, err := sk.DigestKey(ctx, false)
	if err != nil || key == nil {
		return err
	}
	setter, ok := dst.(states.DigestKeySetter)
	if !ok {
		return nil
	}
	return setter.SetDigestKey(ctx, key)
}
