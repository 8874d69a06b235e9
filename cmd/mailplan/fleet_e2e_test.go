package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// fleetBed is a fleet as docs/fleets.md runs it: the plan directory
// plans/examples/fleet-shadow-copy, one workspace per domain on the pg
// backend, against one old Postfix reached over SSH that copies to one
// new Postfix. Every command is a process of its own, as a CI job's is.
type fleetBed struct {
	t       *testing.T
	bin     string
	conn    string
	oldPF   *testbed.PostfixInstance
	newPF   *testbed.PostfixInstance
	work    string // copies of plans/ (checkouts) go here
	varFile string
	domains []string
}

// fleetRun is one mailplan process of the fleet.
type fleetRun struct {
	domain string
	code   int
	out    string
	took   time.Duration
	// lockWaits are the waits for the Postfix instance's host lock this
	// run logged, one per main.cf edit; lockHolds, from each lock taken
	// to the parameter's edit under it (the postconf -e itself and the
	// release come on top).
	lockWaits, lockHolds []time.Duration
}

// fleetSize is the fleet to run. The test is opt-in: even a small fleet
// takes minutes on a two-core machine (every apply runs postfix check
// and reload three times over SSH). MAILPLAN_FLEET=1 runs
// MAILPLAN_FLEET_N workspaces (default 50) MAILPLAN_FLEET_K at a time
// (default 8), the measurement docs/fleets.md reports; -run naming
// TestFleet runs a small fleet of 6, 3 at a time (the same variables
// change it); otherwise it is skipped.
func fleetSize(t *testing.T) (n, k int) {
	t.Helper()
	n, k = 6, 3
	switch {
	case os.Getenv("MAILPLAN_FLEET") == "1":
		n, k = 50, 8
	case !strings.Contains(flag.Lookup("test.run").Value.String(), "Fleet"):
		t.Skip("opt-in: MAILPLAN_FLEET=1, or -run TestFleet")
	}
	for name, p := range map[string]*int{"MAILPLAN_FLEET_N": &n, "MAILPLAN_FLEET_K": &k} {
		if v := os.Getenv(name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 {
				t.Fatalf("%s=%q: want a positive number", name, v)
			}
			*p = i
		}
	}
	return n, k
}

func newFleetBed(t *testing.T, n int) *fleetBed {
	t.Helper()
	if err := testbed.CheckPostgresAvailable(); err != nil {
		if testbed.Strict() {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skip(err)
	}
	domains := make([]string, n)
	for i := range domains {
		domains[i] = fmt.Sprintf("d%02d.example", i+1)
	}
	srv := testbed.SSHD(t)
	// Both instances know every domain, so that mail to user@DOMAIN is
	// accepted at the old one and delivered at the new one.
	oldPF := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.2", ExtraDomains: domains})
	newPF := testbed.Postfix(t, testbed.PostfixOptions{Name: "new", Addr: "127.0.0.3", ExtraDomains: domains})
	pg := testbed.Postgres(t)
	_, conn := pg.Database(t)
	bin, err := exec.LookPath("mailplan")
	if err != nil {
		t.Fatalf("the mailplan command TestMain sets up: %v", err)
	}
	b := &fleetBed{t: t, bin: bin, conn: conn, oldPF: oldPF, newPF: newPF, work: t.TempDir(), domains: domains}
	h := srv.Host
	b.varFile = filepath.Join(b.work, "fleet.mpvars.hcl")
	vars := fmt.Sprintf(`
old_address   = %q
old_port      = %d
ssh_user      = %q
identity_file = %q
known_hosts   = %q
new_server    = "[%s]:%d"
config_dir    = %q
`, h.Address, h.Port, h.User, h.IdentityFile, h.KnownHosts, newPF.Addr, newPF.Port, oldPF.ConfigDir)
	if err := os.WriteFile(b.varFile, []byte(vars), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkout copies plans/ as a CI job's checkout would have it, runs
// mailplan init there and returns the plan directory.
func (b *fleetBed) checkout(name string) string {
	b.t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		b.t.Fatal(err)
	}
	root := filepath.Join(b.work, name)
	copyTree(b.t, filepath.Join(wd, "..", "..", "plans"), filepath.Join(root, "plans"))
	dir := filepath.Join(root, "plans", "examples", "fleet-shadow-copy")
	if r := b.run(dir, "", "init"); r.code != 0 {
		b.t.Fatalf("init in %s: exit %d\n%s", name, r.code, r.out)
	}
	return dir
}

// run runs mailplan in dir as a process of its own, with the connection
// string in MAILPLAN_PG_CONN_STR and, unless workspace is "", the
// workspace in MAILPLAN_WORKSPACE, as a CI job sets them; its debug log
// goes to a file of its own, read for the host lock's waits.
func (b *fleetBed) run(dir, workspace string, args ...string) fleetRun {
	log, err := os.CreateTemp(b.work, "log-*")
	if err != nil {
		b.t.Fatal(err)
	}
	log.Close()
	defer os.Remove(log.Name())
	level := "debug"
	if os.Getenv("MAILPLAN_FLEET_LOGS") != "" {
		level = "trace" // every command a host runs, with its time
	}
	cmd := exec.Command(b.bin, append([]string{"-no-color"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"MAILPLAN_PG_CONN_STR="+b.conn,
		"MAILPLAN_WORKSPACE="+workspace,
		"MAILPLAN_LOG="+level,
		"MAILPLAN_LOG_PATH="+log.Name())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	r := fleetRun{domain: workspace, took: time.Since(start), out: out.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.code = -1
		r.out += err.Error()
	}
	r.lockWaits, r.lockHolds = hostLockTimes(log.Name())
	if keep := os.Getenv("MAILPLAN_FLEET_LOGS"); keep != "" {
		// Every run's trace log, for a closer look at where the time goes.
		if b, err := os.ReadFile(log.Name()); err == nil {
			name := fmt.Sprintf("%s-%s-%s.log", time.Now().Format("150405.000"), strings.Join(args[:1], ""), workspace)
			_ = os.WriteFile(filepath.Join(keep, name), b, 0o644)
		}
	}
	return r
}

var (
	hostLockTaken = regexp.MustCompile(`^(\S+) .*host lock taken: .*waited=(\S+)`)
	paramSet      = regexp.MustCompile(`^(\S+) .*setting parameter: `)
)

// hclogTime is the time stamp of the log's lines (hclog's default).
const hclogTime = "2006-01-02T15:04:05.000Z0700"

// hostLockTimes reads a debug log: the waits of its "host lock taken"
// lines, and from each to the "setting parameter" that follows it. One
// process takes the instance's lock for one edit at a time, so the two
// alternate.
func hostLockTimes(path string) (waits, holds []time.Duration) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	var taken time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := hostLockTaken.FindStringSubmatch(sc.Text()); m != nil {
			if d, err := time.ParseDuration(m[2]); err == nil {
				waits = append(waits, d)
			}
			taken, _ = time.Parse(hclogTime, m[1])
		} else if m := paramSet.FindStringSubmatch(sc.Text()); m != nil && !taken.IsZero() {
			if at, err := time.Parse(hclogTime, m[1]); err == nil {
				holds = append(holds, at.Sub(taken))
			}
			taken = time.Time{}
		}
	}
	return waits, holds
}

// each runs job for every domain, k at a time, as a CI matrix with
// max-parallel k does, and returns the runs in the domains' order and the
// wall time.
func (b *fleetBed) each(k int, job func(worker int, domain string) fleetRun) ([]fleetRun, time.Duration) {
	runs := make([]fleetRun, len(b.domains))
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				runs[i] = job(w, b.domains[i])
			}
		}()
	}
	for i := range b.domains {
		next <- i
	}
	close(next)
	wg.Wait()
	return runs, time.Since(start)
}

// failed reports every run that did not exit want.
func (b *fleetBed) failed(what string, runs []fleetRun, want int) bool {
	b.t.Helper()
	bad := false
	for _, r := range runs {
		if r.code != want {
			b.t.Errorf("%s of workspace %s: exit %d, want %d\n%s", what, r.domain, r.code, want, r.out)
			bad = true
		}
	}
	return bad
}

// fleetStats sums the runs: the mean and the longest run, and the host
// lock's waits.
type fleetStats struct {
	avg, max, waitSum, waitMax, holdSum time.Duration
	waits                               int
}

func statsOf(runs []fleetRun) fleetStats {
	var s fleetStats
	for _, r := range runs {
		s.avg += r.took
		s.max = max(s.max, r.took)
		for _, w := range r.lockWaits {
			s.waits++
			s.waitSum += w
			s.waitMax = max(s.waitMax, w)
		}
		for _, h := range r.lockHolds {
			s.holdSum += h
		}
	}
	if len(runs) > 0 {
		s.avg /= time.Duration(len(runs))
	}
	return s
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// waitMail waits until a message holding needle is in the Maildir of
// local@domain at p.
func waitMail(t *testing.T, p *testbed.PostfixInstance, domain, local, needle string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, sub := range []string{"new", "cur"} {
			d := filepath.Join(p.MaildirIn(domain, local), sub)
			es, _ := os.ReadDir(d)
			for _, e := range es {
				if m, err := os.ReadFile(filepath.Join(d, e.Name())); err == nil && bytes.Contains(m, []byte(needle)) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix %s: no message with %q for %s@%s after %v", p.Name, needle, local, domain, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// timeCommand runs a Postfix command on the old instance n times and
// returns the mean, for what the applies' steps cost without any lock.
func timeCommand(t *testing.T, n int, name string, args ...string) time.Duration {
	t.Helper()
	bin := testbed.RequireSbin(t, name)
	start := time.Now()
	for range n {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	return time.Since(start) / time.Duration(n)
}

// TestFleetShadowCopy: a fleet of domains, one workspace each, on the pg
// backend, applied by separate processes k at a time as a CI matrix
// would: every domain's copies reach the new server, every workspace
// re-plans clean from other checkouts (workspace select -or-create, as
// the CI jobs of docs/fleets.md do), and destroying them all, k at a
// time, leaves the old server's configuration byte for byte as before.
// It prints a FLEET line with the measurement; MAILPLAN_FLEET=1 runs the
// one docs/fleets.md reports (see fleetSize).
func TestFleetShadowCopy(t *testing.T) {
	n, k := fleetSize(t)
	b := newFleetBed(t, n)
	before := snapshotDir(t, b.oldPF.ConfigDir)

	// One checkout makes the workspaces; the applies run there, each
	// with MAILPLAN_WORKSPACE.
	dir := b.checkout("setup")
	start := time.Now()
	for _, d := range b.domains {
		if r := b.run(dir, "", "workspace", "new", d); r.code != 0 {
			t.Fatalf("workspace new %s: exit %d\n%s", d, r.code, r.out)
		}
	}
	createWall := time.Since(start)
	if r := b.run(dir, "", "workspace", "list"); r.code != 0 || strings.Count(r.out, ".example\n") != n {
		t.Fatalf("workspace list: exit %d, want %d domains\n%s", r.code, n, r.out)
	}

	applies, applyWall := b.each(k, func(_ int, d string) fleetRun {
		return b.run(dir, d, "apply", "-auto-approve", "-lock-timeout=5m", "-var-file="+b.varFile)
	})
	if b.failed("apply", applies, 0) {
		t.FailNow()
	}
	as := statsOf(applies)
	listed := strings.Split(b.oldPF.Postconf(t, "-h", "recipient_bcc_maps"), ",")
	for _, d := range b.domains {
		want := "pcre:" + filepath.Join(b.oldPF.ConfigDir, "migration", d+"-recipient_bcc")
		if !slices.ContainsFunc(listed, func(s string) bool { return strings.TrimSpace(s) == want }) {
			t.Errorf("recipient_bcc_maps does not list %s: %v", want, listed)
		}
	}

	// Mail for the first and the last domain is copied to the new server.
	for _, d := range []string{b.domains[0], b.domains[n-1]} {
		id := "fleet-" + d
		if out, err := testbed.Swaks(t, b.oldPF.SMTPAddr(), "alice@"+d, "user@"+d,
			map[string]string{"Subject": id, "X-Test-Id": id}, "test "+id+"\n"); err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		waitMail(t, b.oldPF, d, "user", id, 30*time.Second)
		waitMail(t, b.newPF, d, "user", id, 60*time.Second)
	}

	// Other checkouts, one per parallel job, re-plan every workspace as
	// the CI jobs do: select -or-create, then plan.
	jobs := make([]string, k)
	for w := range jobs {
		jobs[w] = b.checkout(fmt.Sprintf("job%d", w))
	}
	replans, replanWall := b.each(k, func(w int, d string) fleetRun {
		r := b.run(jobs[w], "", "workspace", "select", "-or-create", d)
		if r.code == 0 {
			r = b.run(jobs[w], "", "plan", "-detailed-exitcode", "-lock-timeout=5m", "-var-file="+b.varFile)
		}
		r.domain = d
		return r
	})
	clean := !b.failed("re-plan", replans, 0)

	destroys, destroyWall := b.each(k, func(_ int, d string) fleetRun {
		return b.run(dir, d, "destroy", "-auto-approve", "-lock-timeout=5m", "-var-file="+b.varFile)
	})
	b.failed("destroy", destroys, 0)
	ds := statsOf(destroys)
	after := snapshotDir(t, b.oldPF.ConfigDir)
	restored := true
	for name, was := range before {
		if after[name] != was {
			restored = false
			t.Errorf("%s differs after the destroys:\n--- before\n%s\n--- after\n%s", name, was, after[name])
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && !strings.Contains(name, "/.mailplan-snapshots/") {
			restored = false
			t.Errorf("%s was left behind by the destroys", name)
		}
	}

	// What the applies' Postfix steps cost on this machine, one at a
	// time, without mailplan: the floor under the lock's waits.
	cfg := b.oldPF.ConfigDir
	check := timeCommand(t, 5, "postfix", "-c", cfg, "check")
	reload := timeCommand(t, 5, "postfix", "-c", cfg, "reload")
	postconf := timeCommand(t, 5, "postconf", "-c", cfg, "-e", "fleet_probe_unused = x")
	timeCommand(t, 1, "postconf", "-c", cfg, "-X", "fleet_probe_unused")

	// wait_share: of the k job slots' time, the part spent waiting for
	// the host lock; held: of the wall time, the part the lock was held.
	share, held := 0.0, 0.0
	if applyWall > 0 {
		share = 100 * as.waitSum.Seconds() / (float64(k) * applyWall.Seconds())
		held = 100 * as.holdSum.Seconds() / applyWall.Seconds()
	}
	line := fmt.Sprintf("FLEET: workspaces=%d parallel=%d apply_wall=%s per_workspace_avg=%s per_workspace_max=%s "+
		"host_lock_waits=%d host_lock_wait_sum=%s host_lock_wait_max=%s host_lock_wait_share=%.0f%% host_lock_held=%.0f%% "+
		"workspace_new_avg=%s replan_wall=%s replan_all_clean=%t destroy_wall=%s destroy_avg=%s destroy_lock_wait_sum=%s "+
		"config_restored=%t postfix_check=%s postfix_reload=%s postconf_e=%s",
		n, k, secs(applyWall), secs(as.avg), secs(as.max),
		as.waits, secs(as.waitSum), secs(as.waitMax), share, held,
		(createWall / time.Duration(n)).Round(time.Millisecond), secs(replanWall), clean, secs(destroyWall), secs(ds.avg), secs(ds.waitSum),
		restored, check.Round(time.Millisecond), reload.Round(time.Millisecond), postconf.Round(time.Millisecond))
	t.Log(line)
	fmt.Println(line)
}
