package command

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport"
)

func TestConfigMatchesSchema(t *testing.T) {
	if err := resource.CheckStruct(schema, config{}); err != nil {
		t.Error(err)
	}
}

var testHost = resource.Host{Name: "old", Transport: "local"}

// fakeHost is a transport.Host whose Run is a function; it records every
// argv. Only Name and Run may be called.
type fakeHost struct {
	transport.Host
	mu   sync.Mutex
	runs []string
	run  func(argv []string) (transport.Result, error)
}

func (f *fakeHost) Name() string { return `host "old"` }

func (f *fakeHost) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	f.mu.Lock()
	f.runs = append(f.runs, strings.Join(argv, " "))
	f.mu.Unlock()
	if f.run == nil {
		return transport.Result{}, nil
	}
	return f.run(argv)
}

func (f *fakeHost) ran() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.runs...)
}

type fakeHosts struct{ h *fakeHost }

func (f fakeHosts) Get(context.Context, resource.Host) (transport.Host, error) { return f.h, nil }

func list(s ...string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(s))
	for i, e := range s {
		vs[i] = cty.StringVal(e)
	}
	return cty.ListVal(vs)
}

func cfgOf(t *testing.T, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	if _, ok := attrs["host"]; !ok {
		attrs["host"] = resourcetest.HostValue(t, testHost)
	}
	return resourcetest.Config(t, New(nil), attrs)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		want  []string // "path: summary"
	}{
		{"fine", map[string]cty.Value{"command": list("newaliases")}, nil},
		{"fine with everything", map[string]cty.Value{
			"command": list("doveadm", "force-resync", "-u", "*", "INBOX"), "undo": list("true"), "check": list("false"),
			"environment": cty.MapVal(map[string]cty.Value{"LC_ALL": cty.StringVal("C")}), "timeout": cty.StringVal("1h30m"),
		}, nil},
		{"empty command", map[string]cty.Value{"command": list()}, []string{"command: Empty command"}},
		{"empty program", map[string]cty.Value{"command": list("", "-x")}, []string{"command[0]: Empty program"}},
		{"blank program", map[string]cty.Value{"command": list("  ")}, []string{"command[0]: Empty program"}},
		{"shell string", map[string]cty.Value{"command": list("shutdown -h now")}, []string{"command[0]: Program with spaces"}},
		{"null argument", map[string]cty.Value{"command": cty.ListVal([]cty.Value{cty.StringVal("x"), cty.NullVal(cty.String)})}, []string{"command[1]: Null argument"}},
		{"empty undo", map[string]cty.Value{"command": list("x"), "undo": list()}, []string{"undo: Empty undo"}},
		{"empty check program", map[string]cty.Value{"command": list("x"), "check": list("")}, []string{"check[0]: Empty program"}},
		{"bad timeout", map[string]cty.Value{"command": list("x"), "timeout": cty.StringVal("ten minutes")}, []string{"timeout: Invalid duration"}},
		{"zero timeout", map[string]cty.Value{"command": list("x"), "timeout": cty.StringVal("0s")}, []string{"timeout: Timeout not positive"}},
		{"bad environment name", map[string]cty.Value{"command": list("x"),
			"environment": cty.MapVal(map[string]cty.Value{"A=B": cty.StringVal("C")})}, []string{`environment["A=B"]: Invalid environment variable name`}},
		{"unknown skipped", map[string]cty.Value{"command": cty.UnknownVal(cty.List(cty.String)), "timeout": cty.UnknownVal(cty.String)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := New(nil).Validate(context.Background(), cfgOf(t, tc.attrs))
			var got []string
			var errs resource.AttrErrors
			if errors.As(err, &errs) {
				for _, e := range errs {
					got = append(got, pathString(e.Path)+": "+e.Summary)
				}
			} else if err != nil {
				t.Fatalf("not attribute errors: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func pathString(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			b.WriteString(s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				b.WriteString(`["` + s.Key.AsString() + `"]`)
			} else {
				b.WriteString("[" + s.Key.AsBigFloat().String() + "]")
			}
		}
	}
	return b.String()
}

func TestShown(t *testing.T) {
	secret := cty.StringVal("hunter2").Mark("sensitive")
	tests := []struct {
		name string
		v    cty.Value
		want string
	}{
		{"plain words", list("shutdown", "-h", "+1"), "shutdown -h +1"},
		{"star and spaces quoted", list("doveadm", "force-resync", "-u", "*", "INBOX"), `doveadm force-resync -u "*" INBOX`},
		{"shell characters", list("echo", "$(touch /tmp/x)", "a b", ""), `echo "$(touch /tmp/x)" "a b" ""`},
		{"sensitive element", cty.ListVal([]cty.Value{cty.StringVal("doveadm"), secret}), "doveadm (sensitive value)"},
		{"sensitive list", list("a", "b").Mark("sensitive"), "(sensitive value)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := shown(tc.v); got != tc.want {
				t.Errorf("shown = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlanSummary(t *testing.T) {
	typ := New(fakeHosts{&fakeHost{}})
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		prior bool
		want  string
	}{
		{"no undo", map[string]cty.Value{"command": list("shutdown", "-h", "+1")}, false,
			"runs: shutdown -h +1; no undo: destroy and rollback cannot take it back"},
		{"undo and confirm", map[string]cty.Value{"command": list("postsuper", "-h", "ALL"), "undo": list("postsuper", "-H", "ALL"), "confirm": cty.True}, false,
			"runs: postsuper -h ALL; undo: postsuper -H ALL; asks before it runs"},
		{"ran before", map[string]cty.Value{"command": list("newaliases")}, true,
			"runs again: newaliases; no undo: destroy and rollback cannot take it back"},
		{"replace", map[string]cty.Value{"command": list("newaliases", "-v")}, false,
			"runs: newaliases -v; no undo: destroy and rollback cannot take it back"},
		{"sensitive argument", map[string]cty.Value{"command": cty.ListVal([]cty.Value{cty.StringVal("doveadm"), cty.StringVal("pw").Mark("sensitive")})}, false,
			"runs: doveadm (sensitive value); no undo: destroy and rollback cannot take it back"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfgOf(t, tc.attrs)
			read, err := typ.Read(context.Background(), resource.ReadRequest{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			if !read.Current.IsNull() {
				t.Fatalf("read without check: Current %#v, want null", read.Current)
			}
			req := resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot}
			if tc.prior {
				u, _ := cfg.UnmarkDeep()
				req.Prior = &resource.Prior{Config: u, Result: u}
			}
			if tc.name == "replace" {
				old := cfgOf(t, map[string]cty.Value{"command": list("newaliases")})
				req.Prior = &resource.Prior{Config: old, Result: old}
			}
			resp, err := typ.Plan(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Summary != tc.want {
				t.Errorf("summary = %q, want %q", resp.Summary, tc.want)
			}
			if u, _ := cfg.UnmarkDeep(); !resp.Planned.RawEquals(u) {
				t.Errorf("planned %#v, want the configuration", resp.Planned)
			}
		})
	}
}

// TestPlanDone: a command the state records (Current given, as the
// engine gives it for a StateKept instance) is no change, whatever else
// changed.
func TestPlanDone(t *testing.T) {
	typ := New(fakeHosts{&fakeHost{}})
	old := cfgOf(t, map[string]cty.Value{"command": list("newaliases")})
	cfg := cfgOf(t, map[string]cty.Value{"command": list("newaliases"), "undo": list("true"), "timeout": cty.StringVal("1m")})
	resp, err := typ.Plan(context.Background(), resource.PlanRequest{Config: cfg, Current: old, Prior: &resource.Prior{Config: old, Result: old}})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Planned.RawEquals(old) || resp.Summary != "" {
		t.Errorf("planned %#v (%q), want the current value and no summary", resp.Planned, resp.Summary)
	}
}

func TestKeptAndConfirm(t *testing.T) {
	typ := New(nil)
	plain := cfgOf(t, map[string]cty.Value{"command": list("poweroff")})
	checked := cfgOf(t, map[string]cty.Value{"command": list("poweroff"), "check": list("false")})
	confirm := cfgOf(t, map[string]cty.Value{"command": list("poweroff"), "confirm": cty.True})
	if !typ.KeptInState(plain) || typ.KeptInState(checked) {
		t.Errorf("KeptInState: without check %v, with check %v; want true, false", typ.KeptInState(plain), typ.KeptInState(checked))
	}
	for _, tc := range []struct {
		cfg    cty.Value
		action string
		want   string
	}{
		{plain, "create", ""},
		{confirm, "create", `Run ` + "`poweroff`" + ` on host "old" (local)?`},
		{confirm, "replace", `Run ` + "`poweroff`" + ` on host "old" (local)?`},
		{confirm, "delete", ""},
		{confirm, "update", ""},
	} {
		if got := typ.ConfirmPrompt(tc.cfg, tc.action); got != tc.want {
			t.Errorf("ConfirmPrompt(%s) = %q, want %q", tc.action, got, tc.want)
		}
	}
}

// TestRestore: undo runs after a journal entry (rollback) or with the
// state's Private (destroy), from the entry's argv or, when that held a
// secret, the configuration's; never without either; never the command.
func TestRestore(t *testing.T) {
	ran, _ := json.Marshal(private{Ran: time.Now()})
	entryOf := func(e entry) []byte { b, _ := json.Marshal(e); return b }
	withUndo := map[string]cty.Value{"command": list("touch", "m"), "undo": list("rm", "-f", "m")}
	tests := []struct {
		name    string
		attrs   map[string]cty.Value
		journal [][]byte
		private []byte
		want    []string
		wantErr string
	}{
		{"nothing applied", withUndo, nil, nil, nil, ""},
		{"journal", withUndo, [][]byte{entryOf(entry{Undo: []string{"rm", "-f", "old"}})}, nil, []string{"rm -f old"}, ""},
		{"journal twice, one undo", withUndo, [][]byte{entryOf(entry{Undo: []string{"rm", "-f", "m"}}), entryOf(entry{Undo: []string{"rm", "-f", "m"}})}, nil, []string{"rm -f m"}, ""},
		{"journal without undo", withUndo, [][]byte{entryOf(entry{})}, nil, nil, ""},
		{"destroy", withUndo, nil, ran, []string{"rm -f m"}, ""},
		{"destroy without undo", map[string]cty.Value{"command": list("touch", "m")}, nil, ran, nil, ""},
		{"undo from config", map[string]cty.Value{"command": list("x"), "undo": cty.ListVal([]cty.Value{cty.StringVal("unlock"), cty.StringVal("pw").Mark("sensitive")})},
			[][]byte{entryOf(entry{UndoInConfig: true})}, nil, []string{"unlock pw"}, ""},
		{"secret missing", map[string]cty.Value{"command": list("x"), "undo": cty.ListVal([]cty.Value{cty.StringVal("unlock"), cty.NullVal(cty.String)})},
			[][]byte{entryOf(entry{UndoInConfig: true})}, nil, nil, "sensitive value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHost{}
			err := New(fakeHosts{h}).Restore(context.Background(), resource.RestoreRequest{
				Config: cfgOf(t, tc.attrs), Journal: tc.journal, Private: tc.private, Snapshot: []byte(`{"done":false}`)})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, h.ran()); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApplyJournalsFirst: the entry is durable before the command runs,
// and a failed record runs nothing; a sensitive undo never reaches it.
func TestApplyJournalsFirst(t *testing.T) {
	h := &fakeHost{}
	typ := New(fakeHosts{h})
	cfg := cfgOf(t, map[string]cty.Value{"command": list("touch", "m"),
		"undo": cty.ListVal([]cty.Value{cty.StringVal("rm"), cty.StringVal("secret").Mark("sensitive")})})
	j := &resourcetest.Journal{FailAt: 1}
	_, err := typ.Apply(context.Background(), resource.ApplyRequest{Config: cfg, Planned: cfg, Current: cty.NullVal(schema.ImpliedType()), Journal: j})
	if !errors.Is(err, resourcetest.ErrInjected) || len(h.ran()) != 0 {
		t.Fatalf("apply with a failing journal: %v, ran %v; want the injected error and nothing run", err, h.ran())
	}
	j = &resourcetest.Journal{}
	resp, err := typ.Apply(context.Background(), resource.ApplyRequest{Config: cfg, Planned: cfg, Current: cty.NullVal(schema.ImpliedType()), Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.ran(); len(got) != 1 || got[0] != "touch m" {
		t.Errorf("ran %v, want [touch m]", got)
	}
	for _, e := range append(j.Entries(), resp.Private) {
		if strings.Contains(string(e), "secret") {
			t.Errorf("the secret reached the state: %s", e)
		}
	}
	if len(j.Entries()) != 1 || !strings.Contains(string(j.Entries()[0]), `"undo_in_config":true`) {
		t.Errorf("journal %q, want one entry with undo_in_config", j.Entries())
	}
}
