package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mailplan/mailplan/engine/exec"
)

const interruptPlan = `
variable "data" { type = string }
resource "fake_file" "a" {
  path    = "${var.data}/a"
  content = "new a"
}
resource "fake_file" "b" {
  path       = "${var.data}/b"
  content    = "new b"
  depends_on = [fake_file.a]
}
resource "fake_file" "c" {
  path       = "${var.data}/c"
  content    = "new c"
  depends_on = [fake_file.b]
}
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

// A second interrupt abandons the apply at once; the state it leaves lets
// `mailplan rollback` undo what was done.
func TestHardInterruptLeavesRollbackableState(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
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
	e := newTestEngine(ff)
	opts := Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Stop: stop}
	s, d := e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	p, d := s.Plan(context.Background())
	mustNoDiags(t, d)
	if _, err := s.Apply(ctx, p); err == nil {
		t.Fatal("apply succeeded after a hard interrupt")
	}
	s.Close()

	// The next run sees an unfinished apply and rolls it back.
	opts.Stop = nil
	s, d = e.Open(context.Background(), opts)
	mustNoDiags(t, d)
	defer s.Close()
	if s.State.LastApply == nil || s.State.LastApply.Status != "running" {
		t.Fatalf("last apply status = %+v", s.State.LastApply)
	}
	if _, err := s.Apply(context.Background(), p); err == nil {
		t.Error("apply over an unfinished apply was not refused")
	}
	if _, err := s.Rollback(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "a")); string(b) != "old a" {
		t.Errorf("a = %q after rollback", b)
	}
	for _, n := range []string{"b", "c"} {
		if _, err := os.Stat(filepath.Join(data, n)); !os.IsNotExist(err) {
			t.Errorf("%s exists", n)
		}
	}
}
