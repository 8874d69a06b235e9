package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/diff"

	"github.com/mailplan/mailplan/engine/configs"
)

// FmtRequest is what Fmt needs.
type FmtRequest struct {
	// Paths are files and directories to format; none means ".".
	Paths []string
	// Check changes nothing; the Result is Unformatted when a file would
	// change.
	Check bool
	// Diff shows the changes, List the names of the files that change,
	// Write writes them (unless Check).
	Diff, List, Write bool
	// Recursive also formats the directories below (not hidden ones).
	Recursive bool
}

// Fmt rewrites *.mp.hcl files in canonical form (configs.Format). A file
// that does not parse is left as it is and reported; a file is replaced
// whole (temp + rename), keeping its mode.
func (e *Engine) Fmt(req FmtRequest, ui UI) *Result {
	const op = "fmt"
	paths := req.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := fmtFiles(paths, req.Recursive)
	if err != nil {
		ui.Diagnostics(errorDiag(err.summary, err.Error()), nil)
		return failed(op)
	}
	changed := false
	var diags hcl.Diagnostics
	parsed := map[string]*hcl.File{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			ui.Diagnostics(errorDiag("Cannot read file", err.Error()), nil)
			return failed(op)
		}
		out, d := configs.Format(f, src)
		if d.HasErrors() {
			diags = append(diags, d...)
			parsed[f] = &hcl.File{Bytes: src}
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		changed = true
		if req.List {
			ui.Say(f + "\n")
		}
		if req.Diff {
			ui.Say(string(diff.Diff("old/"+f, src, "new/"+f, out)))
		}
		if req.Write && !req.Check {
			st, _ := os.Stat(f)
			if err := writeFileAtomic(f, out, st.Mode().Perm()); err != nil {
				ui.Diagnostics(errorDiag("Cannot write file", err.Error()), nil)
				return failed(op)
			}
		}
	}
	if ui.Diagnostics(diags, parsed); diags.HasErrors() {
		return failed(op)
	}
	if req.Check && changed {
		return &Result{Status: Unformatted, Operation: op}
	}
	return &Result{Operation: op}
}

// fmtError is a failure to list the files to format.
type fmtError struct {
	summary string
	err     error
}

func (e *fmtError) Error() string { return e.err.Error() }

// fmtFiles lists the *.mp.hcl files of paths, sorted: files as given,
// directories (and with recursive the ones below, but hidden ones) for
// the files in them.
func fmtFiles(paths []string, recursive bool) ([]string, *fmtError) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, &fmtError{"Cannot read path", err}
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (!recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), configs.FileSuffix) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, &fmtError{"Cannot read directory", err}
		}
	}
	sort.Strings(files)
	return files, nil
}

// writeFileAtomic replaces path with data: a temporary file beside it,
// synced, then renamed over it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
