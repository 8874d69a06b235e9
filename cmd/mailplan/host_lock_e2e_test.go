package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// hostLockBed is one Postfix reached over SSH by plan directories that
// each add their own table to transport_maps: separate states, separate
// processes, separate SSH connections, one main.cf.
type hostLockBed struct {
	t   *testing.T
	pf  *testbed.PostfixInstance
	srv *testbed.SSHServer
	bin string
}

func newHostLockBed(t *testing.T) *hostLockBed {
	t.Helper()
	srv := testbed.SSHD(t)
	pf := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.2"})
	bin, err := exec.LookPath("mailplan")
	if err != nil {
		t.Fatalf("the mailplan command TestMain sets up: %v", err)
	}
	return &hostLockBed{t: t, pf: pf, srv: srv, bin: bin}
}

// dir writes plan directory i: a postfix_map listed in transport_maps.
func (b *hostLockBed) dir(i int) string {
	b.t.Helper()
	dir := filepath.Join(b.t.TempDir(), fmt.Sprintf("plan%d", i))
	src := "\n" + sshHostBlock("old", b.srv.Host) + "\n" +
		hashMapBlock("t", b.pf.ConfigDir, fmt.Sprintf("%s/lock-test/t%d", b.pf.ConfigDir, i), fmt.Sprintf("d%d.example", i), "smtp:[127.0.0.3]", "transport_maps", "")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	write(b.t, filepath.Join(dir, "main.mp.hcl"), src)
	return dir
}

func (b *hostLockBed) table(i int) string {
	return fmt.Sprintf("hash:%s/lock-test/t%d", b.pf.ConfigDir, i)
}

// run runs the CLI in dir as a process of its own.
func (b *hostLockBed) run(dir string, args ...string) (int, string) {
	cmd := exec.Command(b.bin, append([]string{"-no-color"}, args...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("mailplan %v: %v", args, err)
	}
	return code, out.String()
}

// listed is transport_maps as main.cf has it, one entry each.
func (b *hostLockBed) listed() []string {
	b.t.Helper()
	out, err := exec.Command(testbed.RequireSbin(b.t, "postconf"), "-c", b.pf.ConfigDir, "-h", "transport_maps").Output()
	if err != nil {
		b.t.Fatalf("postconf: %v", err)
	}
	return strings.FieldsFunc(string(out), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// Ten plan directories (ten states), each adding its own table to
// transport_maps of one Postfix, applied at once over SSH: every table is
// listed afterwards and every re-plan is clean, because every edit of
// main.cf holds the instance's lock on the host. Then ten destroys at
// once: main.cf is byte for byte what it was.
func TestConcurrentAppliesOneHost(t *testing.T) {
	b := newHostLockBed(t)
	const n = 10
	before, err := os.ReadFile(filepath.Join(b.pf.ConfigDir, "main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = b.dir(i)
	}
	all := func(args ...string) []string {
		outs := make([]string, n)
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range dirs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], outs[i] = b.run(dirs[i], args...)
			}()
		}
		wg.Wait()
		for i := range dirs {
			if codes[i] != 0 {
				t.Errorf("mailplan %v in plan %d: exit %d\n%s", args, i, codes[i], outs[i])
			}
		}
		return outs
	}
	start := time.Now()
	all("apply", "-auto-approve")
	t.Logf("%d applies at once: %s", n, time.Since(start).Round(time.Millisecond))
	got := b.listed()
	for i := range n {
		if !slices.Contains(got, b.table(i)) {
			t.Errorf("table %d is not listed in transport_maps: %v", i, got)
		}
	}
	for i, dir := range dirs {
		if code, out := b.run(dir, "plan", "-detailed-exitcode"); code != 0 {
			t.Errorf("re-plan of plan %d: exit %d, want 0 (no changes)\n%s", i, code, out)
		}
	}
	start = time.Now()
	all("destroy", "-auto-approve")
	t.Logf("%d destroys at once: %s", n, time.Since(start).Round(time.Millisecond))
	after, err := os.ReadFile(filepath.Join(b.pf.ConfigDir, "main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("main.cf after the destroys differs from before\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Two states add their tables to transport_maps, which main.cf does not
// set, one after the other; they are destroyed in both orders. Whichever
// destroy takes out the last table, main.cf is byte for byte what it was:
// the second state's edit found the first one's line, yet the line goes
// once no table is left (it once stayed as "transport_maps =" when the
// first state was destroyed first).
func TestTwoStatesDestroyEitherOrder(t *testing.T) {
	b := newHostLockBed(t)
	before, err := os.ReadFile(filepath.Join(b.pf.ConfigDir, "main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(before), "transport_maps") {
		t.Fatalf("main.cf sets transport_maps before the test:\n%s", before)
	}
	dirs := []string{b.dir(0), b.dir(1)}
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		for _, i := range []int{0, 1} {
			if code, out := b.run(dirs[i], "apply", "-auto-approve"); code != 0 {
				t.Fatalf("apply %d: exit %d\n%s", i, code, out)
			}
		}
		for _, i := range order {
			if code, out := b.run(dirs[i], "destroy", "-auto-approve"); code != 0 {
				t.Fatalf("destroy %d: exit %d\n%s", i, code, out)
			}
		}
		after, err := os.ReadFile(filepath.Join(b.pf.ConfigDir, "main.cf"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Fatalf("applied 0 then 1, destroyed %v: main.cf differs from before\nbefore:\n%s\nafter:\n%s", order, before, after)
		}
	}
}

// Two runs as if from two machines (separate processes, states and SSH
// connections) apply and destroy their tables in a loop for a minute on
// one main.cf: after each apply its table is listed, after each destroy it
// is not, and the other's is never lost.
func TestTwoRunsLoopOneMainCF(t *testing.T) {
	b := newHostLockBed(t)
	dirs := []string{b.dir(0), b.dir(1)}
	deadline := time.Now().Add(time.Minute)
	var mu sync.Mutex
	cycles := make([]int, 2)
	var wg sync.WaitGroup
	for i, dir := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if code, out := b.run(dir, "apply", "-auto-approve"); code != 0 {
					t.Errorf("run %d: apply exit %d\n%s", i, code, out)
					return
				}
				if got := b.listed(); !slices.Contains(got, b.table(i)) {
					t.Errorf("run %d: its table is not listed right after its apply: %v", i, got)
					return
				}
				if code, out := b.run(dir, "destroy", "-auto-approve"); code != 0 {
					t.Errorf("run %d: destroy exit %d\n%s", i, code, out)
					return
				}
				if got := b.listed(); slices.Contains(got, b.table(i)) {
					t.Errorf("run %d: its table is still listed after its destroy: %v", i, got)
					return
				}
				mu.Lock()
				cycles[i]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("apply and destroy cycles in a minute: %v", cycles)
	if cycles[0] == 0 || cycles[1] == 0 {
		t.Errorf("a run never finished a cycle: %v", cycles)
	}
	if got := b.listed(); len(got) != 0 {
		t.Errorf("transport_maps after both runs: %v", got)
	}
}
