package service_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/service"
	"github.com/mailplan/mailplan/resources/testbed"
)

var localHost = resource.Host{Name: "here", Transport: "local"}

func newState(t *testing.T) *service.State {
	return service.New(resourcetest.Pool(t))
}

// newStateThrough is newState reaching its hosts through faults.
func newStateThrough(t *testing.T, faults *resourcetest.Faults) *service.State {
	return service.New(faults.Getter(resourcetest.Pool(t)))
}

func list(s ...string) cty.Value {
	vs := make([]cty.Value, len(s))
	for i, e := range s {
		vs[i] = cty.StringVal(e)
	}
	return cty.ListVal(vs)
}

// configs returns the create (running) and update (stopped)
// configurations of one service.
func configs(t *testing.T, typ *service.State, h resource.Host, name string, extra map[string]cty.Value) (create, update cty.Value) {
	t.Helper()
	build := func(state string) cty.Value {
		attrs := map[string]cty.Value{
			"host":    resourcetest.HostValue(t, h),
			"service": cty.StringVal(name),
			"state":   cty.StringVal(state),
		}
		for k, v := range extra {
			attrs[k] = v
		}
		return resourcetest.Config(t, typ, attrs)
	}
	return build(service.Running), build(service.Stopped)
}

// hosts are the ways the tests reach this machine: directly, and over
// SSH as root.
func hosts(t *testing.T) map[string]resource.Host {
	return map[string]resource.Host{"local": localHost, "ssh": testbed.SSHD(t).Host}
}

// procAlive reports whether pid is a live process; a zombie (PID 1 of a
// container may not reap orphans) is not.
func procAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// pidFileState is "running" when pidfile names a live process.
func pidFileState(pidfile string) func(testing.TB) []byte {
	return func(testing.TB) []byte {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return []byte("stopped")
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 || !procAlive(pid) {
			return []byte("stopped")
		}
		return []byte("running")
	}
}

// The sleep daemon: a pid file service written as argv lists. Its status
// reads /proc, since a stopped process may linger as a zombie.
const (
	sleepStart  = `sleep 600 </dev/null >/dev/null 2>&1 & echo $! >"$1"`
	sleepStop   = `kill "$(cat "$1")"`
	sleepStatus = `pid=$(cat "$1" 2>/dev/null) || exit 3; st=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) || exit 3; case $st in Z|X) exit 3;; esac; exit 0`
)

// TestCommandConformance drives a tiny sleep-based daemon with manager =
// "command" through the whole conformance suite locally and its
// lifecycle over SSH: it needs nothing but sh, and runs everywhere.
func TestCommandConformance(t *testing.T) {
	for tname, h := range hosts(t) {
		t.Run(tname, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "sleepd.pid")
			t.Cleanup(func() {
				if b, err := os.ReadFile(pidfile); err == nil {
					if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && procAlive(pid) {
						_ = exec.Command("kill", strconv.Itoa(pid)).Run()
					}
				}
			})
			faults := resourcetest.NewFaults()
			typ := newStateThrough(t, faults)
			create, update := configs(t, typ, h, "sleepd", map[string]cty.Value{
				"manager":        cty.StringVal("command"),
				"start_command":  list("sh", "-c", sleepStart, "sh", pidfile),
				"stop_command":   list("sh", "-c", sleepStop, "sh", pidfile),
				"status_command": list("sh", "-c", sleepStatus, "sh", pidfile),
			})
			if h.Transport != "local" {
				// Each status look is an SSH session: the fault loops
				// would take a minute, and they drive the same code.
				resourcetest.Run(t, resourcetest.Case{Type: typ, Create: create, Update: update, Observe: pidFileState(pidfile)})
				return
			}
			resourcetest.Conformance(t, resourcetest.Suite{Type: typ, Create: create, Update: update, Observe: pidFileState(pidfile),
				Faults: faults, Modes: []resourcetest.Mode{resourcetest.Before, resourcetest.After}})
		})
	}
}

// postfixState observes an instance without the type: its master's PID
// file and /proc.
func postfixState(inst *testbed.PostfixInstance) func(testing.TB) []byte {
	return pidFileState(filepath.Join(inst.QueueDir, "pid", "master.pid"))
}

// stoppedPostfix starts a test bed instance and stops it, so that the
// conformance run starts it; whatever the run leaves running is stopped
// at cleanup.
func stoppedPostfix(t *testing.T) *testbed.PostfixInstance {
	t.Helper()
	inst := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.2"})
	inst.Stop(t)
	postfix, err := exec.LookPath("postfix")
	if err != nil {
		postfix = "/usr/sbin/postfix"
	}
	t.Cleanup(func() {
		if string(postfixState(inst)(t)) == "running" {
			if out, err := exec.Command(postfix, "-c", inst.ConfigDir, "stop").CombinedOutput(); err != nil {
				t.Errorf("postfix -c %s stop: %v: %s", inst.ConfigDir, err, out)
			}
		}
	})
	return inst
}

// TestPostfixCommand drives a real Postfix instance with the commands a
// multi-instance host needs: postfix -c DIR start|stop|status, through
// the whole conformance suite locally and its lifecycle over SSH.
func TestPostfixCommand(t *testing.T) {
	for tname, h := range hosts(t) {
		t.Run(tname, func(t *testing.T) {
			inst := stoppedPostfix(t)
			faults := resourcetest.NewFaults()
			typ := newStateThrough(t, faults)
			create, update := configs(t, typ, h, "postfix", map[string]cty.Value{
				"manager":        cty.StringVal("command"),
				"start_command":  list("postfix", "-c", inst.ConfigDir, "start"),
				"stop_command":   list("postfix", "-c", inst.ConfigDir, "stop"),
				"status_command": list("postfix", "-c", inst.ConfigDir, "status"),
			})
			if h.Transport != "local" {
				resourcetest.Run(t, resourcetest.Case{Type: typ, Create: create, Update: update, Observe: postfixState(inst)})
				return
			}
			resourcetest.Conformance(t, resourcetest.Suite{Type: typ, Create: create, Update: update, Observe: postfixState(inst), Faults: faults})
		})
	}
}

// initScript is a SysV init script for one test bed instance.
const initScript = `#!/bin/sh
# mailplan test: Postfix instance %[1]s
case "$1" in
start|stop|status) exec %[2]s -c %[1]s "$1" ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
`

// TestPostfixSysV installs a temporary /etc/init.d script for a test bed
// instance and lets detection find it through the service command. It
// needs root to write /etc/init.d, and a host without systemd.
func TestPostfixSysV(t *testing.T) {
	testbed.RequireRoot(t, "writing /etc/init.d needs root")
	testbed.Require(t, "service")
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		t.Skip("systemd runs here: detection would choose it, and the init script would not be a unit")
	}
	inst := stoppedPostfix(t)
	postfix, err := exec.LookPath("postfix")
	if err != nil {
		postfix = "/usr/sbin/postfix"
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	name := "mailplan-test-" + hex.EncodeToString(rnd[:])
	script := "/etc/init.d/" + name
	if err := os.WriteFile(script, fmt.Appendf(nil, initScript, inst.ConfigDir, postfix), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(script) })

	typ := newState(t)
	create, update := configs(t, typ, localHost, name, nil)
	resourcetest.Run(t, resourcetest.Case{Type: typ, Create: create, Update: update, Observe: postfixState(inst)})

	// The detected manager is what the plan shows.
	read, err := typ.Read(t.Context(), resource.ReadRequest{Config: create})
	if err != nil {
		t.Fatal(err)
	}
	if got := read.Current.GetAttr("manager").AsString(); got != service.SysV {
		t.Errorf("detected manager %q, want sysv", got)
	}
}

// TestStuckService reports a service that does not start, with the
// commands' output, rather than hanging or claiming success.
func TestStuckService(t *testing.T) {
	service.SetSettleTimeout(t, 2*time.Second)
	typ := newState(t)
	create, _ := configs(t, typ, localHost, "stuck", map[string]cty.Value{
		"manager":        cty.StringVal("command"),
		"start_command":  list("sh", "-c", "echo pretending to start"),
		"stop_command":   list("true"),
		"status_command": list("sh", "-c", "echo not running here; exit 3"),
	})
	start := time.Now()
	if err := readPlanApply(t, typ, create); err == nil {
		t.Fatal("apply of a service that never starts succeeded")
	} else {
		checkErr(t, err, "still not running after 2s", "pretending to start", "not running here")
	}
	if d := time.Since(start); d < 2*time.Second || d > 10*time.Second {
		t.Errorf("gave up after %s, want about 2 s", d)
	}
}

// TestStartHoldsOutput: a start command whose daemon keeps the command's
// standard error open (as dovecot does when started over SSH) fails after
// the command timeout with the remedy, instead of hanging the apply, on
// both transports.
func TestStartHoldsOutput(t *testing.T) {
	service.SetCommandTimeout(t, 2*time.Second)
	for name, h := range hosts(t) {
		t.Run(name, func(t *testing.T) {
			pidfile := filepath.Join(testbed.SearchableTempDir(t), "held.pid")
			typ := newState(t)
			create, _ := configs(t, typ, h, "held-"+name, map[string]cty.Value{
				"manager":        cty.StringVal("command"),
				"start_command":  list("sh", "-c", `sleep 600 </dev/null >/dev/null & echo $! >"$1"`, "sh", pidfile),
				"stop_command":   list("sh", "-c", sleepStop, "sh", pidfile),
				"status_command": list("sh", "-c", sleepStatus, "sh", pidfile),
			})
			t.Cleanup(func() {
				if b, err := os.ReadFile(pidfile); err == nil {
					if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
						if p, err := os.FindProcess(pid); err == nil {
							p.Kill()
						}
					}
				}
			})
			start := time.Now()
			err := readPlanApply(t, typ, create)
			if err == nil {
				t.Fatal("apply returned while the daemon held its output")
			}
			checkErr(t, err, "did not exit within 2s", "</dev/null >/dev/null 2>&1")
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("gave up after %s, want about 2 s", d)
			}
		})
	}
}

// readPlanApply reads, plans and applies cfg once, as the engine would,
// and returns Apply's error.
func readPlanApply(t *testing.T, typ *service.State, cfg cty.Value) error {
	t.Helper()
	ctx := t.Context()
	read, plan := resourcetest.ReadPlan(ctx, t, typ, cfg)
	_, err := typ.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}})
	return err
}

// checkErr fails the test when err's message lacks one of wants.
func checkErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
