package plans

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCountsAndNeedsApply(t *testing.T) {
	change := func(a Action) *Change { return &Change{Addr: "x", Action: a} }
	tests := []struct {
		name                  string
		plan                  Plan
		add, change, destroy  int
		hasChanges, needsWork bool
	}{
		{name: "empty"},
		{name: "no-ops", plan: Plan{Changes: []*Change{change(NoOp), change(NoOp)}}},
		{
			name: "every action",
			plan: Plan{Changes: []*Change{change(Create), change(Update), change(Resume), change(Delete), change(Replace), change(Forget), change(NoOp)}},
			add:  2, change: 2, destroy: 2,
			hasChanges: true, needsWork: true,
		},
		{name: "output only", plan: Plan{Outputs: map[string]*OutputChange{"o": {Action: Update}}}, hasChanges: true, needsWork: true},
		{name: "unchanged output", plan: Plan{Outputs: map[string]*OutputChange{"o": {Action: NoOp}}}},
		{name: "resume is counted", plan: Plan{Changes: []*Change{change(Resume)}}, change: 1, hasChanges: true, needsWork: true},
		{name: "forget changes nothing but needs apply", plan: Plan{Changes: []*Change{change(Forget)}}, needsWork: true},
		{name: "takeover", plan: Plan{Changes: []*Change{{Addr: "x", Action: NoOp, TakesOver: "y"}}}, needsWork: true},
		{name: "adopt", plan: Plan{Adopt: []string{"x"}}, needsWork: true},
		{name: "moves", plan: Plan{Moved: []Move{{From: "a", To: "b"}}}, needsWork: true},
		{name: "continues an apply", plan: Plan{Continues: true}, needsWork: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c, d := tt.plan.Counts()
			if a != tt.add || c != tt.change || d != tt.destroy {
				t.Errorf("Counts = %d, %d, %d; want %d, %d, %d", a, c, d, tt.add, tt.change, tt.destroy)
			}
			if got := tt.plan.HasChanges(); got != tt.hasChanges {
				t.Errorf("HasChanges = %v", got)
			}
			if got := tt.plan.NeedsApply(); got != tt.needsWork {
				t.Errorf("NeedsApply = %v", got)
			}
		})
	}
}

// A saved plan reads back as written, mode 0600, with no temporary file
// left beside it.
func TestPlanFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tfplan")
	f := &File{
		Destroy: true,
		Basis: Basis{
			ConfigHash: "abc", Variables: map[string]string{"v": `"x"`}, SensitiveVariables: map[string]string{"p": "salted"},
			Salt: "s", StateLineage: "l", StateSerial: 7, Reads: map[string]string{"a": "r"},
			Targets: []string{"a"}, Excludes: []string{"b"}, Created: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		},
		Changes: []FileChange{{Addr: "a", Action: Update, Planned: "d"}},
		Text:    "Plan: 0 to add, 1 to change, 0 to destroy.\n",
		JSON:    json.RawMessage(`{"format_version":"1"}`),
	}
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := *f
	want.Format, want.Version = FileFormat, FileVersion
	// MarshalIndent indents the JSON rendering too: compare it compacted.
	compact := cmp.Comparer(func(a, b json.RawMessage) bool {
		var ca, cb bytes.Buffer
		return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && ca.String() == cb.String()
	})
	if diff := cmp.Diff(&want, got, compact); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, %v; want 0600", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want the plan only", len(entries))
	}
}

func TestReadFileRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name       string
		path       string
		notPlan    bool
		errContain string
	}{
		{name: "missing", path: filepath.Join(dir, "missing"), errContain: "read plan"},
		{name: "not JSON", path: write("garbage", "resource \"x\" {}"), notPlan: true},
		{name: "another format", path: write("state", `{"format":"mailplan-state","version":1}`), notPlan: true},
		{name: "a newer version", path: write("v3", `{"format":"mailplan-plan","version":3}`), errContain: "plan file version 3 is not supported by this mailplan (it reads versions 1 to 2)"},
		{name: "version 0", path: write("v0", `{"format":"mailplan-plan","version":0}`), errContain: "plan file version 0 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFile(tt.path)
			if err == nil {
				t.Fatal("read succeeded")
			}
			if errors.Is(err, ErrNotPlanFile) != tt.notPlan {
				t.Errorf("error %v: ErrNotPlanFile %v, want %v", err, errors.Is(err, ErrNotPlanFile), tt.notPlan)
			}
			if !strings.Contains(err.Error(), tt.errContain) {
				t.Errorf("error %q lacks %q", err, tt.errContain)
			}
		})
	}
}

// TestReadFileVersion1 reads a plan file written before version 2: its
// JSON is the shorter document, and the rest is as before.
func TestReadFileVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.plan")
	v1 := `{"format":"mailplan-plan","version":1,"destroy":false,
  "basis":{"ConfigHash":"abc","StateSerial":3},
  "changes":[{"addr":"file.x","action":"create","planned":"d"}],
  "text":"Plan: 1 to add, 0 to change, 0 to destroy.\n",
  "json":{"format_version":"1.0","resource_changes":[],"output_changes":{}}}`
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 1 || f.Basis.ConfigHash != "abc" || f.Basis.StateSerial != 3 || len(f.Changes) != 1 || f.Changes[0].Addr != "file.x" {
		t.Errorf("read %+v", f)
	}
	if !strings.Contains(string(f.JSON), "resource_changes") {
		t.Errorf("JSON %s", f.JSON)
	}
}
