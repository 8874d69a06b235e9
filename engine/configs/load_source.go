package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// resolveCall finds the directory of the module a call loads, and the
// checkout it belongs to ("" for none): a local source relative to the
// calling module's directory dir, inside the caller's checkout root if it
// has one; a git source through the loader's resolver. It returns "" with
// diagnostics at the source argument when there is no module to load.
func (l *Loader) resolveCall(dir, root string, path []string, mc *ModuleCall) (string, string, hcl.Diagnostics) {
	switch {
	case IsLocalSource(mc.Source):
		childDir := filepath.Join(dir, filepath.FromSlash(mc.Source))
		if root != "" && !within(childDir, root) {
			return "", "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Module source outside its repository",
				Detail:   fmt.Sprintf("The module source %q leaves the git repository the calling module came from. A relative source in a git module must name a directory of the same repository; call the other module by its own git source.", mc.Source),
				Subject:  mc.SourceRange.Ptr(),
			}}
		}
		if st, err := os.Stat(childDir); err != nil || !st.IsDir() {
			return "", "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Module not found",
				Detail:   fmt.Sprintf("The module source %q refers to %s, which is not a directory.", mc.Source, childDir),
				Subject:  mc.SourceRange.Ptr(),
			}}
		}
		return childDir, root, nil
	case IsGitSource(mc.Source):
		src, err := ParseGitSource(mc.Source)
		if err != nil {
			return "", "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid module source",
				Detail:   fmt.Sprintf("This git source is not valid: %s. The form is git::URL[//SUBDIR][?ref=REF], e.g. git::https://git.example/ops/mail-modules.git//relay-to-new?ref=v1.2.0.", err),
				Subject:  mc.SourceRange.Ptr(),
			}}
		}
		return l.resolver.ResolveModule(ModuleRequest{Path: path, Source: src, SourceRange: mc.SourceRange})
	}
	return "", "", hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Unsupported module source",
		Detail:   fmt.Sprintf("A module source is a local path starting with ./ or ../, relative to the calling module, or a git repository, git::URL[//SUBDIR][?ref=REF]; %q is neither.", redactSource(mc.Source)),
		Subject:  mc.SourceRange.Ptr(),
	}}
}

// redactSource hides what looks like credentials (user:secret@) in a
// source that is not even a valid one.
func redactSource(s string) string {
	at := strings.IndexByte(s, '@')
	sep := strings.Index(s, "://")
	if at < 0 || sep < 0 || at < sep {
		return s
	}
	if slash := strings.IndexByte(s[sep+3:], '/'); slash >= 0 && sep+3+slash < at {
		return s
	}
	return s[:sep+3] + "REDACTED" + s[at:]
}

// within reports whether the directory p is root or under it.
func within(p, root string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
