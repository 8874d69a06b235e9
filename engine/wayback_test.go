package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/resource"
)

// wayBackPlan: b depends on a; c stands alone. b has a hook of every
// kind, which the recording hook runner notes.
var wayBackPlan = `
variable "data" { type = string }
variable "v" {
  type    = string
  default = "v1"
}
host "here" { transport = "local" }` + fileRes("a", "a", "a ${var.v}") + `
resource "fake_file" "b" {
  path       = "${var.data}/b"
  content    = "b ${var.v}"
  depends_on = [fake_file.a]
` + hookBlocks("b") + `}` + fileRes("c", "c", "c ${var.v}") + `
`

// hookBlocks is a hook of every kind on host.here, each running its kind
// and name, for the resource name.
func hookBlocks(name string) string {
	var b strings.Builder
	for _, kind := range []string{"before_apply", "after_apply", "before_destroy", "after_destroy", "on_rollback"} {
		fmt.Fprintf(&b, "  hook %q {\n    host    = host.here\n    command = [%q, %q]\n  }\n", kind, kind, name)
	}
	return b.String()
}

// hookLog records the hooks that ran; fail makes the named one fail.
type hookLog struct {
	mu   sync.Mutex
	ran  []string
	fail map[string]bool
}

func (h *hookLog) RunHook(ctx context.Context, host resource.Host, argv []string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	name := strings.Join(argv, " ")
	h.ran = append(h.ran, name)
	if h.fail[name] {
		return nil, errors.New("exit status 1")
	}
	return nil, nil
}

func (h *hookLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.ran
	h.ran = nil
	return r
}

type wayBack struct {
	e     *Engine
	ff    *fakeFile
	hooks *hookLog
	opts  Options
	data  string
}

func newWayBack(t *testing.T) *wayBack {
	dir, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(data, "a"), []byte("old a"), 0o644)
	writePlan(t, dir, wayBackPlan)
	w := &wayBack{ff: &fakeFile{failRestore: map[string]bool{}}, hooks: &hookLog{fail: map[string]bool{}}, data: data}
	w.e = newTestEngine(w.ff)
	w.e.Hooks = w.hooks
	w.opts = Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Parallelism: 1}
	return w
}

func (w *wayBack) files() map[string]string {
	out := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		out[n] = readData(w.data, n)
	}
	return out
}

// appliedTwice is a wayBack applied with v=v1, then v=v2.
func appliedTwice(t *testing.T) *wayBack {
	t.Helper()
	w := newWayBack(t)
	w.mustApply(t)
	w.mustApply(t, "v=v2")
	return w
}

// mustApply applies with vars and fails the test when that fails.
func (w *wayBack) mustApply(t *testing.T, vars ...string) {
	t.Helper()
	if _, err := w.apply(t, false, vars...); err != nil {
		t.Fatal(err)
	}
}

// checkFiles compares the data files with want, after what happened.
func (w *wayBack) checkFiles(t *testing.T, after string, want map[string]string) {
	t.Helper()
	if diff := cmp.Diff(want, w.files()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", after, diff)
	}
}

func (w *wayBack) apply(t *testing.T, destroy bool, vars ...string) (*exec.ApplyReport, error) {
	t.Helper()
	o := w.opts
	o.Destroy = destroy
	for _, v := range vars {
		o.Vars = append(o.Vars, VarArg{Value: v})
	}
	ctx := context.Background()
	s, p, _ := openPlan(t, w.e, o)
	defer s.Close()
	return s.Apply(ctx, p)
}

func (w *wayBack) rollback(t *testing.T, force bool) (*exec.ApplyReport, error) {
	t.Helper()
	s, d := w.e.Open(context.Background(), w.opts)
	mustNoDiags(t, d)
	defer s.Close()
	return s.Rollback(context.Background(), force)
}

func (w *wayBack) status(t *testing.T) (string, []string) {
	t.Helper()
	s, d := w.e.OpenState(context.Background(), w.opts, false)
	mustNoDiags(t, d)
	var addrs []string
	for a := range s.State.Resources {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	return s.State.LastApply.Status, addrs
}

func errAddrs(errs []exec.ResourceError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Addr)
	}
	return out
}

// Hooks say when they run: before_apply/after_apply on create and update,
// before_destroy/after_destroy on destroy, on_rollback on rollback.
func TestHooksByOperation(t *testing.T) {
	w := newWayBack(t)
	w.mustApply(t)
	if diff := cmp.Diff([]string{"before_apply b", "after_apply b"}, w.hooks.take()); diff != "" {
		t.Errorf("create hooks (-want +got):\n%s", diff)
	}
	w.mustApply(t, "v=v2")
	w.hooks.take()
	if _, err := w.rollback(t, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"on_rollback b"}, w.hooks.take()); diff != "" {
		t.Errorf("rollback hooks (-want +got):\n%s", diff)
	}
	// A before_apply that would fail (the new server is dead) does not
	// run on destroy.
	w.hooks.fail["before_apply b"] = true
	if _, err := w.apply(t, true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"before_destroy b", "after_destroy b"}, w.hooks.take()); diff != "" {
		t.Errorf("destroy hooks (-want +got):\n%s", diff)
	}
	w.checkFiles(t, "after destroy", map[string]string{"a": "old a", "b": "(absent)", "c": "(absent)"})
}

// A destroy whose step fails never re-applies what it already took back:
// it takes back everything that does not wait for the failed resource,
// says what is left, and the same command later finishes the rest.
func TestDestroyNeverTurnsAround(t *testing.T) {
	for _, fail := range []string{"restore", "before_destroy", "after_destroy"} {
		t.Run(fail, func(t *testing.T) {
			w := newWayBack(t)
			w.mustApply(t)
			switch fail {
			case "restore":
				w.ff.failRestore[filepath.Join(w.data, "b")] = true
			default:
				w.hooks.fail[fail+" b"] = true
			}
			rep, err := w.apply(t, true)
			if err == nil || !strings.Contains(err.Error(), "destroy") || strings.Contains(err.Error(), "apply") {
				t.Fatalf("destroy error = %v, want one naming the destroy", err)
			}
			if diff := cmp.Diff([]string{"fake_file.b"}, errAddrs(rep.Failed)); diff != "" {
				t.Errorf("failed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"fake_file.a"}, errAddrs(rep.Left)); diff != "" {
				t.Errorf("left (-want +got):\n%s", diff)
			}
			if len(rep.Left) == 1 && !strings.Contains(rep.Left[0].Err.Error(), "fake_file.b") {
				t.Errorf("left a for %q, want the reason to name fake_file.b", rep.Left[0].Err)
			}
			if len(rep.RolledBack) > 0 {
				t.Errorf("destroy rolled back %v", rep.RolledBack)
			}
			// c is gone and stays gone; a is still mailplan's.
			files := w.files()
			if files["c"] != "(absent)" || files["a"] != "a v1" {
				t.Errorf("after the failed destroy: %v", files)
			}
			status, managed := w.status(t)
			if status != "incomplete" || strings.Join(managed, " ") != "fake_file.a fake_file.b" {
				t.Errorf("state: status %s, managing %v", status, managed)
			}
			// The cause fixed, the same command finishes.
			delete(w.ff.failRestore, filepath.Join(w.data, "b"))
			delete(w.hooks.fail, fail+" b")
			if _, err := w.apply(t, true); err != nil {
				t.Fatalf("second destroy: %v", err)
			}
			w.checkFiles(t, "after the second destroy", map[string]string{"a": "old a", "b": "(absent)", "c": "(absent)"})
			if _, managed := w.status(t); len(managed) != 0 {
				t.Errorf("state still manages %v", managed)
			}
		})
	}
}

// A rollback whose step fails (an outage) records what it restored; once
// the host is back, `rollback` without -force finishes the rest, with the
// drift check still on for what it did not touch.
func TestRollbackRetryAfterOutage(t *testing.T) {
	w := appliedTwice(t)
	w.ff.failRestore[filepath.Join(w.data, "b")] = true
	rep, err := w.rollback(t, false)
	if err == nil {
		t.Fatal("rollback succeeded with b's host down")
	}
	if diff := cmp.Diff([]string{"fake_file.b"}, errAddrs(rep.RollbackErrors)); diff != "" {
		t.Errorf("rollback errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"fake_file.a"}, errAddrs(rep.Left)); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
	w.checkFiles(t, "after the failed rollback", map[string]string{"a": "a v2", "b": "b v2", "c": "c v1"})
	if status, _ := w.status(t); status != "rollback_failed" {
		t.Errorf("status %s", status)
	}
	// Host back. The retry restores only b and a: c is not restored twice.
	delete(w.ff.failRestore, filepath.Join(w.data, "b"))
	w.ff.order = nil
	if _, err := w.rollback(t, false); err != nil {
		t.Fatalf("retried rollback: %v", err)
	}
	if diff := cmp.Diff([]string{"restore b", "restore a"}, w.ff.order); diff != "" {
		t.Errorf("retry restored (-want +got):\n%s", diff)
	}
	w.checkFiles(t, "after the retried rollback", map[string]string{"a": "a v1", "b": "b v1", "c": "c v1"})
	if status, _ := w.status(t); status != "rolled_back" {
		t.Errorf("status %s", status)
	}
}

// The retry still refuses a resource someone really changed, and only it.
func TestRollbackRetryKeepsDriftCheck(t *testing.T) {
	w := appliedTwice(t)
	w.ff.failRestore[filepath.Join(w.data, "b")] = true
	if _, err := w.rollback(t, false); err == nil {
		t.Fatal("rollback succeeded with b's host down")
	}
	delete(w.ff.failRestore, filepath.Join(w.data, "b"))
	os.WriteFile(filepath.Join(w.data, "a"), []byte("hand edit"), 0o644)
	_, err := w.rollback(t, false)
	var drift *exec.DriftError
	if !errors.As(err, &drift) || strings.Join(drift.Addrs, " ") != "fake_file.a" {
		t.Fatalf("err = %v, want drift of fake_file.a only", err)
	}
}

// An apply that fails rolls back; when that rollback fails too, the next
// `rollback` finishes it without -force.
func TestApplyRollbackFailsThenRetry(t *testing.T) {
	w := newWayBack(t)
	w.mustApply(t)
	w.ff.failOn = map[string]bool{filepath.Join(w.data, "c"): true}
	w.ff.failRestore[filepath.Join(w.data, "b")] = true
	rep, err := w.apply(t, false, "v=v2")
	if err == nil {
		t.Fatal("apply succeeded")
	}
	if len(rep.RollbackErrors) == 0 {
		t.Fatalf("no rollback error: %+v", rep)
	}
	w.ff.failOn = nil
	delete(w.ff.failRestore, filepath.Join(w.data, "b"))
	if _, err := w.rollback(t, false); err != nil {
		t.Fatalf("retried rollback: %v", err)
	}
	w.checkFiles(t, "after the retried rollback", map[string]string{"a": "a v1", "b": "b v1", "c": "c v1"})
}

// What is already as the rollback would put it back (the dead server's
// service stopped, as it was before the apply) is not drift: nobody's
// change would be overwritten.
func TestRollbackAlreadyBackIsNotDrift(t *testing.T) {
	w := appliedTwice(t)
	os.WriteFile(filepath.Join(w.data, "c"), []byte("c v1"), 0o644)
	if _, err := w.rollback(t, false); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	w.checkFiles(t, "after the rollback", map[string]string{"a": "a v1", "b": "b v1", "c": "c v1"})
}
