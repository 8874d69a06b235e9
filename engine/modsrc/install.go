package modsrc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/mailplan/mailplan/engine/configs"
)

// InstallOptions are the options of Install.
type InstallOptions struct {
	// Upgrade resolves every ref again and rewrites the lock file with
	// what they resolve to now (`mailplan init -upgrade`). Without it, a
	// ref that resolves to another commit than the lock file says is an
	// error.
	Upgrade bool
	// Logger gets what git runs (Trace) and why it failed (Debug),
	// credentials redacted. nil logs nothing.
	Logger hclog.Logger
	// Loader parses the configuration; afterwards its Files are what the
	// diagnostics point into, for printing them with their source lines.
	// nil uses a new one.
	Loader *configs.Loader
}

// Install fetches the git modules the configuration in the plan directory
// dir calls, recursively (a git module may call git modules, and local
// modules inside it), installs them in dir/.mailplan/modules (one directory
// per module call path, and the manifest modules.json), and writes the
// lock file dir/.mailplan.lock.hcl. It returns what it did, one line per
// module call for the UI ("Downloading git::… for relay...").
//
// It installs all or nothing: everything is fetched into a staging
// directory first, and only when every module was fetched and the whole
// configuration loads are the old modules replaced and the manifest and
// lock file written (each atomically). A problem is a diagnostic at the
// module call's source argument, naming the repository and ref, never the
// credentials of its URL.
//
// Configurations without git modules need no Install: for them it
// installs nothing and removes what an earlier Install left.
func Install(ctx context.Context, dir string, opts InstallOptions) ([]string, hcl.Diagnostics) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("modsrc")
	loader := opts.Loader
	if loader == nil {
		loader = configs.NewLoader()
	}
	lock, diags := loader.ReadModuleLock(dir)
	if diags.HasErrors() {
		return nil, diags
	}
	old, err := configs.ReadModuleManifest(dir)
	if err != nil {
		// It is rewritten below; only the directories it listed are
		// left behind.
		log.Warn("ignoring unreadable module manifest", "error", err)
	}
	state := filepath.Join(dir, ".mailplan")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, hcl.Diagnostics{installError("Cannot install modules", err)}
	}
	staging, err := os.MkdirTemp(state, ".modules-install-*")
	if err != nil {
		return nil, hcl.Diagnostics{installError("Cannot install modules", err)}
	}
	defer os.RemoveAll(staging)

	in := &installer{
		ctx: ctx, log: log, staging: staging, lock: lock, upgrade: opts.Upgrade,
		fetched:  map[string]*fetched{},
		manifest: &configs.ModuleManifest{},
		newLock:  &configs.ModuleLock{Sources: map[string]*configs.LockedSource{}},
	}
	loader.SetModuleResolver(in)
	_, d := loader.Load(dir)
	modules := filepath.Join(dir, filepath.FromSlash(configs.ModulesDir))
	diags = append(diags, stagedPaths(d, staging, modules)...)
	loader.AliasFiles(staging, modules)
	if diags.HasErrors() {
		return in.lines, diags
	}
	if err := in.commit(dir, old); err != nil {
		return in.lines, append(diags, installError("Cannot install modules", err))
	}
	return in.lines, diags
}

// installer is the configs.ModuleResolver of Install: it fetches.
type installer struct {
	ctx     context.Context
	log     hclog.Logger
	staging string
	lock    *configs.ModuleLock
	upgrade bool
	// fetched are the checkouts made, by URL and ref: each is fetched
	// once however many calls use it.
	fetched  map[string]*fetched
	n        int
	lines    []string
	manifest *configs.ModuleManifest
	newLock  *configs.ModuleLock
}

type fetched struct {
	dir    string
	commit string
	// failed says that fetching failed or was refused; the diagnostic
	// went to the first call.
	failed bool
}

func (in *installer) ResolveModule(req configs.ModuleRequest) (string, string, hcl.Diagnostics) {
	src := req.Source
	key := configs.ModuleKey(req.Path)
	in.lines = append(in.lines, fmt.Sprintf("Downloading %s for %s...", src, key))
	f, diags := in.fetch(req)
	if f.failed {
		return "", "", diags
	}
	root := filepath.Join(in.staging, key)
	if err := copyTree(f.dir, root); err != nil {
		return "", "", append(diags, installDiag(req, "Cannot install module", fmt.Sprintf("Copying the checkout of %s to %s: %s.", src.Repo(), root, err)))
	}
	moduleDir := filepath.Join(root, filepath.FromSlash(src.Subdir))
	if st, err := os.Stat(moduleDir); err != nil || !st.IsDir() {
		return "", "", append(diags, installDiag(req, "Module subdirectory not found",
			fmt.Sprintf("The repository %s at %s (commit %s) has no directory %q. Check the part of the source after //.", src.Repo(), src.RefName(), f.commit, src.Subdir)))
	}
	in.manifest.Modules = append(in.manifest.Modules, &configs.ManifestEntry{
		Key:    key,
		Source: src.String(),
		Commit: f.commit,
		Dir:    path.Join(configs.ModulesDir, key, src.Subdir),
	})
	in.newLock.Sources[src.LockKey()] = &configs.LockedSource{Key: src.LockKey(), Ref: src.Ref, Commit: f.commit}
	return moduleDir, root, diags
}

// fetch fetches the request's repository and ref, once, and checks the
// commit against the lock file.
func (in *installer) fetch(req configs.ModuleRequest) (*fetched, hcl.Diagnostics) {
	src := req.Source
	id := src.URL + "?" + src.Ref
	if f, ok := in.fetched[id]; ok {
		return f, nil
	}
	in.n++
	f := &fetched{dir: filepath.Join(in.staging, fmt.Sprintf(".checkout-%d", in.n))}
	in.fetched[id] = f
	in.log.Debug("fetching", "repository", src.Repo(), "ref", src.Ref)
	g := &git{log: in.log, src: src}
	commit, err := g.fetch(in.ctx, f.dir)
	if err != nil {
		f.failed = true
		return f, hcl.Diagnostics{fetchDiag(req, err)}
	}
	f.commit = commit
	locked := in.lock.Sources[src.LockKey()]
	switch {
	case locked == nil || locked.Commit == commit:
	case in.upgrade:
		in.lines = append(in.lines, fmt.Sprintf("Upgrading %s from commit %s to %s", src.LockKey(), locked.Commit, commit))
	default:
		f.failed = true
		return f, hcl.Diagnostics{installDiag(req, "Locked commit changed",
			fmt.Sprintf("%s locks %s to commit %s, but %s of %s now resolves to commit %s: the tag was moved, or the branch has new commits. Nothing was installed. If the new commit is expected, run \"mailplan init -upgrade\" to install it and update the lock file.",
				configs.LockFileName, src.LockKey(), locked.Commit, src.RefName(), src.Repo(), commit))}
	}
	return f, nil
}

func fetchDiag(req configs.ModuleRequest, err error) *hcl.Diagnostic {
	src := req.Source
	switch {
	case errors.Is(err, errNoGit):
		return installDiag(req, "git not found", fmt.Sprintf("Installing %s needs the git command, which is not in PATH. Install git and run \"mailplan init\" again.", src))
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return installDiag(req, "Module installation interrupted", fmt.Sprintf("Fetching %s of %s was interrupted; nothing was installed.", src.RefName(), src.Repo()))
	case errors.Is(err, errUnknownRef):
		return installDiag(req, "Unknown git ref", fmt.Sprintf("The repository %s has no %s (a tag, branch or commit). Check the ?ref= of the source. (%s)", src.Repo(), src.RefName(), gitSaid(err)))
	case errors.Is(err, errUnreachable):
		return installDiag(req, "Cannot fetch module repository", fmt.Sprintf("Fetching %s of %s failed: the repository does not exist, cannot be reached, or refuses the credentials. (%s)", src.RefName(), src.Repo(), gitSaid(err)))
	}
	return installDiag(req, "Cannot install module", fmt.Sprintf("Fetching %s of %s: %s.", src.RefName(), src.Repo(), src.Redact(err.Error())))
}

// gitSaid is the message of a classified git error: its last "fatal:"
// lines, or the whole of it.
func gitSaid(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && (errors.Is(err, errUnknownRef) || errors.Is(err, errUnreachable)) {
		msg = msg[i+2:]
	}
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "hint:") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return "nothing."
	}
	return strings.Join(lines, " ")
}

func installDiag(req configs.ModuleRequest, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: req.SourceRange.Ptr()}
}

func installError(summary string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error() + "."}
}

// stagedPaths makes diagnostics about files in the staging directory name
// the files where they will be installed, which is where the user looks.
func stagedPaths(diags hcl.Diagnostics, staging, modules string) hcl.Diagnostics {
	fix := func(r *hcl.Range) {
		if r != nil && strings.HasPrefix(r.Filename, staging+string(filepath.Separator)) {
			r.Filename = modules + strings.TrimPrefix(r.Filename, staging)
		}
	}
	for _, d := range diags {
		fix(d.Subject)
		fix(d.Context)
		d.Detail = strings.ReplaceAll(d.Detail, staging+string(filepath.Separator), modules+string(filepath.Separator))
	}
	return diags
}
