package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/local"
)

// StateStore is what the commands need of a state backend: read, write and
// lock (states.Backend), and the raw form for `state pull` and `state push`.
// A backend may also implement states.Journaler, states.DigestKeyer,
// states.Historian, states.Workspacer, states.ForceUnlocker and Close.
type StateStore interface {
	states.Backend
	ReadRaw(ctx context.Context) ([]byte, error)
	Push(ctx context.Context, s *states.State, force bool) error
}

var _ StateStore = (*local.Backend)(nil)

// BackendSettings are a backend's settings: the backend block's
// attributes, with init's -backend-config values over them.
type BackendSettings map[string]string

// BackendType opens the state of one workspace of a backend type other
// than "local". Its errors name the setting to fix.
type BackendType struct {
	// Keys are the settings the type accepts.
	Keys []string
	// Open connects; environ is the environment the run was given.
	Open func(ctx context.Context, settings BackendSettings, workspace string, environ []string, logger hclog.Logger) (StateStore, error)
}

// backendTypes are the backend types besides "local", by name.
var backendTypes = map[string]BackendType{}

// backendConfigFile is where init records the backend it initialised, in
// the plan directory's .mailplan: its type, the hash of its block, and
// the -backend-config settings (mode 0600: they may hold a password).
const backendConfigFile = "backend.json"

// initRecord is backendConfigFile's content.
type initRecord struct {
	Type string `json:"type"`
	// Hash is the SHA-256 of the backend block's settings, to tell when
	// the block changed since init.
	Hash string `json:"hash"`
	// Settings are init's -backend-config values.
	Settings BackendSettings `json:"settings,omitempty"`
}

// backendChoice is the backend a plan directory uses.
type backendChoice struct {
	typ      string
	settings BackendSettings
	// block are the settings written in the backend block alone.
	block BackendSettings
	// statePath is the local backend's state file (default workspace).
	statePath string
	rng       *hcl.Range
}

func (s *Session) dir() string {
	if s.opts.Dir == "" {
		return "."
	}
	return s.opts.Dir
}

// dotDir is the plan directory's .mailplan.
func (s *Session) dotDir() string { return filepath.Join(s.dir(), ".mailplan") }

// backendChoice decodes the backend block. Its errors point at the block
// or attribute at fault. extra (init's -backend-config) goes over the
// block; nil reads what init recorded.
func (s *Session) backendChoice(extra BackendSettings) (*backendChoice, hcl.Diagnostics) {
	c := &backendChoice{typ: "local", settings: BackendSettings{}, block: BackendSettings{}, statePath: filepath.Join(s.dotDir(), "state.json")}
	if s.Module != nil && s.Module.Mailplan != nil && s.Module.Mailplan.Backend != nil {
		b := s.Module.Mailplan.Backend
		c.typ, c.rng = b.Type, b.DeclRange.Ptr()
		keys := []string{"path"}
		if c.typ != "local" {
			bt, ok := backendTypes[c.typ]
			if !ok {
				return nil, hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Unsupported backend",
					Detail:   fmt.Sprintf("backend %q is not a mailplan backend; use backend \"local\" or backend \"pg\"", b.Type),
					Subject:  b.DeclRange.Ptr(),
				}}
			}
			keys = bt.Keys
		}
		attrs, diags := b.Config.JustAttributes()
		if diags.HasErrors() {
			return nil, diags
		}
		for name, a := range attrs {
			if !slices.Contains(keys, name) {
				return nil, hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Unsupported backend setting",
					Detail:   fmt.Sprintf("backend %q has no setting %q; it takes %s", c.typ, name, quoteList(keys)),
					Subject:  a.NameRange.Ptr(),
				}}
			}
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, diags
			}
			if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
				return nil, hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Invalid backend setting",
					Detail:   fmt.Sprintf("backend %q: %s must be a string", c.typ, name),
					Subject:  a.Expr.Range().Ptr(),
				}}
			}
			c.block[name] = v.AsString()
		}
	}
	for k, v := range c.block {
		c.settings[k] = v
	}
	if extra == nil {
		// A plan directory that never ran init uses the local backend as
		// configured; once init recorded a backend, a change to the block
		// needs init again (with -migrate-state to carry the state over).
		rec, err := s.readInitRecord()
		switch {
		case err != nil:
			return nil, hcl.Diagnostics{errDiag("Cannot read the backend settings", err)}
		case rec == nil && c.typ == "local":
		case rec == nil || rec.Type != c.typ || rec.Hash != c.block.hash():
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Backend initialization required",
				Detail:   fmt.Sprintf("The backend %q is new or changed since the last `mailplan init`. Run \"mailplan init\" (with -migrate-state to move the existing state into it).", c.typ),
				Subject:  c.rng,
			}}
		}
		if rec != nil {
			extra = rec.Settings
		}
	}
	keys := []string{"path"}
	if bt, ok := backendTypes[c.typ]; ok {
		keys = bt.Keys
	}
	for k, v := range extra {
		if !slices.Contains(keys, k) {
			return nil, hcl.Diagnostics{errDiag("Unsupported backend setting", fmt.Errorf("-backend-config: backend %q has no setting %q; it takes %s", c.typ, k, quoteList(keys)))}
		}
		c.settings[k] = v
	}
	if c.typ == "local" {
		if p, ok := c.settings["path"]; ok {
			if !filepath.IsAbs(p) {
				p = filepath.Join(s.dir(), p)
			}
			c.statePath = p
		}
	}
	return c, nil
}

// hash is the SHA-256 of the settings, in key order.
func (b BackendSettings) hash() string {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, b[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Session) readInitRecord() (*initRecord, error) {
	b, err := os.ReadFile(filepath.Join(s.dotDir(), backendConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec initRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(s.dotDir(), backendConfigFile), err)
	}
	return &rec, nil
}

// openStore opens workspace's state in the chosen backend.
func (s *Session) openStore(ctx context.Context, c *backendChoice, workspace string) (StateStore, error) {
	if c.typ == "local" {
		b := local.New(localWorkspacePath(c.statePath, workspace), s.e.logger().Named("state"))
		b.ShareDigestKey(filepath.Dir(c.statePath))
		return b, nil
	}
	env := s.opts.Environ
	if env == nil {
		env = os.Environ()
	}
	return backendTypes[c.typ].Open(ctx, c.settings, workspace, env, s.e.logger().Named("state"))
}

// localWorkspacePath is where the local backend keeps a workspace's state:
// the state file for "default", else workspaces/NAME/ beside it.
func localWorkspacePath(statePath, workspace string) string {
	if workspace == DefaultWorkspace {
		return statePath
	}
	return filepath.Join(filepath.Dir(statePath), "workspaces", workspace, filepath.Base(statePath))
}

// openState opens (and with lock, locks) the state of the selected
// workspace.
func (s *Session) openState(ctx context.Context, lock bool) hcl.Diagnostics {
	c, diags := s.backendChoice(nil)
	if diags.HasErrors() {
		return diags
	}
	store, err := s.openStore(ctx, c, s.workspace)
	if err != nil {
		return hcl.Diagnostics{errDiag("Cannot open the state", err)}
	}
	s.Backend = store
	if err := s.checkWorkspace(ctx, c, store); err != nil {
		s.Close()
		return hcl.Diagnostics{errDiag("Cannot open the state", err)}
	}
	if lock {
		if err := s.lockState(ctx); err != nil {
			s.Close()
			return hcl.Diagnostics{errDiag("Cannot open the state", err)}
		}
	}
	st, err := s.Backend.Read(ctx)
	if err != nil {
		s.Close()
		return hcl.Diagnostics{errDiag("Cannot open the state", err)}
	}
	s.State = st
	// The key is made on first use, by a run that holds the lock; a
	// read-only look at the state does not need it.
	if dk, ok := s.Backend.(states.DigestKeyer); ok {
		secret, err := dk.DigestKey(ctx, lock)
		if err != nil {
			s.Close()
			return hcl.Diagnostics{errDiag("Cannot open the state", err)}
		}
		if secret != nil {
			s.digest = resource.NewDigestKey(secret)
		}
	}
	return nil
}

// lockState takes the state lock. Another run's lock fails at once,
// unless -lock-timeout was given: then it is tried again until then.
func (s *Session) lockState(ctx context.Context) error {
	op := s.opts.Operation
	if op == "" {
		op = "plan"
	}
	info := states.LockInfo{ID: randomID(), Operation: op, Who: whoami(), PID: os.Getpid(), Created: time.Now().UTC()}
	deadline := time.Now().Add(s.opts.StateLockTimeout)
	for {
		u, err := s.Backend.Lock(ctx, info)
		if err == nil {
			s.unlock = u
			return nil
		}
		var locked *states.LockedError
		if !errors.As(err, &locked) || !time.Now().Before(deadline) {
			if locked != nil && s.opts.StateLockTimeout > 0 {
				return fmt.Errorf("%w (waited %s)", err, s.opts.StateLockTimeout)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func quoteList(list []string) string {
	out := ""
	for i, x := range list {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", x)
	}
	return out
}
