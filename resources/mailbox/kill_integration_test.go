package mailbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

// childEnv is how TestSIGKILL tells its child process what to copy.
const childEnv = "MAILPLAN_MAILBOX_KILL_CHILD"

type childSpec struct {
	From    resource.Host `json:"from"`
	Src     string        `json:"src"`
	Dst     string        `json:"dst"`
	Journal string        `json:"journal"`
}

// fileJournal appends entries to a file, fsynced, as the engine's state
// would keep them.
type fileJournal struct {
	mu sync.Mutex
	f  *os.File
}

func (j *fileJournal) Record(ctx context.Context, entry []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(append([]byte(nil), entry...), '\n')); err != nil {
		return err
	}
	return j.f.Sync()
}

// TestSIGKILLChild is the child side of TestSIGKILL; it does nothing in a
// normal run.
func TestSIGKILLChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	var spec childSpec
	must(t, json.Unmarshal([]byte(raw), &spec))
	p := pool.New(nil)
	defer p.Close()
	typ := mailbox.New(p)
	cfg := resourcetest.Config(t, typ, map[string]cty.Value{
		"from": resourcetest.HostValue(t, spec.From), "to": resourcetest.HostValue(t, resource.Host{Name: "new", Transport: "local"}),
		"source": cty.StringVal(spec.Src), "destination": cty.StringVal(spec.Dst),
		"parallelism": cty.NumberIntVal(4), "max_bytes_per_second": cty.NumberIntVal(400 << 10),
	})
	f, err := os.OpenFile(spec.Journal, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	must(t, err)
	ctx := context.Background()
	rd, err := typ.Read(ctx, resource.ReadRequest{Config: cfg})
	must(t, err)
	pl, err := typ.Plan(ctx, resource.PlanRequest{Config: cfg, Current: rd.Current, Snapshot: rd.Snapshot})
	must(t, err)
	_, err = typ.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: rd.Current, Planned: pl.Planned, Snapshot: rd.Snapshot, Journal: &fileJournal{f: f}})
	must(t, err)
}

// TestSIGKILL kills a process in the middle of a throttled copy at several
// points, then either rolls back with the journal it left (nothing it
// created remains) or re-runs (the copy completes; nothing partial was
// ever in cur/ or new/, nothing is doubled).
func TestSIGKILL(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("child process")
	}
	e := newEnv(t)
	makeTree(t, e.src, 1, 30, 9) // about 3.5 MB, 9 s at the child's throttle
	cfg := e.config(nil)
	srcTree := tree(t, e.src)
	for i, after := range []time.Duration{300 * time.Millisecond, 1200 * time.Millisecond, 2500 * time.Millisecond, 4 * time.Second} {
		start := visible(tree(t, e.dst))
		journal := filepath.Join(t.TempDir(), "journal")
		spec, _ := json.Marshal(childSpec{From: e.from, Src: e.src, Dst: e.dst, Journal: journal})
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
		must(t, cmd.Start())
		time.Sleep(after)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()

		got := tree(t, e.dst)
		n := 0
		for rel, st := range got {
			if strings.Contains(rel, "/tmp/") || strings.Contains(rel, ".mailplan-snapshots") {
				continue
			}
			w, ok := srcTree[rel]
			if !ok || w.data != st.data {
				t.Errorf("kill %d: %s visible and not the source's message", i, rel)
			}
			n++
		}
		t.Logf("kill %d after %v: %d files in place", i, after, n)
		if i%2 == 0 {
			var entries [][]byte
			if f, err := os.Open(journal); err == nil {
				sc := bufio.NewScanner(f)
				sc.Buffer(nil, 16<<20)
				for sc.Scan() {
					entries = append(entries, append([]byte(nil), sc.Bytes()...))
				}
				f.Close()
			}
			e.restore(cfg, entries)
			if diff := diffTrees(start, visible(tree(t, e.dst))); diff != "" {
				t.Errorf("kill %d: rollback did not bring back the destination as the killed apply found it: %s", i, diff)
			}
		}
		// The next run (here: of the loop, or the final one) removes
		// leftovers in tmp/ and copies only what is missing.
	}
	r := e.mustApply(cfg)
	sameTrees(t, e.src, e.dst, true)
	for rel := range tree(t, e.dst) {
		if strings.Contains(rel, "/tmp/") {
			t.Errorf("leftover %s", rel)
		}
	}
	_ = r
}

// visible leaves out what no mail reader sees: tmp/ and mailplan's records.
func visible(m map[string]fileState) map[string]fileState {
	for rel := range m {
		if strings.Contains(rel, "/tmp/") || strings.Contains(rel, ".mailplan-snapshots") {
			delete(m, rel)
		}
	}
	return m
}
