package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/states"
)

// DefaultWorkspace is the workspace a plan directory starts with.
const DefaultWorkspace = "default"

// WorkspaceEnv selects the workspace for one run, over the one `mailplan
// workspace select` recorded.
const WorkspaceEnv = "MAILPLAN_WORKSPACE"

// environmentFile records the selected workspace, in .mailplan.
const environmentFile = "environment"

// workspaceName is what a workspace may be called: a domain name fits.
var workspaceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,89}$`)

// CheckWorkspaceName says why name cannot name a workspace, or nil.
func CheckWorkspaceName(name string) error {
	if !workspaceName.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("%q is not a valid workspace name: use letters, digits, '.', '-' and '_' (at most 90, starting with a letter or digit), e.g. a domain name", name)
	}
	return nil
}

// selectedWorkspace is the workspace of a run: MAILPLAN_WORKSPACE, else
// what `workspace select` recorded, else "default".
func selectedWorkspace(dir string, environ []string) (string, error) {
	if environ == nil {
		environ = os.Environ()
	}
	name := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, WorkspaceEnv+"="); ok {
			name = v
		}
	}
	if name == "" {
		b, err := os.ReadFile(filepath.Join(dir, ".mailplan", environmentFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
			return DefaultWorkspace, nil
		case err != nil:
			return "", err
		}
		name = strings.TrimSpace(string(b))
		if name == "" {
			return DefaultWorkspace, nil
		}
	}
	if err := CheckWorkspaceName(name); err != nil {
		return "", err
	}
	return name, nil
}

// Workspace is the session's workspace.
func (s *Session) Workspace() string { return s.workspace }

// checkWorkspace fails when the selected workspace was never made. It
// asks the store already open for it: a pg backend lists its workspaces
// on the same connection, the local one looks for the directory.
func (s *Session) checkWorkspace(ctx context.Context, c *backendChoice, store StateStore) error {
	if s.workspace == DefaultWorkspace {
		return nil
	}
	exists := false
	if c.typ == "local" {
		_, err := os.Stat(filepath.Dir(localWorkspacePath(c.statePath, s.workspace)))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		exists = err == nil
	} else if w, ok := store.(states.Workspacer); ok {
		names, err := w.Workspaces(ctx)
		if err != nil {
			return err
		}
		exists = slices.Contains(names, s.workspace)
	}
	if !exists {
		return fmt.Errorf("workspace %q does not exist; make it with `mailplan workspace new %s` (or `workspace select -or-create`), or list them with `mailplan workspace list`", s.workspace, s.workspace)
	}
	return nil
}

// listWorkspaces lists the workspaces of the chosen backend, sorted,
// "default" included.
func (s *Session) listWorkspaces(ctx context.Context, c *backendChoice) ([]string, error) {
	if c.typ != "local" {
		store, err := s.openStore(ctx, c, DefaultWorkspace)
		if err != nil {
			return nil, err
		}
		defer closeStore(store)
		w, ok := store.(states.Workspacer)
		if !ok {
			return nil, fmt.Errorf("backend %q has no workspaces", c.typ)
		}
		return w.Workspaces(ctx)
	}
	names := []string{DefaultWorkspace}
	es, err := os.ReadDir(filepath.Join(filepath.Dir(c.statePath), "workspaces"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range es {
		if e.IsDir() && CheckWorkspaceName(e.Name()) == nil && e.Name() != DefaultWorkspace {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func closeStore(store StateStore) {
	if c, ok := store.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// WorkspaceList is what `workspace list` shows.
type WorkspaceList struct {
	Names   []string
	Current string
}

// workspaceSession loads the plan directory for a workspace command: its
// backend block, not its resources.
func (e *Engine) workspaceSession(opts Options) (*Session, *backendChoice, hcl.Diagnostics) {
	s := &Session{e: e, opts: opts}
	if d := s.loadForState(); d.HasErrors() {
		return s, nil, d
	}
	c, diags := s.backendChoice(nil)
	return s, c, diags
}

// Workspaces lists the workspaces and names the selected one.
func (e *Engine) Workspaces(ctx context.Context, opts Options) (*WorkspaceList, hcl.Diagnostics) {
	s, c, diags := e.workspaceSession(opts)
	if diags.HasErrors() {
		return nil, diags
	}
	names, err := s.listWorkspaces(ctx, c)
	if err != nil {
		return nil, hcl.Diagnostics{errDiag("Cannot list the workspaces", err)}
	}
	return &WorkspaceList{Names: names, Current: s.workspace}, nil
}

// workspaceNamed checks name and lists the workspaces, for a command on
// the workspace name.
func (e *Engine) workspaceNamed(ctx context.Context, opts Options, name string) (*Session, *backendChoice, []string, hcl.Diagnostics) {
	if err := CheckWorkspaceName(name); err != nil {
		return nil, nil, nil, hcl.Diagnostics{errDiag("Invalid workspace name", err)}
	}
	s, c, diags := e.workspaceSession(opts)
	if diags.HasErrors() {
		return nil, nil, nil, diags
	}
	names, err := s.listWorkspaces(ctx, c)
	if err != nil {
		return nil, nil, nil, hcl.Diagnostics{errDiag("Cannot list the workspaces", err)}
	}
	return s, c, names, nil
}

// NewWorkspace makes the workspace name (an empty state) and selects it.
func (e *Engine) NewWorkspace(ctx context.Context, opts Options, name string) hcl.Diagnostics {
	s, c, names, diags := e.workspaceNamed(ctx, opts, name)
	if diags.HasErrors() {
		return diags
	}
	if slices.Contains(names, name) {
		return hcl.Diagnostics{errDiag("Workspace exists", fmt.Errorf("workspace %q already exists; `mailplan workspace select %s` selects it", name, name))}
	}
	if err := s.createWorkspace(ctx, c, name); err != nil {
		return hcl.Diagnostics{errDiag("Cannot make the workspace", err)}
	}
	return s.recordWorkspace(name)
}

// createWorkspace writes an empty state for name.
func (s *Session) createWorkspace(ctx context.Context, c *backendChoice, name string) error {
	store, err := s.openStore(ctx, c, name)
	if err != nil {
		return err
	}
	defer closeStore(store)
	if c.typ == "local" {
		if err := os.MkdirAll(filepath.Dir(localWorkspacePath(c.statePath, name)), 0o700); err != nil {
			return err
		}
	}
	u, err := store.Lock(ctx, states.LockInfo{ID: randomID(), Operation: "workspace new", Who: whoami(), PID: os.Getpid()})
	if err != nil {
		return err
	}
	defer u.Unlock()
	st, err := store.Read(ctx)
	if err != nil {
		return err
	}
	return store.Write(ctx, st)
}

// SelectWorkspace records name as the selected workspace; with create, a
// workspace that does not exist is made first.
func (e *Engine) SelectWorkspace(ctx context.Context, opts Options, name string, create bool) hcl.Diagnostics {
	s, c, names, diags := e.workspaceNamed(ctx, opts, name)
	if diags.HasErrors() {
		return diags
	}
	if !slices.Contains(names, name) {
		if !create {
			return hcl.Diagnostics{errDiag("Workspace not found", fmt.Errorf("workspace %q does not exist; `mailplan workspace new %s` makes it, `workspace select -or-create %s` makes and selects it", name, name, name))}
		}
		if err := s.createWorkspace(ctx, c, name); err != nil {
			return hcl.Diagnostics{errDiag("Cannot make the workspace", err)}
		}
	}
	return s.recordWorkspace(name)
}

// recordWorkspace writes the selection to .mailplan/environment.
func (s *Session) recordWorkspace(name string) hcl.Diagnostics {
	if err := os.MkdirAll(s.dotDir(), 0o700); err != nil {
		return hcl.Diagnostics{errDiag("Cannot select the workspace", err)}
	}
	if err := writeFileAtomic(filepath.Join(s.dotDir(), environmentFile), []byte(name+"\n"), 0o600); err != nil {
		return hcl.Diagnostics{errDiag("Cannot select the workspace", err)}
	}
	return nil
}

// DeleteWorkspace removes the workspace name. A workspace whose state
// holds resources, or has an unfinished apply, is refused without force;
// the selected workspace and "default" are always refused.
func (e *Engine) DeleteWorkspace(ctx context.Context, opts Options, name string, force bool) hcl.Diagnostics {
	if name == DefaultWorkspace {
		return hcl.Diagnostics{errDiag("Cannot delete the default workspace", errors.New("the default workspace always exists"))}
	}
	s, c, names, diags := e.workspaceNamed(ctx, opts, name)
	if diags.HasErrors() {
		return diags
	}
	if name == s.workspace {
		return hcl.Diagnostics{errDiag("Cannot delete the selected workspace", fmt.Errorf("workspace %q is selected; select another one first (`mailplan workspace select default`)", name))}
	}
	if !slices.Contains(names, name) {
		return hcl.Diagnostics{errDiag("Workspace not found", fmt.Errorf("workspace %q does not exist", name))}
	}
	store, err := s.openStore(ctx, c, name)
	if err != nil {
		return hcl.Diagnostics{errDiag("Cannot open the workspace", err)}
	}
	defer closeStore(store)
	u, err := store.Lock(ctx, states.LockInfo{ID: randomID(), Operation: "workspace delete", Who: whoami(), PID: os.Getpid()})
	if err != nil {
		return hcl.Diagnostics{errDiag("Cannot delete the workspace", err)}
	}
	st, err := store.Read(ctx)
	if err != nil {
		u.Unlock()
		return hcl.Diagnostics{errDiag("Cannot read the workspace's state", err)}
	}
	if !force && (len(st.Resources) > 0 || st.LastApply.Open()) {
		u.Unlock()
		return hcl.Diagnostics{errDiag("Workspace is not empty", fmt.Errorf("workspace %q still tracks %d resources; `mailplan destroy` in it first, or delete it with -force (mailplan then forgets them: nothing on the hosts changes)", name, len(st.Resources)))}
	}
	if c.typ == "local" {
		err = os.RemoveAll(filepath.Dir(localWorkspacePath(c.statePath, name)))
		u.Unlock()
	} else {
		u.Unlock()
		w, ok := store.(states.Workspacer)
		if !ok {
			return hcl.Diagnostics{errDiag("Cannot delete the workspace", fmt.Errorf("backend %q has no workspaces", c.typ))}
		}
		err = w.DeleteWorkspace(ctx, name)
	}
	if err != nil {
		return hcl.Diagnostics{errDiag("Cannot delete the workspace", err)}
	}
	return nil
}

// ForceUnlock releases the state lock whose ID is id, held by a run that
// cannot release it itself.
func (e *Engine) ForceUnlock(ctx context.Context, opts Options, id string) hcl.Diagnostics {
	s, c, diags := e.workspaceSession(opts)
	if diags.HasErrors() {
		return diags
	}
	store, err := s.openStore(ctx, c, s.workspace)
	if err != nil {
		return hcl.Diagnostics{errDiag("Cannot open the state", err)}
	}
	defer closeStore(store)
	fu, ok := store.(states.ForceUnlocker)
	if !ok {
		return hcl.Diagnostics{errDiag("Cannot force the lock", fmt.Errorf("the %s backend's lock is held by a process and released when it ends; stop the process that holds it (mailplan names its pid when it refuses to run)", c.typ))}
	}
	if err := fu.ForceUnlock(ctx, id); err != nil {
		return hcl.Diagnostics{errDiag("Cannot force the lock", err)}
	}
	return nil
}
