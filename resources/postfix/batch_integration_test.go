package postfix_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
)

// batchMember is one change of a batch as the engine drives it: read,
// planned, applied with a Batch, its deferred item, its journal.
type batchMember struct {
	typ  resource.Type
	cfg  cty.Value
	read resource.ReadResponse
	j    *resourcetest.Journal
	item any
}

// TestBatcherOneEdit: three maps (two in one parameter, one in another)
// and a postfix_config on one instance, applied as the engine applies a
// batch: their Applies write the tables and leave main.cf alone, then one
// FinishBatch makes one postconf -e and one reload for all of them. A
// failure of the combined edit is redone one change at a time (only the
// change whose own edit fails fails); a failed postfix check fails them
// all. Restores in any order, after the batch or after a crash before it,
// put the instance back byte for byte.
func TestBatcherOneEdit(t *testing.T) {
	t.Parallel()
	bName := func(argv []string) bool { return strings.Contains(strings.Join(argv, " "), "batch_b") }
	cases := []struct {
		name    string
		fail    func(argv []string) bool
		badConf bool // a parameter postfix check refuses
		crash   bool // no FinishBatch: killed after the applies
		wantErr []bool
		edits   int
	}{
		{name: "one edit", wantErr: []bool{false, false, false, false}, edits: 1},
		{name: "combined edit fails once", wantErr: []bool{false, false, false, false}, edits: 5},
		{name: "b's edit fails", fail: bName, wantErr: []bool{false, true, false, false}, edits: 5},
		{name: "check fails", badConf: true, wantErr: []bool{true, true, true, true}, edits: 1},
		{name: "killed before the batch", crash: true, edits: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pf := instance(t, "old", "127.0.0.2")
			f := &editFaults{hosts: resourcetest.Pool(t)}
			combined := 0
			f.fail = tc.fail
			if f.fail == nil {
				f.fail = func(argv []string) bool {
					if tc.name == "combined edit fails once" && len(argv) > 1 && combined == 0 {
						combined++
						return true
					}
					return false
				}
			}
			m, cf := postfix.NewMap(f), postfix.NewConfig(f)
			var ms []*batchMember
			for i, name := range []string{"a", "b", "c"} {
				param := []string{"transport_maps", "transport_maps", "smtp_generic_maps"}[i]
				ms = append(ms, &batchMember{typ: m, cfg: mapConfig(t, m, localHost, pf, map[string]cty.Value{
					"path": cty.StringVal(filepath.Join(pf.ConfigDir, "batch_"+name)), "type": cty.StringVal("hash"),
					"entries":   entries(name+".example.com", "error:"+name),
					"parameter": cty.StringVal(param),
				})})
			}
			conf := map[string]string{"message_size_limit": "30720000"}
			if tc.badConf {
				conf["message_size_limit"] = "lots"
			}
			ms = append(ms, &batchMember{typ: cf, cfg: configParams(t, cf, localHost, pf)(conf)})
			key := m.BatchKey(ms[0].cfg)
			for _, x := range ms {
				if k := x.typ.(resource.Batcher).BatchKey(x.cfg); k != key || k == "" {
					t.Fatalf("batch keys %q and %q", key, k)
				}
			}
			observeNow := observe(pf)
			before := observeNow(t)
			ctx := context.Background()
			for _, x := range ms {
				r, err := x.typ.Read(ctx, resource.ReadRequest{Config: x.cfg})
				if err != nil {
					t.Fatal(err)
				}
				plan, err := x.typ.Plan(ctx, resource.PlanRequest{Config: x.cfg, Current: r.Current, Snapshot: r.Snapshot})
				if err != nil {
					t.Fatal(err)
				}
				x.read, x.j = r, &resourcetest.Journal{}
				b := &resource.Batch{}
				if _, err := x.typ.Apply(ctx, resource.ApplyRequest{Config: x.cfg, Current: r.Current, Planned: plan.Planned,
					Snapshot: r.Snapshot, Journal: x.j, Batch: b}); err != nil {
					t.Fatal(err)
				}
				item, ok := b.Deferred()
				if !ok {
					t.Fatalf("%s did not defer its edit", x.cfg.GetAttr("host").GetAttr("name").AsString())
				}
				x.item = item
			}
			if got, _ := os.ReadFile(filepath.Join(pf.ConfigDir, "main.cf")); !strings.Contains(string(before), string(got)) {
				t.Errorf("main.cf changed before the batch:\n%s", got)
			}
			if !tc.crash {
				items := make([]any, len(ms))
				for i, x := range ms {
					items[i] = x.item
				}
				errs := m.FinishBatch(ctx, items)
				for i, err := range errs {
					if (err != nil) != tc.wantErr[i] {
						t.Errorf("change %d: error %v, want error: %v", i, err, tc.wantErr[i])
					}
					if err != nil && tc.fail != nil && !errors.Is(err, errInjected) {
						t.Errorf("change %d: error does not wrap the injected one: %v", i, err)
					}
				}
				if got := f.reloads; !tc.badConf && got != 1 {
					t.Errorf("%d reloads for the batch, want 1", got)
				}
				t.Logf("postconf -e commands: %q", f.edits)
				if len(f.edits) != tc.edits {
					t.Errorf("%d postconf -e commands, want %d", len(f.edits), tc.edits)
				}
				if len(f.edits) > 0 && len(f.edits[0]) != 3 {
					t.Errorf("the first postconf -e did not set the batch's three parameters: %q", f.edits)
				}
				if !tc.badConf {
					for i, want := range tc.wantErr[:3] {
						got := mainCFParam(t, pf, []string{"transport_maps", "transport_maps", "smtp_generic_maps"}[i])
						if listed := strings.Contains(got, "batch_"+[]string{"a", "b", "c"}[i]); listed == want {
							t.Errorf("map %d listed: %v, want %v (%q)", i, listed, !want, got)
						}
					}
				}
			}
			f.fail = func([]string) bool { return false }
			for _, i := range []int{1, 3, 0, 2} {
				x := ms[i]
				req := resource.RestoreRequest{Config: x.cfg, Snapshot: x.read.Snapshot, Journal: x.j.Entries()}
				if err := x.typ.Restore(ctx, req); err != nil {
					t.Fatalf("restore %d: %v", i, err)
				}
			}
			if diff := cmp.Diff(string(before), string(observeNow(t))); diff != "" {
				t.Errorf("after the restores (-before +after):\n%s", diff)
			}
		})
	}
}
