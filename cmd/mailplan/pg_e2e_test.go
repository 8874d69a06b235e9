package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// TestPGBackendCLI: a team's state in PostgreSQL, as the CLI user sees it.
// A plan directory's local state moves into pg with init -migrate-state;
// workspaces are rows; a second checkout of the plan ("another machine")
// sees the same state; a run that holds the lock refuses the other at
// once, naming it, or is waited for with -lock-timeout; an apply killed
// in the middle is rolled back from the other machine, which finds in
// the database every journal entry the killed run committed; force-unlock
// releases a stuck lock; a wrong password is one clear error; the state
// moves back to a local file.
func TestPGBackendCLI(t *testing.T) {
	if err := testbed.CheckPostgresAvailable(); err != nil {
		if testbed.Strict() {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skip(err)
	}
	srv := testbed.Postgres(t)
	_, conn := srv.Database(t)
	a, b := t.TempDir(), t.TempDir()
	data := t.TempDir()
	plan := pgPlan(data)
	for _, dir := range []string{a, b} {
		pgWrite(t, dir, "main.mp.hcl", plan)
	}
	run := func(dir string, want int, args ...string) (string, string) {
		t.Helper()
		code, out, errs := runCLI(t, dir, args...)
		if code != want {
			t.Fatalf("mailplan %s in %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), filepath.Base(dir), code, want, out, errs)
		}
		return out, errs
	}

	// A local state first, then the backend block: init must move it.
	run(a, 0, "apply", "-auto-approve")
	local, err := os.ReadFile(filepath.Join(a, ".mailplan", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	backend := "mailplan {\n  backend \"pg\" {\n    schema_name = \"mp\"\n  }\n}\n"
	pgWrite(t, a, "backend.mp.hcl", backend)
	if _, errs := run(a, 1, "plan"); !strings.Contains(errs, "Backend initialization required") {
		t.Errorf("plan before init: %s", errs)
	}
	if _, errs := run(a, 1, "init", "-backend-config=conn_str="+conn); !strings.Contains(errs, "init -migrate-state") {
		t.Errorf("init that would leave the state behind: %s", errs)
	}
	out, _ := run(a, 0, "init", "-migrate-state", "-backend-config=conn_str="+conn)
	if !strings.Contains(out, `Copied the state of workspace "default" from the local backend to the pg backend`) {
		t.Errorf("init -migrate-state:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(a, ".mailplan", "backend.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backend.json: %v %v", fi, err)
	}
	run(a, 0, "plan", "-detailed-exitcode")
	pulled, _ := run(a, 0, "state", "pull")
	var before, after struct{ Lineage string }
	if json.Unmarshal(local, &before) != nil || json.Unmarshal([]byte(pulled), &after) != nil || before.Lineage == "" || after.Lineage != before.Lineage {
		t.Errorf("the state in pg has lineage %q, the local one %q", after.Lineage, before.Lineage)
	}

	// Workspaces are rows of their own.
	run(a, 0, "workspace", "new", "example.org")
	run(a, 0, "apply", "-auto-approve")
	out, _ = run(a, 0, "workspace", "list")
	if out != "  default\n* example.org\n" {
		t.Errorf("workspace list:\n%s", out)
	}
	run(a, 0, "workspace", "select", "default")

	// The other machine: the same files, conn_str from the environment.
	t.Setenv("MAILPLAN_PG_CONN_STR", conn)
	pgWrite(t, b, "backend.mp.hcl", backend)
	run(b, 0, "init")
	run(b, 0, "plan", "-detailed-exitcode")
	out, _ = run(b, 0, "workspace", "list")
	if !strings.Contains(out, "example.org") {
		t.Errorf("workspace list on the other machine:\n%s", out)
	}

	// An apply that holds the lock (its last step's hook waits).
	for _, dir := range []string{a, b} {
		pgWrite(t, dir, "more.mp.hcl", pgMore(data))
	}
	holder := pgHolder(t, a, data)
	_, errs := run(b, 1, "plan")
	flat := strings.Join(strings.Fields(errs), " ")
	m := regexp.MustCompile(`the state is locked by \S+ \(pid (\d+), running apply since \S+\); lock ID (\S+), pg schema mp workspace default`).FindStringSubmatch(flat)
	if m == nil || m[1] != strconv.Itoa(holder.Process.Pid) {
		t.Fatalf("plan while another machine applies: want the holder named\n%s", errs)
	}
	start := time.Now()
	if _, errs := run(b, 1, "plan", "-lock-timeout=1s"); !strings.Contains(errs, "waited 1s") || time.Since(start) < time.Second {
		t.Errorf("plan -lock-timeout=1s: after %s\n%s", time.Since(start), errs)
	}
	if _, errs := run(b, 1, "force-unlock", "nope"); !strings.Contains(errs, m[2]) {
		t.Errorf("force-unlock of another ID must name the holder's:\n%s", errs)
	}
	run(b, 0, "force-unlock", m[2])
	pgKill(t, holder)
	// Released: the other machine plans at once; it continues the apply.
	if _, errs := run(b, 2, "plan", "-detailed-exitcode"); !strings.Contains(errs, "continues an unfinished apply") {
		t.Errorf("plan after force-unlock: %s", errs)
	}
	pgRollback(t, b, data, run)

	// Killed while holding the lock: the server releases it, and the
	// other machine rolls back what the killed run journalled.
	holder = pgHolder(t, a, data)
	pgKill(t, holder)
	run(b, 0, "plan", "-lock-timeout=10s")
	pgRollback(t, b, data, run)
	out, _ = run(b, 0, "history", "-workspace", "default")
	if !strings.Contains(out, "interrupted") || strings.Count(out, "undid ") != 2 {
		t.Errorf("history: the killed applies and their rollbacks\n%s", out)
	}

	// A wrong password: one clear error, which does not show it.
	c := t.TempDir()
	pgWrite(t, c, "main.mp.hcl", plan)
	pgWrite(t, c, "backend.mp.hcl", backend)
	wrong := strings.Replace(conn, "@", "x@", 1)
	_, errs = run(c, 1, "init", "-backend-config=conn_str="+wrong)
	if !strings.Contains(errs, "password authentication failed") || strings.Contains(errs, wrong) {
		t.Errorf("wrong password:\n%s", errs)
	}

	// And back to a local file.
	for _, dir := range []string{a} {
		os.Remove(filepath.Join(dir, "backend.mp.hcl"))
		os.Remove(filepath.Join(dir, "more.mp.hcl"))
	}
	run(a, 1, "plan")
	out, _ = run(a, 0, "init", "-migrate-state")
	if !strings.Contains(out, "from the pg backend to the local backend") {
		t.Errorf("init -migrate-state back:\n%s", out)
	}
	run(a, 0, "plan", "-detailed-exitcode")
}

func pgPlan(data string) string {
	return `
host "local" {
  transport = "local"
}

resource "file" "a" {
  host    = host.local
  path    = "` + data + `/${mailplan.workspace}-a.txt"
  content = "a\n"
}
`
}

// pgMore adds c, then d, whose hook blocks until the test kills it.
func pgMore(data string) string {
	return `
resource "file" "c" {
  host    = host.local
  path    = "` + data + `/c.txt"
  content = "c\n"
}

resource "file" "d" {
  host       = host.local
  path       = "` + data + `/d.txt"
  content    = "d\n"
  depends_on = [file.c]

  hook "before_apply" {
    host    = host.local
    command = ["sh", "-c", "touch ` + data + `/hook-started; exec sleep 600"]
  }
}
`
}

func pgWrite(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pgHolder starts `mailplan apply` in dir, in a process group of its own,
// and returns once d's hook runs: c is applied and journalled.
func pgHolder(t *testing.T, dir, data string) *exec.Cmd {
	t.Helper()
	marker := filepath.Join(data, "hook-started")
	os.Remove(marker)
	bin, err := exec.LookPath("mailplan")
	if err != nil {
		t.Fatalf("the mailplan command TestMain sets up: %v", err)
	}
	cmd := exec.Command(bin, "-no-color", "apply", "-auto-approve")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgKill(t, cmd) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("the blocking hook never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pgKill SIGKILLs cmd's process group (mailplan and its hook).
func pgKill(t *testing.T, cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// pgRollback rolls back the killed apply from dir and checks that what it
// made is gone and the rest is as before.
func pgRollback(t *testing.T, dir, data string, run func(string, int, ...string) (string, string)) {
	t.Helper()
	run(dir, 0, "rollback", "-auto-approve", "-lock-timeout=10s")
	for _, f := range []string{"c.txt", "d.txt"} {
		if _, err := os.Stat(filepath.Join(data, f)); !os.IsNotExist(err) {
			t.Errorf("%s after the rollback: %v", f, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(data, "default-a.txt")); err != nil || string(b) != "a\n" {
		t.Errorf("default-a.txt after the rollback: %q %v", b, err)
	}
}
