package engine

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/render"
	"github.com/mailplan/mailplan/engine/resource"
)

// Moves that the configuration allows but the state contradicts fail the
// plan, pointing at the moved block, and change nothing.
func TestMovedStateConflicts(t *testing.T) {
	two := fileRes("a", "a", "a") + fileRes("b", "b", "b")
	tests := []struct {
		name    string
		after   string
		summary string
		line    int // in main.mp.hcl, counting mvHeader
	}{
		{
			name:    "destination in the state",
			after:   fileRes("b", "b", "b") + movedBlock("fake_file.a", "fake_file.b"),
			summary: "Moved object's new address is taken",
			line:    9,
		},
		{
			name:    "chain onto another move",
			after:   fileRes("c", "c", "c") + movedBlock("fake_file.a", "fake_file.b") + movedBlock("fake_file.b", "fake_file.c"),
			summary: "Two objects move to one address",
			line:    13,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMvEnv(t, nil)
			m.apply(two)
			before := m.state()
			m.write(map[string]string{"main.mp.hcl": tt.after})
			diags := m.planDiags()
			var found *hcl.Diagnostic
			for _, d := range diags {
				if d.Summary == tt.summary {
					found = d
				}
			}
			if found == nil {
				t.Fatalf("no %q error:%s", tt.summary, describeDiags(diags))
			}
			if found.Subject == nil || found.Subject.Start.Line != tt.line || filepath.Base(found.Subject.Filename) != "main.mp.hcl" {
				t.Errorf("error at %v, want main.mp.hcl:%d", found.Subject, tt.line)
			}
			if diff := cmp.Diff(before.Resources, m.state().Resources); diff != "" {
				t.Errorf("state changed (-before +after):\n%s", diff)
			}
		})
	}
}

// An apply that moves a resource and then fails is rolled back: the
// other changes are undone, the move stays (it changed nothing on a host),
// and the moved record is exactly the old one at its new address.
func TestMovedApplyFailureKeepsMove(t *testing.T) {
	m := newMvEnv(t, map[string]string{"aliases": "orig"})
	m.apply(fileRes("aliases", "aliases", "managed"))
	s0 := m.state()
	m.write(map[string]string{"main.mp.hcl": fileRes("etc_aliases", "aliases", "managed 2") + fileRes("broken", "broken", "x", "fake_file.etc_aliases") + movedBlock("fake_file.aliases", "fake_file.etc_aliases")})
	m.ff.failOn = map[string]bool{filepath.Join(m.data, "broken"): true}
	if _, _, err := m.plan(false, true); err == nil {
		t.Fatal("apply succeeded; want failure")
	}
	st := m.state()
	if st.LastApply.Status != "rolled_back" {
		t.Errorf("status %s", st.LastApply.Status)
	}
	want := movedRecords(t, s0, map[string]string{"fake_file.aliases": "fake_file.etc_aliases"})
	if diff := cmp.Diff(want, st.Resources); diff != "" {
		t.Errorf("state after the rollback (-want +got):\n%s", diff)
	}
	if got := readData(m.data, "aliases"); got != "managed" {
		t.Errorf("aliases = %q after the rollback", got)
	}
	m.ff.failOn = nil
	m.mustDestroy()
	if got := readData(m.data, "aliases"); got != "orig" {
		t.Errorf("aliases = %q after destroy, want the original", got)
	}
}

// The bug of issue 10, item 6: renaming file.aliases to file.etc_aliases
// planned a destroy and an adoption of the same file, which raced; after
// it, destroy put back mailplan's content. With a moved block, and
// without one (a takeover), the rename changes nothing on the host and
// destroy puts back the original, every time.
func TestRenameThenDestroyRestoresOriginal(t *testing.T) {
	const others = `
resource "fake_file" "other" {
  count   = 3
  path    = "${var.data}/other${count.index}"
  content = "other"
}`
	for _, variant := range []struct{ name, extra string }{
		{"moved", "moved {\n  from = fake_file.aliases\n  to   = fake_file.etc_aliases\n}\n"},
		{"no moved block", ""},
	} {
		t.Run(variant.name, func(t *testing.T) {
			for run := 0; run < 6; run++ {
				m := newMvEnv(t, map[string]string{"aliases": "root: admin\n"})
				m.apply(others + fileRes("aliases", "aliases", `root: postmaster\n`))
				m.ff.mu.Lock()
				m.ff.order = nil
				m.ff.mu.Unlock()
				m.write(map[string]string{"main.mp.hcl": others + fileRes("etc_aliases", "aliases", `root: postmaster\n`) + `
` + variant.extra})
				p, _, err := m.plan(false, true)
				if err != nil {
					t.Fatalf("run %d: rename: %v", run, err)
				}
				for _, c := range p.Changes {
					if c.Action != plans.NoOp {
						t.Errorf("run %d: %s %s", run, c.Addr, c.Action)
					}
				}
				if len(m.ff.order) != 0 {
					t.Errorf("run %d: the rename touched the host: %v", run, m.ff.order)
				}
				if _, _, err := m.plan(true, true); err != nil {
					t.Fatalf("run %d: destroy: %v", run, err)
				}
				if got := readData(m.data, "aliases"); got != "root: admin\n" {
					t.Fatalf("run %d: aliases = %q after destroy, want the original", run, got)
				}
			}
		})
	}
}

// fakeOther is a second fake type that claims the same files as
// fake_file: a new instance of it cannot take a fake_file over, so it
// waits for the old one's destroy.
type fakeOther struct{ *fakeFile }

func (fakeOther) Name() string { return "fake_other" }

var _ resource.Claimer = fakeOther{}

// Without a takeover (another type), the new instance is applied after
// the old one is destroyed, planned again from what the destroy put back:
// that, the original, is what its own destroy puts back.
func TestTakeoverOtherTypeWaits(t *testing.T) {
	m := newMvEnv(t, map[string]string{"a": "orig"})
	m.e.Registry = resource.NewRegistry(m.ff, fakeOther{m.ff})
	m.opts.Parallelism = 4
	m.apply(fileRes("a", "a", "managed"))
	m.ff.order = nil
	m.write(map[string]string{"main.mp.hcl": `
resource "fake_other" "a" {
  path    = "${var.data}/a"
  content = "other"
}`})
	_, text, err := m.plan(false, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "  # (because it waits until fake_file.a, which also manages the file DATA/a, is destroyed, and is read and planned again then)\n") {
		t.Errorf("plan does not say fake_other.a waits:\n%s", text)
	}
	if diff := cmp.Diff([]string{"restore a", "apply a"}, m.ff.order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if got := original(t, m.state().Resources["fake_other.a"]); got != "orig" {
		t.Errorf("fake_other.a puts back %q, want the original", got)
	}
	m.mustDestroy()
	if got := readData(m.data, "a"); got != "orig" {
		t.Errorf("a = %q after destroy", got)
	}
}

// A takeover is undone by rollback: the old record comes back exactly,
// the new one goes, and the file is as before.
func TestTakeoverRollbackAfterFailure(t *testing.T) {
	m := newMvEnv(t, map[string]string{"aliases": "orig"})
	m.apply(fileRes("aliases", "aliases", "managed"))
	s0 := m.state()
	m.write(map[string]string{"main.mp.hcl": fileRes("etc_aliases", "aliases", "managed 2") + fileRes("broken", "broken", "x", "fake_file.etc_aliases")})
	m.ff.failOn = map[string]bool{filepath.Join(m.data, "broken"): true}
	if _, _, err := m.plan(false, true); err == nil {
		t.Fatal("apply succeeded; want failure")
	}
	if diff := cmp.Diff(s0.Resources, m.state().Resources); diff != "" {
		t.Errorf("state after the rollback (-want +got):\n%s", diff)
	}
	if got := readData(m.data, "aliases"); got != "managed" {
		t.Errorf("aliases = %q after the rollback", got)
	}
}

// A moved instance shows its previous address in -json, and a takeover
// the instance it takes over.
func TestMovedJSON(t *testing.T) {
	m := newMvEnv(t, nil)
	m.apply(fileRes("a", "a", "a") + fileRes("b", "b", "b") + fileRes("c", "c", "c"))
	m.write(map[string]string{"main.mp.hcl": fileRes("a2", "a", "a") + fileRes("b2", "b", "b") + movedBlock("fake_file.a", "fake_file.a2") + removedBlock("fake_file.c")})
	p, _, _ := m.plan(false, false)
	b, err := render.PlanJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ResourceChanges []struct {
			Address         string `json:"address"`
			PreviousAddress string `json:"previous_address"`
			TakesOver       *struct {
				Address string `json:"address"`
			} `json:"mailplan_takes_over"`
			Change struct {
				Actions []string `json:"actions"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rc := range doc.ResourceChanges {
		s := strings.Join(rc.Change.Actions, ",")
		if rc.PreviousAddress != "" {
			s += " from " + rc.PreviousAddress
		}
		if rc.TakesOver != nil {
			s += " takes over " + rc.TakesOver.Address
		}
		got[rc.Address] = s
	}
	want := map[string]string{
		"fake_file.a2": "no-op from fake_file.a",
		"fake_file.b2": "no-op takes over fake_file.b",
		"fake_file.c":  "forget",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resource_changes (-want +got):\n%s", diff)
	}
}

// Moves are journalled before anything else: an apply killed after them
// leaves a state that has them, and `mailplan rollback` keeps them.
func TestMovedJournalReplay(t *testing.T) {
	m := newMvEnv(t, map[string]string{"a": "orig"})
	m.apply(fileRes("a", "a", "managed"))
	m.write(map[string]string{"main.mp.hcl": fileRes("b", "a", "managed 2") + movedBlock("fake_file.a", "fake_file.b")})
	// A second interrupt during the update stops the apply at once.
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	m.ff.onApply = func(string) { close(stop); cancel() }
	o := m.opts
	o.Stop = stop
	applyInterrupted(t, m.e, o, ctx)
	m.ff.onApply = nil
	st := m.state()
	if _, ok := st.Resources["fake_file.b"]; !ok || len(st.Resources) != 1 || !st.LastApply.Open() {
		t.Fatalf("state after the crash: %v, last apply %+v", addrsOf(st), st.LastApply)
	}
	if err := m.rollback(); err != nil {
		t.Fatal(err)
	}
	st = m.state()
	if diff := cmp.Diff([]string{"fake_file.b"}, addrsOf(st)); diff != "" {
		t.Errorf("addresses after rollback (-want +got):\n%s", diff)
	}
	if got := original(t, st.Resources["fake_file.b"]); got != "orig" {
		t.Errorf("fake_file.b puts back %q", got)
	}
	if got := readData(m.data, "a"); got != "managed" {
		t.Errorf("a = %q after rollback", got)
	}
}

// A removed resource, planned without reading it (-refresh=false), in an
// apply that fails: the rollback puts its record back and leaves its file
// as it was.
func TestRemovedRollbackWithoutRefresh(t *testing.T) {
	m := newMvEnv(t, map[string]string{"a": "orig a"})
	m.apply(fileRes("a", "a", "managed a"))
	s0 := m.state()
	m.write(map[string]string{"main.mp.hcl": removedBlock("fake_file.a") + fileRes("broken", "broken", "x")})
	m.ff.failOn = map[string]bool{filepath.Join(m.data, "broken"): true}
	m.opts.NoRefresh = true
	m.opts.Parallelism = 1
	if _, _, err := m.plan(false, true); err == nil {
		t.Fatal("apply succeeded; want failure")
	}
	st := m.state()
	if st.LastApply.Status != "rolled_back" {
		t.Errorf("status %s", st.LastApply.Status)
	}
	if diff := cmp.Diff(s0.Resources, st.Resources); diff != "" {
		t.Errorf("state after the rollback (-want +got):\n%s", diff)
	}
	if got := readData(m.data, "a"); got != "managed a" {
		t.Errorf("a = %q after the rollback", got)
	}
}

var stateMovePlan = fileRes("a", "a", "a") + `
resource "fake_file" "n" {
  count   = 2
  path    = "${var.data}/n${count.index}"
  content = "n"
}` + fileRes("d", "d", "d", "fake_file.a") + moduleCall("m")

func TestStateMove(t *testing.T) {
	all := []string{"fake_file.a", "fake_file.d", "fake_file.n[0]", "fake_file.n[1]", "module.m.fake_file.f"}
	tests := []struct {
		name     string
		from, to string
		dryRun   bool
		want     []plans.Move
		wantErr  string // summary
		wantList []string
	}{
		{
			name: "resource", from: "fake_file.a", to: "fake_file.b",
			want:     []plans.Move{{From: "fake_file.a", To: "fake_file.b"}},
			wantList: []string{"fake_file.b", "fake_file.d", "fake_file.n[0]", "fake_file.n[1]", "module.m.fake_file.f"},
		},
		{
			name: "every instance", from: "fake_file.n", to: "fake_file.k",
			want:     []plans.Move{{From: "fake_file.n[0]", To: "fake_file.k[0]"}, {From: "fake_file.n[1]", To: "fake_file.k[1]"}},
			wantList: []string{"fake_file.a", "fake_file.d", "fake_file.k[0]", "fake_file.k[1]", "module.m.fake_file.f"},
		},
		{
			name: "one instance", from: "fake_file.n[1]", to: `fake_file.n["one"]`,
			want:     []plans.Move{{From: "fake_file.n[1]", To: `fake_file.n["one"]`}},
			wantList: []string{"fake_file.a", "fake_file.d", `fake_file.n["one"]`, "fake_file.n[0]", "module.m.fake_file.f"},
		},
		{
			name: "module", from: "module.m", to: "module.k",
			want:     []plans.Move{{From: "module.m.fake_file.f", To: "module.k.fake_file.f"}},
			wantList: []string{"fake_file.a", "fake_file.d", "fake_file.n[0]", "fake_file.n[1]", "module.k.fake_file.f"},
		},
		{
			name: "dry run", from: "fake_file.a", to: "fake_file.b", dryRun: true,
			want:     []plans.Move{{From: "fake_file.a", To: "fake_file.b"}},
			wantList: all,
		},
		{name: "destination exists", from: "fake_file.a", to: "fake_file.d", wantErr: "State move refused", wantList: all},
		{name: "an instance onto one", from: "fake_file.n[0]", to: "fake_file.n[1]", wantErr: "State move refused", wantList: all},
		{name: "no source", from: "fake_file.zzz", to: "fake_file.b", wantErr: "Nothing to move", wantList: all},
		{name: "other type", from: "fake_file.a", to: "other.a", wantErr: "Invalid move", wantList: all},
		{name: "resource to module", from: "fake_file.a", to: "module.x", wantErr: "Invalid move", wantList: all},
		{name: "not an address", from: "fake_file", to: "fake_file.b", wantErr: "Invalid address", wantList: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMvEnv(t, nil)
			m.write(map[string]string{"main.mp.hcl": stateMovePlan, "modules/m/main.mp.hcl": moduleM})
			m.mustApply()
			files := m.files()
			got, diags := m.e.StateMove(context.Background(), Options{Dir: m.dir}, tt.from, tt.to, tt.dryRun)
			switch {
			case tt.wantErr == "" && diags.HasErrors():
				t.Fatalf("refused:%s", describeDiags(diags))
			case tt.wantErr != "" && (!diags.HasErrors() || diags[0].Summary != tt.wantErr):
				t.Fatalf("want error %q, got%s", tt.wantErr, describeDiags(diags))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("moves (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantList, addrsOf(m.state())); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(files, m.files()); diff != "" {
				t.Errorf("files changed (-before +after):\n%s", diff)
			}
		})
	}
}

// After state mv, dependency lists and the last apply's journal name the
// new address: a rollback of that apply puts the record back there, and
// destroy goes in the right order.
func TestStateMoveFollowsDepsAndJournal(t *testing.T) {
	m := newMvEnv(t, map[string]string{"a": "orig a"})
	m.write(map[string]string{"main.mp.hcl": stateMovePlan, "modules/m/main.mp.hcl": moduleM})
	m.mustApply()
	if _, d := m.e.StateMove(context.Background(), Options{Dir: m.dir}, "fake_file.a", "fake_file.first", false); d.HasErrors() {
		t.Fatal(d.Error())
	}
	st := m.state()
	if diff := cmp.Diff([]string{"fake_file.first"}, st.Resources["fake_file.d"].Deps); diff != "" {
		t.Errorf("deps of fake_file.d (-want +got):\n%s", diff)
	}
	for _, ch := range st.LastApply.Changes {
		if ch.Addr == "fake_file.a" || strings.Contains(strings.Join(ch.Deps, " "), "fake_file.a") {
			t.Errorf("the journal still names fake_file.a: %+v", ch)
		}
	}
	if err := m.rollback(); err != nil {
		t.Fatal(err)
	}
	if left := addrsOf(m.state()); len(left) != 0 {
		t.Errorf("after rollback the state manages %v", left)
	}
	if got := readData(m.data, "a"); got != "orig a" {
		t.Errorf("a = %q after rollback", got)
	}
}

// state mv refuses while the last apply's journal is open.
func TestStateMoveRefusesOpenJournal(t *testing.T) {
	e, opts, _ := hardInterrupt(t)
	_, diags := e.StateMove(context.Background(), opts, "fake_file.a", "fake_file.z", false)
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "journal is open") {
		t.Fatalf("want a refusal, got%s", describeDiags(diags))
	}
	s, d := e.OpenState(context.Background(), opts, false)
	mustNoDiags(t, d)
	if _, ok := s.State.Resources["fake_file.z"]; ok {
		t.Error("moved anyway")
	}
}
