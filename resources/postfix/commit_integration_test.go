package postfix_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport"
)

// editFaults fails the postconf -e commands fail picks.
type editFaults struct {
	hosts postfix.Hosts
	fail  func(argv []string) bool

	mu      sync.Mutex
	edits   [][]string // every postconf -e, failed or not
	reloads int        // every postfix reload
}

func (f *editFaults) Get(ctx context.Context, h resource.Host) (transport.Host, error) {
	th, err := f.hosts.Get(ctx, h)
	if err != nil {
		return nil, err
	}
	return &editFaultHost{Host: th, f: f}, nil
}

type editFaultHost struct {
	transport.Host
	f *editFaults
}

func (h *editFaultHost) Unwrap() transport.Host { return h.Host }

func (h *editFaultHost) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	if len(argv) > 1 && argv[0] == "postfix" && argv[len(argv)-1] == "reload" {
		h.f.mu.Lock()
		h.f.reloads++
		h.f.mu.Unlock()
	}
	if len(argv) > 3 && argv[0] == "postconf" && argv[3] == "-e" {
		h.f.mu.Lock()
		h.f.edits = append(h.f.edits, argv[4:])
		fail := h.f.fail(argv[4:])
		h.f.mu.Unlock()
		if fail {
			return transport.Result{}, fmt.Errorf("postconf -e: %w", errInjected)
		}
	}
	return h.Host.Run(ctx, argv, opts)
}

// TestBatchOneByOneAfterFailure: three maps of one instance applied at
// once (two in one parameter, one in another) join one batch and one
// postconf -e. When that combined edit fails, the batch is done again one
// map at a time: with the failure gone, every map is applied; with a
// failure of one map's own edit, only that map fails. Restores in any
// order then put the instance back byte for byte.
func TestBatchOneByOneAfterFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fail    func(argv []string) bool
		wantErr []bool
	}{
		{"no failure", func([]string) bool { return false }, []bool{false, false, false}},
		{"combined edit fails once", nil, []bool{false, false, false}},
		{"b's edit fails", func(argv []string) bool { return strings.Contains(strings.Join(argv, " "), "batch_b") }, []bool{false, true, false}},
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
					if len(argv) > 1 && combined == 0 {
						combined++
						return true
					}
					return false
				}
			}
			m := postfix.NewMap(f)
			var cfgs []cty.Value
			for i, name := range []string{"a", "b", "c"} {
				param := []string{"transport_maps", "transport_maps", "smtp_generic_maps"}[i]
				cfgs = append(cfgs, mapConfig(t, m, localHost, pf, map[string]cty.Value{
					"path": cty.StringVal(filepath.Join(pf.ConfigDir, "batch_"+name)), "type": cty.StringVal("texthash"),
					"entries":   entries(name+".example.com", "error:"+name),
					"parameter": cty.StringVal(param),
				}))
			}
			before := observe(pf)(t)
			ctx := context.Background()
			type applied struct {
				snapshot []byte
				journal  [][]byte
			}
			done := make([]applied, len(cfgs))
			errs := make([]error, len(cfgs))
			reads := make([]resource.ReadResponse, len(cfgs))
			for i, cfg := range cfgs {
				r, err := m.Read(ctx, resource.ReadRequest{Config: cfg})
				if err != nil {
					t.Fatal(err)
				}
				reads[i] = r
			}
			var wg sync.WaitGroup
			for i, cfg := range cfgs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := reads[i]
					plan, err := m.Plan(ctx, resource.PlanRequest{Config: cfg, Current: r.Current, Snapshot: r.Snapshot})
					if err != nil {
						errs[i] = err
						return
					}
					j := &resourcetest.Journal{}
					_, errs[i] = m.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: r.Current, Planned: plan.Planned, Snapshot: r.Snapshot, Journal: j})
					done[i] = applied{r.Snapshot, j.Entries()}
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if (err != nil) != tc.wantErr[i] {
					t.Errorf("map %d: error %v, want error: %v", i, err, tc.wantErr[i])
				}
				if err != nil && !errors.Is(err, errInjected) {
					t.Errorf("map %d: error does not wrap the injected one: %v", i, err)
				}
			}
			t.Logf("postconf -e commands: %q", f.edits)
			if len(f.edits) == 0 || len(f.edits[0]) != 2 {
				t.Errorf("the first postconf -e did not set both parameters of the batch: %q", f.edits)
			}
			for i, want := range tc.wantErr {
				got := mainCFParam(t, pf, []string{"transport_maps", "transport_maps", "smtp_generic_maps"}[i])
				listed := strings.Contains(got, "batch_"+[]string{"a", "b", "c"}[i])
				if listed == want {
					t.Errorf("map %d listed: %v, want %v (%q)", i, listed, !want, got)
				}
			}
			f.fail = func([]string) bool { return false }
			for _, i := range []int{1, 0, 2} {
				req := resource.RestoreRequest{Config: cfgs[i], Snapshot: done[i].snapshot, Journal: done[i].journal}
				if err := m.Restore(ctx, req); err != nil {
					t.Fatalf("restore %d: %v", i, err)
				}
			}
			if diff := cmp.Diff(string(before), string(observe(pf)(t))); diff != "" {
				t.Errorf("after the restores (-before +after):\n%s", diff)
			}
		})
	}
}
