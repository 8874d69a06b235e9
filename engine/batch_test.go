package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// fakeListed is a test Batcher, shaped like a postfix_map: a file of its
// own (the table), and a line (the entry) in a shared list file (main.cf)
// that the instances on one list add in one write (FinishBatch). It logs
// its steps into the fakeFile's order and can fail at each.
type fakeListed struct {
	ff *fakeFile
	// fail names steps ("apply x", "finish x" for entry x) that fail.
	fail map[string]bool
	// onStep, when set, is called at the start of each step.
	onStep func(step string)
	// writes counts the writes of each list file.
	writes map[string]int
	// listMu is the lock on the list files, as Postfix's edit lock.
	listMu sync.Mutex
}

var (
	_ resource.Type    = (*fakeListed)(nil)
	_ resource.Batcher = (*fakeListed)(nil)
)

func (l *fakeListed) Name() string { return "fake_listed" }

func (l *fakeListed) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{
		"path":    {Type: cty.String, Required: true, ForceNew: true, ShowUnchanged: true},
		"content": {Type: cty.String, Required: true},
		"list":    {Type: cty.String, Required: true},
		"entry":   {Type: cty.String, Required: true},
	}}
}

func attr(v cty.Value, name string) string {
	a, _ := v.GetAttr(name).Unmark()
	return a.AsString()
}

func (l *fakeListed) step(s string) error {
	if l.onStep != nil {
		l.onStep(s)
	}
	l.ff.mu.Lock()
	defer l.ff.mu.Unlock()
	l.ff.order = append(l.ff.order, s)
	if l.fail[s] {
		return errors.New("injected " + s + " failure")
	}
	return nil
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func (l *fakeListed) writeList(path string, lines []string) error {
	l.ff.mu.Lock()
	l.writes[filepath.Base(path)]++
	l.ff.mu.Unlock()
	s := strings.Join(lines, "\n")
	if s != "" {
		s += "\n"
	}
	// Whole or not at all, as main.cf: a Read beside it sees one or
	// the other.
	if err := os.WriteFile(path+".new", []byte(s), 0o644); err != nil {
		return err
	}
	return os.Rename(path+".new", path)
}

func (l *fakeListed) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	path, list, entry := attr(req.Config, "path"), attr(req.Config, "list"), attr(req.Config, "entry")
	listed := slices.Contains(readLines(list), entry)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		snap, _ := json.Marshal(listedSnap{Listed: listed})
		return resource.ReadResponse{Current: cty.NullVal(l.Schema().ImpliedType()), Snapshot: snap}, nil
	}
	if err != nil {
		return resource.ReadResponse{}, err
	}
	if !listed {
		entry = ""
	}
	snap, _ := json.Marshal(listedSnap{fakeSnap{Exists: true, Content: string(b)}, listed})
	cur := cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(path), "content": cty.StringVal(string(b)), "list": cty.StringVal(list), "entry": cty.StringVal(entry),
	})
	return resource.ReadResponse{Current: cur, Snapshot: snap}, nil
}

func (l *fakeListed) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	return resource.PlanResponse{Planned: req.Config}, nil
}

// listedSnap is a fakeListed's snapshot: its file, and whether the list
// had its entry.
type listedSnap struct {
	fakeSnap
	Listed bool `json:"listed"`
}

// listItem is what an Apply leaves to FinishBatch.
type listItem struct {
	j           resource.Journal
	list, entry string
}

func (l *fakeListed) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	path, entry := attr(req.Planned, "path"), attr(req.Planned, "entry")
	if err := l.step("apply " + entry); err != nil {
		return resource.ApplyResponse{}, err
	}
	if err := os.WriteFile(path, []byte(attr(req.Planned, "content")), 0o644); err != nil {
		return resource.ApplyResponse{}, err
	}
	it := &listItem{j: req.Journal, list: attr(req.Planned, "list"), entry: entry}
	if req.Batch != nil {
		req.Batch.Defer(it)
		return resource.ApplyResponse{}, nil
	}
	return resource.ApplyResponse{}, l.FinishBatch(ctx, []any{it})[0]
}

func (l *fakeListed) BatchKey(config cty.Value) string {
	return "fake_listed\x00" + attr(config, "list")
}

// reloadItem is what a Restore leaves to FinishBatch: the list's reload.
type reloadItem struct{ list string }

func (l *fakeListed) FinishBatch(ctx context.Context, items []any) []error {
	errs := make([]error, len(items))
	if r, ok := items[0].(*reloadItem); ok {
		err := l.step("reload " + filepath.Base(r.list))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	first := items[0].(*listItem)
	var names []string
	for _, it := range items {
		names = append(names, it.(*listItem).entry)
	}
	if err := l.step("finish " + strings.Join(names, ",")); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	l.listMu.Lock()
	defer l.listMu.Unlock()
	lines := readLines(first.list)
	for i, it := range items {
		li := it.(*listItem)
		if l.fail["finish "+li.entry] {
			errs[i] = errors.New("injected finish " + li.entry + " failure")
			continue
		}
		if slices.Contains(lines, li.entry) {
			continue
		}
		if err := li.j.Record(ctx, []byte(`"added"`)); err != nil {
			errs[i] = err
			continue
		}
		lines = append(lines, li.entry)
	}
	err := l.writeList(first.list, lines)
	if err == nil {
		err = l.step("written " + strings.Join(names, ","))
	}
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

func (l *fakeListed) Restore(ctx context.Context, req resource.RestoreRequest) error {
	path, list, entry := attr(req.Config, "path"), attr(req.Config, "list"), attr(req.Config, "entry")
	l.ff.mu.Lock()
	l.ff.order = append(l.ff.order, "restore "+entry)
	l.ff.mu.Unlock()
	var s listedSnap
	if err := json.Unmarshal(req.Snapshot, &s); err != nil {
		return err
	}
	defer func() {
		if req.Batch != nil {
			req.Batch.Defer(&reloadItem{list})
		} else {
			l.step("reload " + filepath.Base(list))
		}
	}()
	if !s.Listed {
		l.listMu.Lock()
		defer l.listMu.Unlock()
		lines := readLines(list)
		if i := slices.Index(lines, entry); i >= 0 {
			if err := l.writeList(list, slices.Delete(lines, i, i+1)); err != nil {
				return err
			}
		}
	}
	if !s.Exists {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(path, []byte(s.Content), 0o644)
}

func listedRes(name, list string, dependsOn ...string) string {
	deps := ""
	if len(dependsOn) > 0 {
		deps = "\n  depends_on = [" + strings.Join(dependsOn, ", ") + "]"
	}
	return fmt.Sprintf("\nresource \"fake_listed\" %q {\n  path    = \"${var.data}/%s\"\n  content = \"table %s\"\n  list    = \"${var.data}/%s\"\n  entry   = \"%s\"%s\n}", name, name, name, list, name, deps)
}

// batchPlan: a, b and c (after b) listed in L1, d after a; e and f (after
// the fake_file g) listed in L2; h alone in L3.
var batchPlan = "\nvariable \"data\" { type = string }" + listedRes("a", "L1") + listedRes("b", "L1") + listedRes("c", "L1", "fake_listed.b") +
	fileRes("d", "d", "new d", "fake_listed.a") + listedRes("e", "L2") + listedRes("f", "L2", "fake_file.g") + fileRes("g", "g", "new g") +
	listedRes("h", "L3") + "\n"

type batchBed struct {
	e    *Engine
	ff   *fakeFile
	fl   *fakeListed
	opts Options
	data string
}

func newBatchBed(t *testing.T, plan string) *batchBed {
	dir, data := t.TempDir(), t.TempDir()
	for _, n := range []string{"L1", "L2", "L3"} {
		os.WriteFile(filepath.Join(data, n), []byte("kept\n"), 0o644)
	}
	os.WriteFile(filepath.Join(data, "b"), []byte("old b"), 0o644)
	writePlan(t, dir, plan)
	b := &batchBed{data: data, ff: &fakeFile{failOn: map[string]bool{}, failRestore: map[string]bool{}}}
	b.fl = &fakeListed{ff: b.ff, fail: map[string]bool{}, writes: map[string]int{}}
	b.e = newTestEngine(b.ff)
	b.e.Registry = resource.NewRegistry(b.ff, b.fl)
	b.opts = Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}, Parallelism: 4}
	return b
}

var (
	batchBefore = map[string]string{"a": "(absent)", "b": "old b", "c": "(absent)", "d": "(absent)", "e": "(absent)", "f": "(absent)",
		"g": "(absent)", "h": "(absent)", "L1": "kept\n", "L2": "kept\n", "L3": "kept\n"}
	batchAfter = map[string]string{"a": "table a", "b": "table b", "c": "table c", "d": "new d", "e": "table e", "f": "table f",
		"g": "new g", "h": "table h", "L1": "kept\na\nb\nc\n", "L2": "kept\ne\nf\n", "L3": "kept\nh\n"}
)

func (b *batchBed) check(t *testing.T, after string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := readData(b.data, k); got != v {
			t.Errorf("%s: %s = %q, want %q", after, k, got, v)
		}
	}
}

func (b *batchBed) order() []string {
	b.ff.mu.Lock()
	defer b.ff.mu.Unlock()
	return append([]string(nil), b.ff.order...)
}

// The changes on one list share one write, after the last of them and
// before what depends on any of them, with the items in dependency
// order; one alone on its list writes it itself; a second plan has
// nothing to do; destroy puts every byte back.
func TestBatchOrder(t *testing.T) {
	b := newBatchBed(t, batchPlan)
	if _, err := applyDir(t, b.e, b.opts); err != nil {
		t.Fatal(err)
	}
	b.check(t, "apply", batchAfter)
	o := b.order()
	for _, pair := range [][2]string{{"apply c", "finish a,b,c"}, {"finish a,b,c", "apply d"}, {"apply g", "apply f"}, {"apply f", "finish e,f"}} {
		if !before(o, pair[0], pair[1]) {
			t.Errorf("%q is not before %q: %v", pair[0], pair[1], o)
		}
	}
	if !slices.Contains(o, "finish h") {
		t.Errorf("h did not list itself: %v", o)
	}
	for list, n := range map[string]int{"L1": 1, "L2": 1, "L3": 1} {
		if b.fl.writes[list] != n {
			t.Errorf("%s written %d times, want %d", list, b.fl.writes[list], n)
		}
	}
	s, p, _ := openPlan(t, b.e, b.opts)
	if p.Plan.NeedsApply() {
		t.Errorf("second plan needs an apply: %+v", p.Plan.Changes)
	}
	s.Close()
	o2 := b.opts
	o2.Destroy = true
	s, p, _ = openPlan(t, b.e, o2)
	rep, err := s.Apply(context.Background(), p)
	s.Close()
	if err != nil {
		t.Fatalf("%v: %+v", err, rep)
	}
	b.check(t, "destroy", batchBefore)
}

// batchSteps are the steps of batchPlan's apply a failure or a kill is
// injected at.
var batchSteps = []string{"apply a", "apply b", "apply c", "finish a,b,c", "finish b", "written a,b,c", "apply d", "apply e", "apply f", "finish e,f", "apply h"}

func (b *batchBed) inject(step string) {
	if strings.HasPrefix(step, "apply ") && len(step) == 7 && strings.Contains("dg", step[6:]) {
		b.ff.failOn[filepath.Join(b.data, step[6:])] = true
		return
	}
	b.fl.fail[step] = true
}

// A failure at any step, a batch's own included (all of it, or one of
// its changes), rolls the whole apply back byte for byte; the next apply
// makes all of it.
func TestBatchFailureAtEachStep(t *testing.T) {
	for _, step := range batchSteps {
		t.Run(strings.ReplaceAll(step, " ", "_"), func(t *testing.T) {
			b := newBatchBed(t, batchPlan)
			b.inject(step)
			if _, err := applyDir(t, b.e, b.opts); err == nil {
				t.Fatal("apply succeeded")
			} else if step == "finish b" && !strings.Contains(err.Error(), "apply failed") {
				t.Errorf("apply error %v", err)
			}
			b.check(t, "rollback", batchBefore)
			b.fl.fail, b.ff.failOn = map[string]bool{}, map[string]bool{}
			if _, err := applyDir(t, b.e, b.opts); err != nil {
				t.Fatal(err)
			}
			b.check(t, "apply after the rollback", batchAfter)
		})
	}
}

// Killed at each step (a second interrupt, as a SIGKILL would leave it),
// the user's next command ends byte for byte back (rollback) or fully
// forward (apply).
func TestBatchKilledAtEachStep(t *testing.T) {
	for _, step := range batchSteps {
		if step == "finish b" {
			continue
		}
		for _, then := range []string{"apply", "rollback"} {
			t.Run(strings.ReplaceAll(step, " ", "_")+"/"+then, func(t *testing.T) {
				b := newBatchBed(t, batchPlan)
				kill, stop, ctx := killAt(step)
				b.ff.onApply = func(path string) { kill("apply " + filepath.Base(path)) }
				b.fl.onStep = kill
				o := b.opts
				o.Stop = stop
				applyInterrupted(t, b.e, o, ctx)
				b.ff.onApply, b.fl.onStep = nil, nil
				afterKill(t, b.e, b.opts, then)
				if then == "apply" {
					b.check(t, "apply after the kill", batchAfter)
				} else {
					b.check(t, "rollback after the kill", batchBefore)
				}
			})
		}
	}
}

// With -no-rollback, the changes of a batch whose other member failed
// still get their shared step, and the next apply finishes the rest.
func TestBatchNoRollbackFinishes(t *testing.T) {
	b := newBatchBed(t, batchPlan)
	b.inject("apply b")
	o := b.opts
	o.NoRollback = true
	if _, err := applyDir(t, b.e, o); err == nil {
		t.Fatal("apply succeeded")
	}
	if got := readData(b.data, "L1"); got != "kept\na\n" {
		t.Errorf("L1 after the kept apply: %q", got)
	}
	b.fl.fail = map[string]bool{}
	if _, err := applyDir(t, b.e, b.opts); err != nil {
		t.Fatal(err)
	}
	b.check(t, "apply after", map[string]string{"a": "table a", "b": "table b", "c": "table c", "L1": "kept\na\nb\nc\n"})
}

// A batch that something outside it splits (x waits for a, b waits for
// x) is no batch: each change lists itself, in dependency order.
func TestBatchSplitByOutsider(t *testing.T) {
	plan := "\nvariable \"data\" { type = string }" + listedRes("a", "L1") + fileRes("x", "x", "new x", "fake_listed.a") +
		listedRes("b", "L1", "fake_file.x") + "\n"
	b := newBatchBed(t, plan)
	if _, err := applyDir(t, b.e, b.opts); err != nil {
		t.Fatal(err)
	}
	o := b.order()
	if !before(o, "finish a", "apply x") || !before(o, "apply x", "finish b") {
		t.Errorf("order %v", o)
	}
	if got := readData(b.data, "L1"); got != "kept\na\nb\n" {
		t.Errorf("L1 = %q", got)
	}
}

// A window over the changes of a batch closes after their shared step.
func TestBatchInWindow(t *testing.T) {
	plan := `
variable "data" { type = string }
resource "fake_window" "svc" {
  path   = "${var.data}/svc"
  during = [fake_listed.a, fake_listed.b]
}` + listedRes("a", "L1") + listedRes("b", "L1") + fileRes("d", "d", "new d", "fake_listed.a") + "\n"
	b := newBatchBed(t, plan)
	os.WriteFile(filepath.Join(b.data, "svc"), []byte("running"), 0o644)
	b.e.Registry = resource.NewRegistry(b.ff, b.fl, &fakeWindow{ff: b.ff})
	if _, err := applyDir(t, b.e, b.opts); err != nil {
		t.Fatal(err)
	}
	o := b.order()
	for _, pair := range [][2]string{{"open svc", "apply a"}, {"apply b", "written a,b"}, {"written a,b", "close svc"}, {"close svc", "apply d"}} {
		if !before(o, pair[0], pair[1]) {
			t.Errorf("%q is not before %q: %v", pair[0], pair[1], o)
		}
	}
	b.check(t, "apply", map[string]string{"L1": "kept\na\nb\n", "svc": "running", "d": "new d"})
}

// A rollback undoes the changes of one list, one after the other, then
// reloads it once.
func TestBatchRollbackReloadsOnce(t *testing.T) {
	plan := "\nvariable \"data\" { type = string }" + listedRes("a", "L1") + listedRes("b", "L1", "fake_listed.a") +
		listedRes("c", "L1", "fake_listed.b") + fileRes("x", "x", "new x", "fake_listed.c") + "\n"
	b := newBatchBed(t, plan)
	b.ff.failOn[filepath.Join(b.data, "x")] = true
	if _, err := applyDir(t, b.e, b.opts); err == nil {
		t.Fatal("apply succeeded")
	}
	b.check(t, "rollback", map[string]string{"a": "(absent)", "b": "old b", "c": "(absent)", "L1": "kept\n"})
	o := b.order()
	if n := slices.Index(o, "reload L1"); n < 0 || slices.Contains(o[n+1:], "reload L1") {
		t.Errorf("L1 not reloaded once: %v", o)
	}
	for _, r := range []string{"restore a", "restore b", "restore c"} {
		if !before(o, r, "reload L1") {
			t.Errorf("%s is not before the reload: %v", r, o)
		}
	}
}

// A rollback whose batch's reload fails fails those changes; run again,
// it ends byte for byte back.
func TestBatchRollbackReloadFails(t *testing.T) {
	plan := "\nvariable \"data\" { type = string }" + listedRes("a", "L1") + listedRes("b", "L1", "fake_listed.a") +
		fileRes("x", "x", "new x", "fake_listed.b") + "\n"
	b := newBatchBed(t, plan)
	if _, err := applyDir(t, b.e, b.opts); err != nil {
		t.Fatal(err)
	}
	b.fl.fail["reload L1"] = true
	s, d := b.e.Open(context.Background(), b.opts)
	mustNoDiags(t, d)
	rep, err := s.Rollback(context.Background(), false)
	s.Close()
	if err == nil || len(rep.RollbackErrors) != 2 {
		t.Errorf("rollback with a failing reload: %v, %+v", err, rep)
	}
	b.fl.fail = map[string]bool{}
	s, d = b.e.Open(context.Background(), b.opts)
	mustNoDiags(t, d)
	if _, err := s.Rollback(context.Background(), false); err != nil {
		t.Fatalf("rollback again: %v", err)
	}
	s.Close()
	b.check(t, "rollback again", map[string]string{"a": "(absent)", "b": "old b", "x": "(absent)", "L1": "kept\n"})
	if o := b.order(); !slices.Contains(o[len(o)-3:], "reload L1") {
		t.Errorf("the second rollback did not reload: %v", o)
	}
}
