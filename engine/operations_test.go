package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// recordingUI is a UI that answers as told and records what an operation
// asked of it, in order.
type recordingUI struct {
	mu      sync.Mutex
	events  []string
	said    strings.Builder
	confirm bool
	noAsk   error // Confirm's error: nobody to ask
	stopped bool  // Proceed says an interrupt came first
	planErr error // Plan cannot show the plan
}

func (u *recordingUI) add(e string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events = append(u.events, e)
}

func (u *recordingUI) Diagnostics(d hcl.Diagnostics, _ map[string]*hcl.File) {
	for _, x := range d {
		u.add("diag " + x.Summary)
	}
}
func (u *recordingUI) Plan(p *Plan) error {
	u.add("plan")
	return u.planErr
}
func (u *recordingUI) Rollback(p RollbackPreview) {
	u.add("rollback " + p.Operation + ": " + strings.Join(p.Changes, ", "))
}
func (u *recordingUI) Confirm(op string) (bool, error) {
	u.add("confirm " + op)
	return u.confirm, u.noAsk
}
func (u *recordingUI) Proceed() bool {
	u.add("proceed")
	return !u.stopped
}
func (u *recordingUI) Say(text string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.said.WriteString(text)
}
func (u *recordingUI) Notice(text string)                { u.add("notice " + strings.TrimSpace(text)) }
func (u *recordingUI) Status(addr, msg string)           {}
func (u *recordingUI) Waiting(string, time.Time, string) {}
func (u *recordingUI) Progress(addr string) Progress     { return nil }

// opsBed is a plan directory with one fake_file over a data directory.
type opsBed struct {
	t         *testing.T
	dir, data string
	ff        *fakeFile
	e         *Engine
}

func newOpsBed(t *testing.T) *opsBed {
	b := &opsBed{t: t, dir: t.TempDir(), data: t.TempDir(), ff: &fakeFile{}}
	writePlan(t, b.dir, `
variable "data" { type = string }
resource "fake_file" "a" {
  path    = "${var.data}/a"
  content = "new a"
}
`)
	b.e = newTestEngine(b.ff)
	return b
}

func (b *opsBed) opts() Options {
	return Options{Dir: b.dir, Vars: []VarArg{{Value: "data=" + b.data}}, Parallelism: 1}
}

func (b *opsBed) content() string {
	got, err := os.ReadFile(filepath.Join(b.data, "a"))
	if errors.Is(err, os.ErrNotExist) {
		return "(none)"
	}
	return string(got)
}

// The facade's Apply asks before it changes anything and stops when told
// no, when nobody can be asked, or when an interrupt came first; told
// yes, it applies. A test drives the whole sequence without a process.
func TestApplyAsksFirst(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		ui      *recordingUI
		status  Status
		events  []string
		content string
	}{
		{"declined", &recordingUI{}, Failed, []string{"plan", "confirm apply"}, "(none)"},
		{"plan not shown", &recordingUI{confirm: true, planErr: errors.New("broken pipe")}, Failed, []string{"plan", "diag Cannot render the plan"}, "(none)"},
		{"nobody to ask", &recordingUI{noAsk: errors.New("no terminal")}, Failed, []string{"plan", "confirm apply", "diag No confirmation"}, "(none)"},
		{"interrupted", &recordingUI{confirm: true, stopped: true}, Failed, []string{"plan", "confirm apply", "proceed", "notice Apply stopped by an interrupt before changing anything."}, "(none)"},
		{"confirmed", &recordingUI{confirm: true}, Done, []string{"plan", "confirm apply", "proceed"}, "new a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newOpsBed(t)
			res := b.e.Apply(ctx, ApplyRequest{Options: b.opts()}, tc.ui)
			if res.Status != tc.status {
				t.Errorf("status %d, want %d (err %v)", res.Status, tc.status, res.Err)
			}
			if diff := cmp.Diff(tc.events, tc.ui.events); diff != "" {
				t.Errorf("what the UI was asked (-want +got):\n%s", diff)
			}
			if got := b.content(); got != tc.content {
				t.Errorf("file a = %q, want %q", got, tc.content)
			}
			if tc.status == Done && (res.Report == nil || res.Report.Added != 1) {
				t.Errorf("report %+v, want 1 added", res.Report)
			}
			if tc.name == "declined" && !strings.Contains(tc.ui.said.String(), "Apply cancelled. Nothing was changed.") {
				t.Errorf("said %q", tc.ui.said.String())
			}
		})
	}
}

// Plan saves a plan that Apply then carries out without asking; a saved
// plan made stale by a change of the configuration is refused before any
// change. Rollback shows what it undoes and puts the file back; Destroy
// takes it away.
func TestOperationsSavedPlanRollbackDestroy(t *testing.T) {
	ctx := context.Background()
	b := newOpsBed(t)
	planFile := filepath.Join(t.TempDir(), "p.plan")

	ui := &recordingUI{}
	res := b.e.Plan(ctx, PlanRequest{Options: b.opts(), Out: planFile}, ui)
	if res.Status != Changes || res.Plan == nil {
		t.Fatalf("plan: status %d, want Changes", res.Status)
	}
	ui = &recordingUI{}
	res = b.e.Apply(ctx, ApplyRequest{Options: b.opts(), PlanFile: planFile}, ui)
	if res.Status != Done || b.content() != "new a" {
		t.Fatalf("apply of the saved plan: status %d, err %v, a = %q", res.Status, res.Err, b.content())
	}
	if diff := cmp.Diff([]string{"proceed"}, ui.events); diff != "" {
		t.Errorf("a saved plan is neither shown nor confirmed again (-want +got):\n%s", diff)
	}

	// Stale: the configuration changed since the plan.
	res = b.e.Plan(ctx, PlanRequest{Options: b.opts(), Out: planFile}, &recordingUI{})
	if res.Status != Done {
		t.Fatalf("re-plan: status %d, want Done (no changes)", res.Status)
	}
	writePlan(t, b.dir, `
variable "data" { type = string }
resource "fake_file" "a" {
  path    = "${var.data}/a"
  content = "newer a"
}
`)
	ui = &recordingUI{}
	res = b.e.Apply(ctx, ApplyRequest{Options: b.opts(), PlanFile: planFile}, ui)
	if res.Status != Failed || b.content() != "new a" {
		t.Fatalf("stale plan: status %d, a = %q", res.Status, b.content())
	}
	if diff := cmp.Diff([]string{"diag Saved plan is stale"}, ui.events); diff != "" {
		t.Errorf("stale plan (-want +got):\n%s", diff)
	}

	ui = &recordingUI{}
	res = b.e.Rollback(ctx, RollbackRequest{Options: b.opts(), AutoApprove: true}, ui)
	if res.Status != Done || b.content() != "(none)" {
		t.Fatalf("rollback: status %d, err %v, a = %q", res.Status, res.Err, b.content())
	}
	if diff := cmp.Diff([]string{"rollback apply: fake_file.a (create)", "proceed"}, ui.events); diff != "" {
		t.Errorf("rollback (-want +got):\n%s", diff)
	}
	ui = &recordingUI{}
	if res = b.e.Rollback(ctx, RollbackRequest{Options: b.opts()}, ui); res.Status != Done || !strings.Contains(ui.said.String(), "Nothing to roll back") {
		t.Errorf("second rollback: status %d, said %q", res.Status, ui.said.String())
	}

	res = b.e.Apply(ctx, ApplyRequest{Options: b.opts(), AutoApprove: true}, &recordingUI{})
	if res.Status != Done || b.content() != "newer a" {
		t.Fatalf("apply: status %d, err %v", res.Status, res.Err)
	}
	ui = &recordingUI{confirm: true}
	res = b.e.Destroy(ctx, ApplyRequest{Options: b.opts()}, ui)
	if res.Status != Done || res.Operation != "destroy" || b.content() != "(none)" {
		t.Fatalf("destroy: status %d, op %s, err %v, a = %q", res.Status, res.Operation, res.Err, b.content())
	}
	if diff := cmp.Diff([]string{"plan", "confirm destroy", "proceed"}, ui.events); diff != "" {
		t.Errorf("destroy (-want +got):\n%s", diff)
	}
}

// A step that fails ends the apply Failed, with what was rolled back in
// the report for the CLI to show.
func TestApplyFailureReported(t *testing.T) {
	b := newOpsBed(t)
	b.ff.failOn = map[string]bool{filepath.Join(b.data, "a"): true}
	res := b.e.Apply(context.Background(), ApplyRequest{Options: b.opts(), AutoApprove: true}, &recordingUI{})
	if res.Status != Failed || res.Err == nil || res.Report == nil || len(res.Report.Failed) != 1 {
		t.Fatalf("status %d, err %v, report %+v", res.Status, res.Err, res.Report)
	}
	if b.content() != "(none)" {
		t.Errorf("a = %q after the rollback", b.content())
	}
}
