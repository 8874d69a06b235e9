package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// Version is mailplan's version.
const Version = "0.1.0"

// Engine runs commands on plan directories.
type Engine struct {
	Registry *resource.Registry
	Hooks    exec.HookRunner
	UI       exec.UI
	Logger   hclog.Logger
}

// VarArg is one -var or -var-file argument, in command-line order.
type VarArg struct {
	// File is true for -var-file (Value is then a path).
	File  bool
	Value string
}

// Options are what the commands share.
type Options struct {
	Dir  string
	Vars []VarArg
	// Environ is the environment to read MAILPLAN_VAR_* from; nil means
	// os.Environ().
	Environ     []string
	Targets     []string
	Excludes    []string
	Destroy     bool
	NoRefresh   bool
	Parallelism int
	NoRollback  bool
	MaxWait     time.Duration
	Stop        <-chan struct{}
	// LockTimeout is how long a run waits for a lock another run holds on
	// a host (the edit lock of a Postfix instance's main.cf), nil for
	// DefaultLockTimeout.
	LockTimeout *time.Duration
	// StateLockTimeout is how long a run waits for the state lock another
	// run holds; 0 fails at once, naming the holder.
	StateLockTimeout time.Duration
	// Operation names the command holding the lock.
	Operation string
	// ValidateOnly lets required variables without a value be unknown:
	// validate and graph check a plan without its values.
	ValidateOnly bool
	// Force makes the changes that ask once more just before they are
	// made (resource.Confirmer, e.g. a command with confirm = true)
	// without asking; -auto-approve does not.
	Force bool
}

// Session is a loaded plan directory with its state open and, for the
// commands that need it, locked.
type Session struct {
	e       *Engine
	opts    Options
	loader  *configs.Loader
	Module  *configs.Module
	Config  *lang.Result
	Backend StateStore
	State   *states.State
	// workspace is the selected workspace.
	workspace string
	unlock    states.Unlocker
	runner    *exec.Runner
	targets   []addrs.Target
	exclude   []addrs.Target
	// digest keys the digests written to the state and plan files; nil
	// (a key of this process only) when the backend has none.
	digest *resource.DigestKey
}

// Files returns the parsed files, for printing diagnostics.
func (s *Session) Files() map[string]*hcl.File {
	if s == nil || s.loader == nil {
		return nil
	}
	return s.loader.Files()
}

// Close releases the lock and the backend's connections.
func (s *Session) Close() error {
	if s == nil {
		return nil
	}
	var err error
	if s.unlock != nil {
		err = s.unlock.Unlock()
		s.unlock = nil
	}
	if c, ok := s.Backend.(interface{ Close() error }); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Load parses and evaluates the plan directory without touching state or
// hosts: what validate does.
func (e *Engine) Load(opts Options) (*Session, hcl.Diagnostics) {
	s := &Session{e: e, opts: opts, loader: configs.NewLoader()}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	mod, diags := s.loader.Load(dir)
	s.Module = mod
	if mod == nil || diags.HasErrors() {
		return s, diags
	}
	if mod.Mailplan != nil && mod.Mailplan.RequiredVersion != "" {
		diags = append(diags, checkVersion(mod.Mailplan)...)
	}
	ws, err := selectedWorkspace(dir, opts.Environ)
	if err != nil {
		return s, append(diags, errDiag("Invalid workspace", err))
	}
	s.workspace = ws
	vars, d := s.inputVariables(mod)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return s, diags
	}
	res, d := lang.Evaluate(lang.Input{Root: mod, Registry: e.Registry, Variables: vars, AllowUnknown: opts.ValidateOnly, Workspace: ws})
	diags = append(diags, d...)
	if !d.HasErrors() {
		diags = append(diags, exec.CheckClaims(res)...)
	}
	s.Config = res
	for _, t := range opts.Targets {
		tg, d := addrs.ParseTarget(t)
		diags = append(diags, d...)
		s.targets = append(s.targets, tg)
	}
	for _, t := range opts.Excludes {
		tg, d := addrs.ParseTarget(t)
		diags = append(diags, d...)
		s.exclude = append(s.exclude, tg)
	}
	s.runner = &exec.Runner{Registry: e.Registry, Hooks: e.Hooks, UI: e.UI, Logger: e.logger()}
	return s, diags
}

func (e *Engine) logger() hclog.Logger {
	if e.Logger == nil {
		return hclog.NewNullLogger()
	}
	return e.Logger
}

// Open loads the plan directory, then opens and locks its state.
func (e *Engine) Open(ctx context.Context, opts Options) (*Session, hcl.Diagnostics) {
	s, diags := e.Load(opts)
	if diags.HasErrors() {
		return s, diags
	}
	return s, append(diags, s.openState(ctx, true)...)
}

// OpenState opens the state of a plan directory without evaluating the
// configuration (state and output commands). lock says whether to lock.
func (e *Engine) OpenState(ctx context.Context, opts Options, lock bool) (*Session, hcl.Diagnostics) {
	s := &Session{e: e, opts: opts}
	if diags := s.loadForState(); diags.HasErrors() {
		return s, diags
	}
	return s, s.openState(ctx, lock)
}

// loadForState reads the plan directory for its backend block (the
// resources are not evaluated: a plan that does not parse falls back to
// the local backend) and the selected workspace.
func (s *Session) loadForState() hcl.Diagnostics {
	s.loader = configs.NewLoader()
	if mod, diags := s.loader.Load(s.dir()); !diags.HasErrors() {
		s.Module = mod
	}
	s.runner = &exec.Runner{Registry: s.e.Registry, Hooks: s.e.Hooks, UI: s.e.UI, Logger: s.e.logger()}
	ws, err := selectedWorkspace(s.dir(), s.opts.Environ)
	if err != nil {
		return hcl.Diagnostics{errDiag("Invalid workspace", err)}
	}
	s.workspace = ws
	return nil
}

// keyed gives ctx the state's digest key, for the engine's digests and
// the resource types' (resource.DigestKeyFrom).
func (s *Session) keyed(ctx context.Context) context.Context {
	if s.opts.LockTimeout != nil {
		ctx = resource.WithLockTimeout(ctx, *s.opts.LockTimeout)
	}
	return resource.WithDigestKey(ctx, s.digest)
}

// DefaultLockTimeout is how long a run waits for another run's lock on a
// host unless Options.LockTimeout says otherwise.
const DefaultLockTimeout = resource.DefaultLockTimeout

// Plan refreshes and plans.
func (s *Session) Plan(ctx context.Context) (*exec.Planned, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if la := s.State.LastApply; la.Open() {
		what := fmt.Sprintf("The %s started at %s was interrupted", opOf(la), la.Started.Format(time.RFC3339))
		if la.Status == states.StatusRollbackFailed {
			what = fmt.Sprintf("The rollback of the %s started at %s did not finish", opOf(la), la.Started.Format(time.RFC3339))
		}
		next := "`mailplan apply` continues it from what is there now, keeping its record, so that a later rollback or destroy still puts back what was there before both; `mailplan rollback` undoes what it did."
		if s.opts.Destroy {
			next = "Destroy cannot start until it is closed: `mailplan rollback` undoes what it did, `mailplan apply` continues it."
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "This plan continues an unfinished apply",
			Detail:   what + "; the state records what it changed. " + next,
		})
	}
	ctx = s.keyed(ctx)
	p, d := s.runner.Plan(ctx, s.Config, s.State, exec.PlanOptions{
		Destroy: s.opts.Destroy, NoRefresh: s.opts.NoRefresh, Targets: s.targets, Excludes: s.exclude, Parallelism: s.opts.Parallelism,
	})
	diags = append(diags, d...)
	if p != nil && !d.HasErrors() {
		// Plan-wide checks (resource.PlanChecker), before anything can
		// be shown or applied.
		diags = append(diags, s.runner.CheckPlan(ctx, p)...)
	}
	if p != nil {
		p.Plan.Basis = s.basis(p)
		p.Plan.Continues = s.State.LastApply.Open() && !s.opts.Destroy
	}
	return p, diags
}

func opOf(la *states.Apply) string {
	if la.Operation == "" {
		return states.OperationApply
	}
	return la.Operation
}

// CheckApplicable tells, before any planning or prompt, whether Apply
// would refuse to run: a destroy while the last apply's journal is open
// (an apply continues it instead).
func (s *Session) CheckApplicable() error {
	if s.opts.Destroy && s.State.LastApply.Open() {
		return exec.ErrOpenJournal
	}
	return nil
}

// Apply carries out a plan made by this session.
func (s *Session) Apply(ctx context.Context, p *exec.Planned) (*exec.ApplyReport, error) {
	if err := s.CheckApplicable(); err != nil {
		return &exec.ApplyReport{}, err
	}
	op := opName(s.opts.Destroy)
	maxWait := s.opts.MaxWait
	return s.runner.Apply(s.keyed(ctx), p, s.State, s.Backend, exec.ApplyOptions{
		Parallelism: s.opts.Parallelism, NoRollback: s.opts.NoRollback, MaxWait: maxWait, Stop: s.opts.Stop,
		Operation: op, Outputs: s.Config.Outputs, Force: s.opts.Force,
	})
}

// Rollback undoes the last apply.
func (s *Session) Rollback(ctx context.Context, force bool) (*exec.ApplyReport, error) {
	return s.runner.Rollback(s.keyed(ctx), s.State, s.Backend, exec.RollbackOptions{Force: force, Config: s.Config})
}

// CheckRollback lists what rollback would undo and what drifted.
func (s *Session) CheckRollback(ctx context.Context) (changes []string, drifted []string, err error) {
	drifted, err = s.runner.CheckRollback(s.keyed(ctx), s.State, s.Config)
	if err != nil {
		return nil, nil, err
	}
	return exec.Pending(s.State), drifted, nil
}

// PlanFile builds the saved form of a plan.
func (s *Session) PlanFile(p *exec.Planned) *plans.File {
	return &plans.File{Destroy: p.Plan.Destroy, Basis: p.Plan.Basis, Changes: s.saltChanges(p.Plan.Basis.Salt, p.FileChanges())}
}

// StaleError is a saved plan that no longer matches.
type StaleError struct{ Reasons []string }

func (e *StaleError) Error() string {
	return "since the plan was made, " + strings.Join(e.Reasons, "; ") + ". Run plan again and apply the new plan."
}

// CheckSaved compares a fresh plan with a saved one.
func (s *Session) CheckSaved(saved *plans.File, p *exec.Planned) error {
	var why []string
	b := p.Plan.Basis
	if id := savedKeyID(saved); id != "" && id != s.digest.ID() {
		// Every keyed hash would differ; say why once.
		return &StaleError{Reasons: []string{fmt.Sprintf("the state's digest key is not the one the plan was made with "+
			"(key %s, now %s: %s was lost or replaced)", id, s.digest.ID(), s.digestKeyPath())}}
	}
	if saved.Basis.ConfigHash != b.ConfigHash {
		why = append(why, "the configuration changed")
	}
	// A state that does not exist yet gets a new lineage on every read.
	if saved.Basis.StateSerial != b.StateSerial || (b.StateSerial > 0 && saved.Basis.StateLineage != b.StateLineage) {
		why = append(why, fmt.Sprintf("the state changed (serial %d, now %d)", saved.Basis.StateSerial, b.StateSerial))
	}
	for k, v := range saved.Basis.Variables {
		if b.Variables[k] != v {
			why = append(why, fmt.Sprintf("variable %q changed", k))
		}
	}
	for k, v := range saved.Basis.SensitiveVariables {
		if !s.savedHash(saved.Basis.Salt, v, s.sensitiveJSON(k)) {
			why = append(why, fmt.Sprintf("sensitive variable %q is not the one the plan was made with", k))
		}
	}
	fresh := map[string]plans.FileChange{}
	for _, c := range p.FileChanges() {
		fresh[c.Addr] = c
	}
	reads := p.Reads()
	salt := saved.Basis.Salt
	for _, c := range saved.Changes {
		f, ok := fresh[c.Addr]
		// Only a change in what the type's fingerprint covers counts: a
		// no-op that became a change because mail reached a live mailbox
		// source since is not stale (apply copies what is missing when it
		// runs).
		read, fok := reads[c.Addr]
		savedRead, sok := saved.Basis.Reads[c.Addr]
		sameRead := fok == sok && (!fok || s.savedHash(salt, savedRead, read))
		samePlanned := ok && s.savedHash(salt, c.Planned, f.Planned)
		switch {
		case !ok:
			why = append(why, c.Addr+" is no longer planned")
		case c.Action == plans.NoOp && samePlanned && sameRead:
		case f.Action != c.Action || !samePlanned:
			why = append(why, c.Addr+" would now be planned differently")
		case c.Action != plans.NoOp && !sameRead:
			why = append(why, c.Addr+" changed on its host")
		}
		delete(fresh, c.Addr)
	}
	for addr := range fresh {
		why = append(why, addr+" was not in the saved plan")
	}
	sort.Strings(why)
	if len(why) > 0 {
		return &StaleError{Reasons: why}
	}
	return nil
}

// SavedVars returns the -var arguments that restore a saved plan's
// non-sensitive variables.
func SavedVars(f *plans.File) []VarArg {
	var out []VarArg
	names := make([]string, 0, len(f.Basis.Variables))
	for n := range f.Basis.Variables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, VarArg{Value: n + "=" + jsonVarMarker + f.Basis.Variables[n]})
	}
	return out
}

// jsonVarMarker prefixes a -var value that is JSON of the typed value (how
// saved plans carry variables).
const jsonVarMarker = "\x00json:"

func (s *Session) basis(p *exec.Planned) plans.Basis {
	b := plans.Basis{
		ConfigHash:         s.configHash(),
		Variables:          map[string]string{},
		SensitiveVariables: map[string]string{},
		Salt:               randomID(),
		StateLineage:       s.State.Lineage,
		StateSerial:        s.State.Serial,
		Reads:              map[string]string{},
		Targets:            s.opts.Targets,
		Excludes:           s.opts.Excludes,
		Created:            time.Now().UTC(),
	}
	b.Reads = s.saltReads(b.Salt, p.Reads())
	for name, v := range s.Config.Variables {
		if s.Config.SensitiveVariables[name] {
			b.SensitiveVariables[name] = s.planHash(b.Salt, s.sensitiveJSON(name))
			continue
		}
		u, _ := v.UnmarkDeep()
		j, err := ctyjson.Marshal(u, cty.DynamicPseudoType)
		if err == nil {
			b.Variables[name] = string(j)
		}
	}
	return b
}

func (s *Session) sensitiveJSON(name string) string {
	v, ok := s.Config.Variables[name]
	if !ok {
		return ""
	}
	u, _ := v.UnmarkDeep()
	j, _ := ctyjson.Marshal(u, cty.DynamicPseudoType)
	return string(j)
}

// planHash is how a plan file keeps a digest or a sensitive value: keyed
// with the state's digest key and salted with the plan's salt, so that
// neither the plan file alone nor two plan files compared reveal it.
func (s *Session) planHash(salt, v string) string {
	return s.digest.Sum([]byte(salt + "\x00" + v))
}

// savedHash reports whether a plan file's hash is of v: keyed (planHash),
// or salted SHA-256 in a plan file made before keyed digests.
func (s *Session) savedHash(salt, saved, v string) bool {
	if resource.DigestKeyID(saved) == "" {
		return saltedHash(salt, v) == saved
	}
	return s.planHash(salt, v) == saved
}

// saltedHash is the unkeyed hash of plan files made before keyed digests.
func saltedHash(salt, v string) string {
	sum := sha256.Sum256([]byte(salt + "\x00" + v))
	return hex.EncodeToString(sum[:])
}

// savedKeyID is the digest key a saved plan's hashes were made with, ""
// when it has none keyed.
func savedKeyID(f *plans.File) string {
	for _, m := range []map[string]string{f.Basis.SensitiveVariables, f.Basis.Reads} {
		for _, v := range m {
			if id := resource.DigestKeyID(v); id != "" {
				return id
			}
		}
	}
	for _, c := range f.Changes {
		if id := resource.DigestKeyID(c.Planned); id != "" {
			return id
		}
	}
	return ""
}

// digestKeyPath names where the backend keeps the digest key, for messages.
func (s *Session) digestKeyPath() string {
	if b, ok := s.Backend.(interface{ DigestKeyPath() string }); ok {
		return b.DigestKeyPath()
	}
	return "the state's digest key"
}

func (s *Session) configHash() string {
	files := s.loader.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		if strings.HasSuffix(n, configs.FileSuffix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		abs, _ := filepath.Abs(n)
		fmt.Fprintf(h, "%s\x00%d\x00", abs, len(files[n].Bytes))
		h.Write(files[n].Bytes)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func whoami() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

func errDiag(summary string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error()}
}

// saltReads and saltChanges hash the digests a plan file keeps with the
// state's digest key and the plan's salt (planHash): a bare SHA-256 of a
// real state that holds a short secret could be guessed back.
func (s *Session) saltReads(salt string, reads map[string]string) map[string]string {
	out := make(map[string]string, len(reads))
	for k, v := range reads {
		out[k] = s.planHash(salt, v)
	}
	return out
}

func (s *Session) saltChanges(salt string, cs []plans.FileChange) []plans.FileChange {
	out := make([]plans.FileChange, len(cs))
	for i, c := range cs {
		c.Planned = s.planHash(salt, c.Planned)
		out[i] = c
	}
	return out
}

// StateMove gives state records new addresses, as `mailplan state mv`
// does (and as a moved block would, without one): source and destination
// name resource instances, whole resources (every instance) or module
// calls, of the same kind and type. It holds the state lock, and refuses
// while the last apply's journal is open, when nothing is at source, or
// when the state already has something at a destination. Nothing on a
// host changes. With dryRun it only says what would move.
func (e *Engine) StateMove(ctx context.Context, opts Options, source, destination string, dryRun bool) ([]plans.Move, hcl.Diagnostics) {
	from, diags := addrs.ParseTarget(source)
	to, d := addrs.ParseTarget(destination)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	m, why := addrs.NewMove(nil, from, to)
	if why != "" {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid move", Detail: fmt.Sprintf("Cannot move %s to %s: %s.", source, destination, why)}}
	}
	if opts.Operation == "" {
		opts.Operation = "state mv"
	}
	s, diags := e.OpenState(ctx, opts, true)
	if diags.HasErrors() {
		return nil, diags
	}
	defer s.Close()
	st := s.State
	if st.LastApply.Open() {
		return nil, hcl.Diagnostics{errDiag("State move refused", fmt.Errorf("the last %s (started %s) did not finish and its journal is open: run `mailplan rollback` to undo it, or `mailplan apply` to continue it, then move", opOf(st.LastApply), st.LastApply.Started.Format(time.RFC3339)))}
	}
	var moves []plans.Move
	for _, a := range sortedResourceAddrs(st) {
		ri, d := addrs.ParseResourceInstance(a)
		if d.HasErrors() {
			continue
		}
		if n, ok := m.Apply(ri); ok {
			moves = append(moves, plans.Move{From: a, To: n.String()})
		}
	}
	if len(moves) == 0 {
		return nil, hcl.Diagnostics{errDiag("Nothing to move", fmt.Errorf("the state has nothing at %s; `mailplan state list` shows what it has", source))}
	}
	for _, mv := range moves {
		if _, taken := st.Resources[mv.To]; taken {
			return nil, hcl.Diagnostics{errDiag("State move refused", fmt.Errorf("the state already has %s, so %s cannot move there; nothing was moved", mv.To, mv.From))}
		}
	}
	if dryRun {
		return moves, nil
	}
	for _, mv := range moves {
		if err := st.Move(mv.From, mv.To); err != nil {
			return nil, hcl.Diagnostics{errDiag("State move refused", err)}
		}
	}
	if err := s.Backend.Write(ctx, st); err != nil {
		return nil, hcl.Diagnostics{errDiag("Cannot write the state", err)}
	}
	return moves, nil
}

func sortedResourceAddrs(st *states.State) []string {
	out := make([]string, 0, len(st.Resources))
	for a := range st.Resources {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
