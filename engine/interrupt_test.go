package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/states"
)

var interruptPlan = `
variable "data" { type = string }` + fileRes("a", "a", "new a") + fileRes("b", "b", "new b", "fake_file.a") + fileRes("c", "c", "new c", "fake_file.b") + `
`

// A first interrupt lets the resource in flight finish, starts nothing new,
// and rolls back what was done.
func TestInterruptRollsBack(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(data, "a"), []byte("old a"), 0o644)
	writePlan(t, dir, interruptPlan)
	stop := make(chan struct{})
	var once sync.Once
	ff := &fakeFile{onApply: func(path string) {
		if filepath.Base(path) == "b" {
			once.Do(func() { close(stop) })
		}
	}}
	e := newTestEngine(ff)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Stop: stop}
	_, err := applyDir(t, e, opts)
	if !errors.Is(err, exec.ErrInterrupted) {
		t.Fatalf("err = %v, want interrupted", err)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "a")); string(b) != "old a" {
		t.Errorf("a = %q after rollback", b)
	}
	for _, n := range []string{"b", "c"} {
		if _, err := os.Stat(filepath.Join(data, n)); !os.IsNotExist(err) {
			t.Errorf("%s exists", n)
		}
	}
	for _, op := range ff.order {
		if op == "apply c" {
			t.Error("c was started after the interrupt")
		}
	}
}

// hardInterrupt applies interruptPlan and abandons it at once (a second
// Ctrl-C, or a kill) while b is being applied, as a SIGKILL would leave it.
func hardInterrupt(t *testing.T) (e *Engine, opts Options, data string) {
	t.Helper()
	dir := t.TempDir()
	data = t.TempDir()
	os.WriteFile(filepath.Join(data, "a"), []byte("old a"), 0o644)
	writePlan(t, dir, interruptPlan)
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	var once sync.Once
	ff := &fakeFile{onApply: func(path string) {
		if filepath.Base(path) == "b" {
			once.Do(func() { close(stop); cancel() })
		}
	}}
	e = newTestEngine(ff)
	opts = Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Stop: stop}
	s, d := e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	p, d := s.Plan(context.Background())
	mustNoDiags(t, d)
	if _, err := s.Apply(ctx, p); err == nil {
		t.Fatal("apply succeeded after a hard interrupt")
	}
	s.Close()
	opts.Stop = nil
	return e, opts, data
}

func readData(data, name string) string {
	b, err := os.ReadFile(filepath.Join(data, name))
	if err != nil {
		return "(absent)"
	}
	return string(b)
}

// checkBack asserts that the data directory is as before the first apply.
func checkBack(t *testing.T, data string) {
	t.Helper()
	for name, want := range map[string]string{"a": "old a", "b": "(absent)", "c": "(absent)"} {
		if got := readData(data, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// A second interrupt abandons the apply at once; the state it leaves lets
// `mailplan rollback` undo what was done, with the drift check on (the
// interrupted change is mailplan's own).
func TestHardInterruptLeavesRollbackableState(t *testing.T) {
	e, opts, data := hardInterrupt(t)
	s, d := e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	if s.State.LastApply == nil || s.State.LastApply.Status != "running" {
		t.Fatalf("last apply status = %+v", s.State.LastApply)
	}
	if _, err := s.Rollback(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkBack(t, data)
	s, d = e.OpenState(context.Background(), opts, false)
	mustNoDiags(t, d)
	if st := s.State.LastApply.Status; st != "rolled_back" {
		t.Errorf("status after rollback = %s", st)
	}
	if len(s.State.Resources) != 0 {
		t.Errorf("state still manages %d resources", len(s.State.Resources))
	}
}

// An apply after an interrupted one continues it: the plan says so, the
// apply finishes, and a later rollback or destroy still puts back what was
// there before both.
func TestContinueInterruptedApply(t *testing.T) {
	for _, then := range []string{"rollback", "destroy"} {
		t.Run(then, func(t *testing.T) {
			e, opts, data := hardInterrupt(t)
			s, d := e.Open(context.Background(), opts)
			mustNoDiags(t, d)
			p, d := s.Plan(context.Background())
			mustNoDiags(t, d)
			if !p.Plan.Continues || !strings.Contains(d.Error(), "continues") {
				t.Errorf("plan does not say it continues: Continues=%v, diags %q", p.Plan.Continues, d.Error())
			}
			if _, err := s.Apply(context.Background(), p); err != nil {
				t.Fatalf("continuing apply: %v", err)
			}
			s.Close()
			for _, n := range []string{"a", "b", "c"} {
				if got := readData(data, n); got != "new "+n {
					t.Errorf("%s = %q after the continuing apply", n, got)
				}
			}
			// A second apply has nothing to do.
			s, d = e.Open(context.Background(), opts)
			mustNoDiags(t, d)
			p, d = s.Plan(context.Background())
			mustNoDiags(t, d)
			if p.Plan.NeedsApply() || s.State.LastApply.Status != "applied" {
				t.Errorf("after the continuing apply: needs apply %v, status %s", p.Plan.NeedsApply(), s.State.LastApply.Status)
			}
			s.Close()
			if then == "rollback" {
				s, d = e.Open(context.Background(), opts)
				mustNoDiags(t, d)
				if _, err := s.Rollback(context.Background(), false); err != nil {
					t.Fatal(err)
				}
				s.Close()
			} else {
				o := opts
				o.Destroy = true
				if _, err := applyDir(t, e, o); err != nil {
					t.Fatal(err)
				}
			}
			checkBack(t, data)
		})
	}
}

// A kill right after the journal's first record, before any change: the
// state is never stuck. rollback closes the empty journal; so does apply.
func TestEmptyInterruptedJournal(t *testing.T) {
	for _, next := range []string{"rollback", "apply"} {
		t.Run(next, func(t *testing.T) {
			dir, data := t.TempDir(), t.TempDir()
			writePlan(t, dir, interruptPlan)
			e := newTestEngine(&fakeFile{})
			opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}}
			s, d := e.Open(context.Background(), opts)
			mustNoDiags(t, d)
			s.State.LastApply = &states.Apply{ID: "x", Operation: "apply", Status: states.StatusRunning}
			if err := s.Backend.Write(context.Background(), s.State); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, d = e.Open(context.Background(), opts)
			mustNoDiags(t, d)
			if next == "rollback" {
				changes, _, err := s.CheckRollback(context.Background())
				if err != nil || len(changes) != 0 {
					t.Fatalf("check rollback: %v %v", changes, err)
				}
				if _, err := s.Rollback(context.Background(), false); err != nil {
					t.Fatal(err)
				}
			} else {
				p, d := s.Plan(context.Background())
				mustNoDiags(t, d)
				if _, err := s.Apply(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			s, d = e.OpenState(context.Background(), opts, false)
			mustNoDiags(t, d)
			want := map[string]string{"rollback": "rolled_back", "apply": "applied"}[next]
			if got := s.State.LastApply.Status; got != want {
				t.Errorf("status %s, want %s", got, want)
			}
			// And destroy is allowed again.
			o := opts
			o.Destroy = true
			if _, err := applyDir(t, e, o); err != nil {
				t.Fatal(err)
			}
		})
	}
}
