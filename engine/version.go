package engine

import (
	"runtime/debug"
	"strings"
)

// BuildInfo is what `mailplan version` reports: the release the binary
// was built as, and the commit, from the Go build information.
type BuildInfo struct {
	// Version is the module version `go install …@VERSION` built (a tag or
	// a pseudo-version naming the commit), else "v" + Version.
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, when known
	// (a build in a git work tree, or a pseudo-version).
	Commit string `json:"commit,omitempty"`
	// Modified is true when the work tree had uncommitted changes.
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// ReadBuildInfo returns the binary's build information.
func ReadBuildInfo() BuildInfo {
	out := BuildInfo{Version: "v" + Version}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	out.GoVersion = bi.GoVersion
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		out.Version = v
		// A pseudo-version ends in the commit's first 12 hex digits.
		if i := strings.LastIndexByte(v, '-'); i > 0 && len(v)-i-1 == 12 {
			out.Commit = v[i+1:]
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Commit = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		}
	}
	return out
}

// VersionString is the version for messages and the audit trail, e.g.
// "v0.1.0 (a1b2c3d4e5f6)" or "v0.1.0 (a1b2c3d4e5f6, modified)".
func VersionString() string {
	bi := ReadBuildInfo()
	s := bi.Version
	c := bi.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	switch {
	case c != "" && bi.Modified:
		s += " (" + c + ", modified)"
	case c != "" && !strings.HasSuffix(bi.Version, c):
		s += " (" + c + ")"
	}
	return s
}
