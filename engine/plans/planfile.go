package plans

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FileFormat identifies a mailplan plan file.
const FileFormat = "mailplan-plan"

// FileVersion is the plan file format version WriteFile writes.
//
//   - 1: JSON holds format_version, resource_changes and output_changes
//     (and mailplan's additions).
//   - 2: JSON is the full document of `show -json PLANFILE`, adding
//     mailplan_version, variables, planned_values, prior_state and
//     configuration. The other fields are as in version 1.
const FileVersion = 2

// MinFileVersion is the oldest version ReadFile reads: a version 1 file
// applies as before, and shows the shorter document it holds.
const MinFileVersion = 1

// File is the saved form of a plan. It holds no sensitive value: sensitive
// variables are kept as salted hashes, and the renderings hide them.
type File struct {
	Format  string       `json:"format"`
	Version int          `json:"version"`
	Destroy bool         `json:"destroy"`
	Basis   Basis        `json:"basis"`
	Changes []FileChange `json:"changes"`
	// Text is the plan as `plan` printed it, for `show`; JSON its
	// document for `show -json` (see FileVersion). Both hide every
	// sensitive value.
	Text string          `json:"text"`
	JSON json.RawMessage `json:"json"`
}

// FileChange is one change of a saved plan: what it does and a digest of
// the planned value, compared when the plan is applied.
type FileChange struct {
	Addr    string `json:"addr"`
	Action  Action `json:"action"`
	Planned string `json:"planned"`
}

// WriteFile saves f at path, mode 0600, atomically.
func WriteFile(path string, f *File) error {
	f.Format = FileFormat
	f.Version = FileVersion
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	return nil
}

// ErrNotPlanFile is returned for a file that is not a mailplan plan.
var ErrNotPlanFile = errors.New("not a mailplan plan file")

// ReadFile loads a saved plan.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil || f.Format != FileFormat {
		return nil, fmt.Errorf("%s: %w", path, ErrNotPlanFile)
	}
	if f.Version < MinFileVersion || f.Version > FileVersion {
		return nil, fmt.Errorf("%s: plan file version %d is not supported by this mailplan (it reads versions %d to %d)", path, f.Version, MinFileVersion, FileVersion)
	}
	return &f, nil
}
