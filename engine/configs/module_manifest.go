package configs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ModulesDir is where `mailplan init` installs git modules, relative to the
// plan directory: one directory per module call path (ModuleKey), each
// holding the whole checkout of the call's repository, and ManifestName.
const ModulesDir = ".mailplan/modules"

// ManifestName is the manifest inside ModulesDir: which source, at which
// commit, is installed in which directory.
const ManifestName = "modules.json"

// ModuleKey names a module call path in the manifest and under ModulesDir:
// the call names joined by dots ("relay", "relay.inner"). Names cannot
// hold dots, so a key is never ambiguous.
func ModuleKey(path []string) string { return strings.Join(path, ".") }

// ModuleManifest is ModulesDir/ManifestName.
type ModuleManifest struct {
	Modules []*ManifestEntry `json:"modules"`
}

// ManifestEntry is one installed git module.
type ManifestEntry struct {
	// Key is the module call path (ModuleKey).
	Key string `json:"key"`
	// Source is the source as written, without credentials
	// (GitSource.String).
	Source string `json:"source"`
	// Commit is the commit the checkout is at.
	Commit string `json:"commit"`
	// Dir is the module's directory, relative to the plan directory and
	// slash separated: ModulesDir/KEY, then the source's subdirectory.
	Dir string `json:"dir"`
}

// Root is the directory of the entry's whole checkout, relative to the
// plan directory: a relative source inside the module must stay in it.
func (e *ManifestEntry) Root() string { return path.Join(ModulesDir, e.Key) }

// ReadModuleManifest reads the manifest of the plan directory dir. A
// missing manifest is an empty one.
func ReadModuleManifest(dir string) (*ModuleManifest, error) {
	m := &ModuleManifest{}
	name := filepath.Join(dir, filepath.FromSlash(ModulesDir), ManifestName)
	src, err := ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(src, m); err != nil {
		return &ModuleManifest{}, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// Bytes is the manifest as written, entries in order of their keys.
func (m *ModuleManifest) Bytes() []byte {
	sort.Slice(m.Modules, func(i, j int) bool { return m.Modules[i].Key < m.Modules[j].Key })
	if m.Modules == nil {
		m.Modules = []*ManifestEntry{}
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// Entry is the entry for key, or nil.
func (m *ModuleManifest) Entry(key string) *ManifestEntry {
	for _, e := range m.Modules {
		if e.Key == key {
			return e
		}
	}
	return nil
}

// ModuleRequest is a module call whose source is a git repository.
type ModuleRequest struct {
	// Path is the call's path: the calling module's path, then the call's
	// name.
	Path   []string
	Source *GitSource
	// SourceRange is the source argument, for diagnostics.
	SourceRange hcl.Range
}

// ModuleResolver finds the directory of a git module. The loader asks it
// once per call, from the root down, and loads what it returns.
//
// By default the loader resolves from what `mailplan init` installed
// (ModulesDir); engine/modsrc gives one that fetches, for init itself.
type ModuleResolver interface {
	// ResolveModule returns the module's directory, and root, the
	// directory of the whole checkout that holds it, inside which its
	// relative sources must stay. Problems are diagnostics at
	// req.SourceRange.
	ResolveModule(req ModuleRequest) (dir, root string, diags hcl.Diagnostics)
}

// SetModuleResolver makes the loader resolve git sources with r instead of
// from ModulesDir.
func (l *Loader) SetModuleResolver(r ModuleResolver) { l.resolver = r }

// installed resolves git sources from the manifest and lock file of a
// plan directory, read on the first git source.
type installed struct {
	planDir  string
	read     bool
	manifest *ModuleManifest
	lock     *ModuleLock
	loader   *Loader
}

func (in *installed) ResolveModule(req ModuleRequest) (string, string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if !in.read {
		in.read = true
		var err error
		in.manifest, err = ReadModuleManifest(in.planDir)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read the module manifest",
				Detail:   fmt.Sprintf("%s. Run \"mailplan init\" to install the modules again.", err),
				Subject:  req.SourceRange.Ptr(),
			})
		}
		var d hcl.Diagnostics
		in.lock, d = in.loader.ReadModuleLock(in.planDir)
		diags = append(diags, d...)
		if diags.HasErrors() {
			return "", "", diags
		}
	}
	key := ModuleKey(req.Path)
	src := req.Source.String()
	notInstalled := func(why string) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Module not installed",
			Detail:   fmt.Sprintf("The module %q (source %s) %s. Run \"mailplan init\" to install it.", key, src, why),
			Subject:  req.SourceRange.Ptr(),
		})
	}
	e := in.manifest.Entry(key)
	switch {
	case e == nil:
		return "", "", notInstalled("is not installed")
	case e.Source != src:
		return "", "", notInstalled(fmt.Sprintf("was installed from %s; its source changed since \"mailplan init\" ran", e.Source))
	}
	ls := in.lock.Sources[req.Source.LockKey()]
	switch {
	case ls == nil:
		return "", "", notInstalled(fmt.Sprintf("is not in %s", LockFileName))
	case ls.Commit != e.Commit:
		return "", "", notInstalled(fmt.Sprintf("is installed at commit %s, but %s locks it to commit %s", e.Commit, LockFileName, ls.Commit))
	}
	dir := filepath.Join(in.planDir, filepath.FromSlash(e.Dir))
	root := filepath.Join(in.planDir, filepath.FromSlash(e.Root()))
	if !within(dir, root) {
		return "", "", notInstalled(fmt.Sprintf("has the directory %s in the manifest, outside %s", e.Dir, e.Root()))
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", "", notInstalled(fmt.Sprintf("should be in %s, which is not a directory", dir))
	}
	return dir, root, diags
}

// AliasFiles makes every parsed file whose name starts with the directory
// from also known under the same name in the directory to, so that
// diagnostics about files that were moved after parsing (modules staged,
// then installed) print their source lines under the new names.
func (l *Loader) AliasFiles(from, to string) {
	prefix := from + string(filepath.Separator)
	for name, f := range l.parser.Files() {
		if strings.HasPrefix(name, prefix) {
			l.parser.AddFile(to+string(filepath.Separator)+strings.TrimPrefix(name, prefix), f)
		}
	}
}
