package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/plans"
)

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
			if _, _, err := m.plan(false, true); err != nil {
				t.Fatal(err)
			}
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
	if _, _, err := m.plan(false, true); err != nil {
		t.Fatal(err)
	}
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
