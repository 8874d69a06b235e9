package postfix_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
)

// TestMapsShareParameterRollback applies two maps that add themselves to
// one parameter of one instance and restores both, in every order the
// engine may (issue 10, item 5): a rollback restores changes in the order
// they were journalled, which need not be the order in which the maps
// edited main.cf, and a destroy restores them from their snapshots alone,
// in any order. Whatever the order, main.cf must come back byte for byte:
// for a parameter main.cf sets (in a hand-written form), for one it does
// not set whose default is empty, and for one whose default is not
// (virtual_alias_maps = $virtual_maps). Set MAILPLAN_SHARE_ROUNDS to run
// more rounds of every combination.
func TestMapsShareParameterRollback(t *testing.T) {
	t.Parallel()
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("MAILPLAN_SHARE_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	params := []struct {
		name, parameter string
		set             bool // start from instance(), whose main.cf sets transport_maps
		wantDefault     string
	}{
		{"transport_maps set", "transport_maps", true, ""},
		{"transport_maps unset", "transport_maps", false, ""},
		{"virtual_alias_maps at its default", "virtual_alias_maps", false, "$virtual_maps"},
	}
	for _, pc := range params {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			var pf *testbed.PostfixInstance
			if pc.set {
				pf = instance(t, "old", "127.0.0.2")
			} else {
				pf = testbed.Postfix(t, testbed.PostfixOptions{Name: "new", Addr: "127.0.0.3"})
				if got := pf.Postconf(t, "-n", pc.parameter); got != "" {
					t.Fatalf("main.cf sets %s: %q", pc.parameter, got)
				}
				if got := mainCFParam(t, pf, pc.parameter); got != pc.wantDefault {
					t.Fatalf("%s defaults to %q, want %q", pc.parameter, got, pc.wantDefault)
				}
			}
			s := newShareCycle(t, pf, pc.parameter)
			failed, cycles := 0, 0
			for round := 0; round < rounds; round++ {
				for _, sched := range shareSchedules {
					for _, undo := range shareUndos {
						cycles++
						if !s.cycle(t, sched, undo) {
							failed++
						}
					}
				}
			}
			t.Logf("%s: %d of %d apply→restore cycles ended with different bytes", pc.name, failed, cycles)
		})
	}
}

// shareSchedules are the ways the engine's walk may interleave the two
// maps' Read (the snapshot) and Apply: one after the other, both read
// before either applies, or both at once.
var shareSchedules = []string{"A then B", "both read, then A and B applied", "at once"}

// shareUndos are the ways the two changes may be undone: a rollback with
// the journal, or a destroy with the snapshot alone (what became the
// original), each in both orders.
var shareUndos = []shareUndo{
	{"rollback A then B", []int{0, 1}, true},
	{"rollback B then A", []int{1, 0}, true},
	{"destroy A then B", []int{0, 1}, false},
	{"destroy B then A", []int{1, 0}, false},
}

type shareUndo struct {
	name    string
	order   []int // of the maps, A being 0
	journal bool  // false: the snapshots alone
}

type shareCycle struct {
	pf     *testbed.PostfixInstance
	m      *postfix.Map
	cfgs   []cty.Value
	before []byte // observe
	mainCF []byte // main.cf before, to put back after a failed cycle
}

func newShareCycle(t *testing.T, pf *testbed.PostfixInstance, parameter string) *shareCycle {
	m := postfix.NewMap(newCounter(t))
	s := &shareCycle{pf: pf, m: m}
	for i, name := range []string{"a", "b"} {
		s.cfgs = append(s.cfgs, mapConfig(t, m, localHost, pf, map[string]cty.Value{
			"path": cty.StringVal(filepath.Join(pf.ConfigDir, "share_"+name)), "type": cty.StringVal("texthash"),
			"entries":   entries(name+".example.com", "error:"+name),
			"parameter": cty.StringVal(parameter), "position": cty.StringVal([]string{"first", "last"}[i]),
			"reload": cty.False,
		}))
	}
	s.before = observe(pf)(t)
	var err error
	if s.mainCF, err = os.ReadFile(filepath.Join(pf.ConfigDir, "main.cf")); err != nil {
		t.Fatal(err)
	}
	return s
}

// cycle applies both maps as sched says, undoes them as undo says and
// reports whether the instance came back byte for byte; when not, it puts
// main.cf back for the next cycle.
func (s *shareCycle) cycle(t *testing.T, sched string, undo shareUndo) bool {
	t.Helper()
	ctx := context.Background()
	type applied struct {
		snapshot []byte
		journal  [][]byte
	}
	done := make([]applied, 2)
	read := func(i int) resource.ReadResponse {
		r, err := s.m.Read(ctx, resource.ReadRequest{Config: s.cfgs[i]})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	apply := func(i int, r resource.ReadResponse) error {
		plan, err := s.m.Plan(ctx, resource.PlanRequest{Config: s.cfgs[i], Current: r.Current, Snapshot: r.Snapshot})
		if err != nil {
			return err
		}
		j := &resourcetest.Journal{}
		_, err = s.m.Apply(ctx, resource.ApplyRequest{Config: s.cfgs[i], Current: r.Current, Planned: plan.Planned, Snapshot: r.Snapshot, Journal: j})
		done[i] = applied{r.Snapshot, j.Entries()}
		return err
	}
	switch sched {
	case "A then B":
		for i := range 2 {
			if err := apply(i, read(i)); err != nil {
				t.Fatal(err)
			}
		}
	case "both read, then A and B applied":
		ra, rb := read(0), read(1)
		if err := errors.Join(apply(0, ra), apply(1, rb)); err != nil {
			t.Fatal(err)
		}
	default:
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.m.Read(ctx, resource.ReadRequest{Config: s.cfgs[i]})
				if err == nil {
					err = apply(i, r)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range undo.order {
		req := resource.RestoreRequest{Config: s.cfgs[i], Snapshot: done[i].snapshot}
		if undo.journal {
			req.Journal = done[i].journal
		}
		if err := s.m.Restore(ctx, req); err != nil {
			t.Fatalf("%s, %s: %v", sched, undo.name, err)
		}
	}
	mainCF := filepath.Join(s.pf.ConfigDir, "main.cf")
	if diff := cmp.Diff(string(s.before), string(observe(s.pf)(t))); diff != "" {
		t.Errorf("%s, %s (-before +after):\n%s", sched, undo.name, diff)
		if err := os.WriteFile(mainCF, s.mainCF, 0o644); err != nil {
			t.Fatal(err)
		}
		backdate(t, mainCF)
		return false
	}
	backdate(t, mainCF)
	return true
}
