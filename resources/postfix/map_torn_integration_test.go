package postfix_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
)

// hookHosts hands out hosts that call after once a command has run, the
// way another run's change lands between two commands of this one.
type hookHosts struct {
	hosts postfix.Hosts
	after func(argv []string)
}

func (g *hookHosts) Get(ctx context.Context, h resource.Host) (transport.Host, error) {
	th, err := g.hosts.Get(ctx, h)
	if err != nil {
		return nil, err
	}
	return &hookHost{Host: th, after: g.after}, nil
}

type hookHost struct {
	transport.Host
	after func(argv []string)
}

// Unwrap lets transport.HostLock reach the lock of the host underneath.
func (h *hookHost) Unwrap() transport.Host { return h.Host }

func (h *hookHost) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	res, err := h.Host.Run(ctx, argv, opts)
	if err == nil && h.after != nil {
		h.after(argv)
	}
	return res, err
}

// TestMapDestroyKeepsOtherRunsTable: two runs (two processes, two states)
// add their tables to transport_maps, which main.cf does not set. Run A's
// Read, which holds no host lock, learns in two commands whether main.cf
// sets the parameter and what it is then; run B's apply lands between
// them. A's destroy, with nothing but that snapshot, must leave B's table
// listed: it once read the parameter's "default" with postconf -h, got
// B's value, and put "not set" back with postconf -X, taking B's table
// out with its own (TestTwoRunsLoopOneMainCF in CI: a run's table was not
// listed right after its apply). A snapshot an earlier version recorded
// that way must not do it either. After both destroys main.cf is byte for
// byte what it was.
func TestMapDestroyKeepsOtherRunsTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pf := testbed.Postfix(t, testbed.PostfixOptions{Name: "new", Addr: "127.0.0.3"})
	if got := pf.Postconf(t, "-n", "transport_maps"); got != "" {
		t.Fatalf("main.cf sets transport_maps: %q", got)
	}
	before := observe(pf)(t)
	srv := testbed.SSHD(t)
	pool := resourcetest.Pool(t)
	// A over SSH, B locally: their edit locks in this process are per
	// host and instance, so neither waits for the other here, as two
	// processes would not; on the host both take the same flock.
	hooked := &hookHosts{hosts: pool}
	a, b := postfix.NewMap(hooked), postfix.NewMap(pool)
	cfg := func(m *postfix.Map, h resource.Host, name string) cty.Value {
		return mapConfig(t, m, h, pf, map[string]cty.Value{
			"path": cty.StringVal(filepath.Join(pf.ConfigDir, "torn_"+name)), "type": cty.StringVal("texthash"),
			"entries":   entries(name+".example", "smtp:[127.0.0.9]"),
			"parameter": cty.StringVal("transport_maps"), "reload": cty.False,
		})
	}
	cfgA, cfgB := cfg(a, srv.Host, "a"), cfg(b, localHost, "b")
	entryA, entryB := "texthash:"+filepath.Join(pf.ConfigDir, "torn_a"), "texthash:"+filepath.Join(pf.ConfigDir, "torn_b")

	apply := func(t *testing.T, m *postfix.Map, cfg cty.Value, r resource.ReadResponse, plan resource.PlanResponse) {
		t.Helper()
		if _, err := m.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: r.Current, Planned: plan.Planned, Snapshot: r.Snapshot, Journal: &resourcetest.Journal{}}); err != nil {
			t.Fatal(err)
		}
	}
	applyB := func(t *testing.T) []byte {
		t.Helper()
		r, plan := resourcetest.ReadPlan(ctx, t, b, cfgB)
		apply(t, b, cfgB, r, plan)
		return r.Snapshot
	}
	destroy := func(t *testing.T, m *postfix.Map, cfg cty.Value, snapshot []byte) {
		t.Helper()
		if err := m.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: snapshot}); err != nil {
			t.Fatal(err)
		}
	}
	listed := func(t *testing.T) []string {
		t.Helper()
		return splitComma(mainCFParam(t, pf, "transport_maps"))
	}
	// cycle applies A and B, destroys A with the snapshot snapA makes of
	// what its Read returned, then B; between the destroys only B's table
	// is listed, after them main.cf is what it was.
	cycle := func(t *testing.T, readA func() (resource.ReadResponse, resource.PlanResponse, []byte), snapA func([]byte) []byte) {
		t.Helper()
		rA, planA, snapB := readA()
		apply(t, a, cfgA, rA, planA)
		if got := listed(t); !slices.Contains(got, entryA) || !slices.Contains(got, entryB) {
			t.Fatalf("after both applies transport_maps is %v, want both tables", got)
		}
		destroy(t, a, cfgA, snapA(rA.Snapshot))
		if got := listed(t); !slices.Equal(got, []string{entryB}) {
			t.Errorf("after A's destroy transport_maps is %v, want B's table alone", got)
		}
		destroy(t, b, cfgB, snapB)
		if diff := cmp.Diff(string(before), string(observe(pf)(t))); diff != "" {
			t.Fatalf("after both destroys (-before +after):\n%s", diff)
		}
	}

	t.Run("apply between the reads of a snapshot", func(t *testing.T) {
		cycle(t, func() (resource.ReadResponse, resource.PlanResponse, []byte) {
			var once sync.Once
			var snapB []byte
			hooked.after = func(argv []string) {
				// Right after A's postconf -n found the parameter unset.
				if slices.Contains(argv, "-n") && argv[len(argv)-1] == "transport_maps" {
					once.Do(func() { snapB = applyB(t) })
				}
			}
			defer func() { hooked.after = nil }()
			rA, planA := resourcetest.ReadPlan(ctx, t, a, cfgA)
			if snapB == nil {
				t.Fatal("A's Read ran no postconf -n transport_maps")
			}
			return rA, planA, snapB
		}, func(s []byte) []byte { return s })
	})

	t.Run("snapshot recorded with another run's value as the default", func(t *testing.T) {
		cycle(t, func() (resource.ReadResponse, resource.PlanResponse, []byte) {
			snapB := applyB(t)
			rA, planA := resourcetest.ReadPlan(ctx, t, a, cfgA)
			return rA, planA, snapB
		}, func(s []byte) []byte {
			// What an earlier version's Read recorded when B's apply
			// landed between its postconf -n and postconf -h.
			var snap map[string]any
			if err := json.Unmarshal(s, &snap); err != nil {
				t.Fatal(err)
			}
			snap["param"] = map[string]any{"name": "transport_maps", "set": false, "default": entryB}
			delete(snap, "live")
			out, err := json.Marshal(snap)
			if err != nil {
				t.Fatal(err)
			}
			return out
		})
	})
}
