package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mailplan/mailplan/resources/testbed"
)

// TestMain runs the command itself when the tests start the test binary
// with MAILPLAN_TESTBED_MAIN=1, so that up -detach leaves its servers to
// a process that has exited, as it does for a user.
func TestMain(m *testing.M) {
	if os.Getenv("MAILPLAN_TESTBED_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// command returns a command running mailplan-testbed with args.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MAILPLAN_TESTBED_MAIN=1")
	cmd.WaitDelay = time.Second
	return cmd
}

// requireTestbed skips the test where the test bed cannot run (no root,
// no sshd or Postfix), or fails it when testbed.Strict.
func requireTestbed(t *testing.T) {
	t.Helper()
	if err := errors.Join(testbed.CheckAvailable(), testbed.CheckNamedAvailable()); err != nil {
		if testbed.Strict() {
			t.Fatalf("%v (required: CI=true or MAILPLAN_E2E=1)", err)
		}
		t.Skip(err)
	}
}

// parallelBed starts a parallel test of a test bed: it returns a new
// directory for it (see bedDir) and a context that ends after two minutes,
// or with the test.
func parallelBed(t *testing.T) (string, context.Context) {
	t.Helper()
	requireTestbed(t)
	t.Parallel()
	dir := bedDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return dir, ctx
}

// bedDir returns a new directory for a test bed that postfix and nobody
// can reach (t.TempDir's parent is mode 0700). If a test bed is still up
// in it when the test ends, down stops it.
func bedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mailplan-testbed-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, pidsFile)); err == nil {
			var out bytes.Buffer
			if code := run([]string{"down", "-dir", dir}, &out, &out); code != 0 {
				t.Errorf("cleanup: down: exit %d\n%s", code, out.String())
			}
		}
		os.RemoveAll(dir)
	})
	return dir
}

func TestUsage(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage:"},
		{[]string{"frob"}, 2, `unknown command "frob"`},
		{[]string{"up"}, 2, "-dir DIR is required"},
		{[]string{"down", "-dir", empty, "extra"}, 2, "-dir DIR is required"},
		{[]string{"down", "-detach", "-dir", empty}, 2, "flag provided but not defined: -detach"},
		{[]string{"up", "-dir", "/tmp/a b"}, 1, "may hold only letters"},
		{[]string{"down", "-dir", empty}, 1, "no test bed is up in " + empty},
		{[]string{"help"}, 0, "mailplan-testbed up -dir DIR [-detach]"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if code := run(tt.args, &out, &out); code != tt.code || !strings.Contains(out.String(), tt.want) {
			t.Errorf("run(%q) = %d, want %d and %q in:\n%s", tt.args, code, tt.code, tt.want, out.String())
		}
	}
}

// TestDownChecksIdentity: down signals no process testbed.pids names
// unless it is still the server up started: not one that reuses the PID
// (other start time), not one that is not an sshd or master serving the
// recorded configuration, not one a PID file points at. It needs no root.
func TestDownChecksIdentity(t *testing.T) {
	dir := t.TempDir()
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Skipf("sleep: %v", err)
	}
	defer func() {
		sleep.Process.Kill()
		sleep.Wait()
	}()
	pid := sleep.Process.Pid
	start := procOf(t, pid).start
	sshDir := filepath.Join(dir, "sshd")
	oldDir := filepath.Join(dir, "old")
	namedDir := filepath.Join(dir, "named")
	for _, d := range []string{sshDir, oldDir, filepath.Join(oldDir, "queue", "pid"), filepath.Join(namedDir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The PID files name the stranger too.
	for _, f := range []string{filepath.Join(sshDir, "sshd.pid"), filepath.Join(oldDir, "queue", "pid", "master.pid"), filepath.Join(namedDir, "data", "named.pid")} {
		if err := os.WriteFile(f, []byte(fmt.Sprintf("%10d\n", pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pids := formatPids([]testbed.Process{
		{Kind: "sshd", Name: "sshd", PID: pid, StartTime: start, Config: filepath.Join(sshDir, "sshd_config"), PIDFile: filepath.Join(sshDir, "sshd.pid"), Dir: sshDir},
		{Kind: "postfix", Name: "old", PID: pid, StartTime: start + 1, Config: filepath.Join(oldDir, "config"), PIDFile: filepath.Join(oldDir, "queue", "pid", "master.pid"), Dir: oldDir},
		{Kind: "named", Name: "named", PID: pid, StartTime: start, Config: filepath.Join(namedDir, "named.conf"), PIDFile: filepath.Join(namedDir, "data", "named.pid"), Dir: namedDir},
	})
	if err := os.WriteFile(filepath.Join(dir, pidsFile), []byte(pids), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"down", "-dir", dir}, &out, &out); code != 0 {
		t.Fatalf("down: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "sshd sshd: not running") || !strings.Contains(out.String(), "postfix old: not running") || !strings.Contains(out.String(), "named named: not running") {
		t.Errorf("down output:\n%s", out.String())
	}
	if !procAlive(proc{pid: pid, start: start}) {
		t.Fatalf("down killed PID %d, a sleep it did not start", pid)
	}
	if _, err := os.Stat(filepath.Join(dir, pidsFile)); !os.IsNotExist(err) {
		t.Errorf("%s left: %v", pidsFile, err)
	}

	// A record whose directory is not right under DIR is refused whole:
	// down would remove it.
	bad := strings.ReplaceAll(pids, sshDir, "/etc")
	if err := os.WriteFile(filepath.Join(dir, pidsFile), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"down", "-dir", dir}, &out, &out); code != 1 || !strings.Contains(out.String(), "not right under") {
		t.Errorf("down with a record outside DIR: exit %d\n%s", code, out.String())
	}
	if !procAlive(proc{pid: pid, start: start}) {
		t.Fatalf("down killed PID %d, a sleep it did not start", pid)
	}
}

// TestUpDetachDown brings the test bed up detached, uses what testbed.env
// and testbed.vars.hcl say (SMTP greetings from both instances, an SSH
// login with the key and known_hosts, a mailplan plan), then brings it
// down and checks that no process it started is left.
func TestUpDetachDown(t *testing.T) {
	dir, ctx := parallelBed(t)

	start := time.Now()
	out, err := command(ctx, "up", "-detach", "-dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("up -detach: %v\n%s", err, out)
	}
	t.Logf("up -detach in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	env := readEnv(t, filepath.Join(dir, envFile))
	for k, want := range map[string]string{
		"OLD_CONFIG_DIR":   filepath.Join(dir, "old", "config"),
		"NEW_CONFIG_DIR":   filepath.Join(dir, "new", "config"),
		"OLD_MAILDIR":      filepath.Join(dir, "old", "mail"),
		"SSH_IDENTITY":     filepath.Join(dir, "sshd", "id_ed25519"),
		"SSH_KNOWN_HOSTS":  filepath.Join(dir, "sshd", "known_hosts"),
		"USERS":            "user alice bob",
		"DNS_ADDR":         "127.0.0.4",
		"DNS_ZONE":         "example.com.",
		"TSIG_NAME":        "mailplan-hmac-sha256.",
		"TSIG_ALGORITHM":   "hmac-sha256",
		"TSIG_SECRET_FILE": filepath.Join(dir, "named", "keys", "hmac-sha256.secret"),
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}

	checkSMTP(t, env["OLD_SMTP"], "old.test", "127.0.0.2:")
	checkSMTP(t, env["NEW_SMTP"], "new.test", "127.0.0.3:")
	checkDNS(t, env, string(out))
	for _, k := range []string{"OLD_CONFIG_DIR", "NEW_CONFIG_DIR"} {
		if _, err := os.Stat(filepath.Join(env[k], "main.cf")); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}

	// An SSH session as testbed.env describes it, kept open across down:
	// down stops the sessions of its sshd too.
	client := sshLogin(t, env)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("sleep 300"); err != nil {
		t.Fatal(err)
	}
	sessDone := make(chan error, 1)
	go func() { sessDone <- sess.Wait() }()

	t.Run("plan with testbed.vars.hcl", func(t *testing.T) { planWithVars(t, dir) })

	// IMAP: old serves, new is set up but stopped; started the way
	// full-migration.vars.hcl says (as a plan would), down stops it too.
	if err := testbed.IMAPGreeting(env["OLD_IMAP_ADDR"] + ":" + env["OLD_IMAP_PORT"]); err != nil {
		t.Errorf("old IMAP: %v", err)
	}
	newIMAP := env["NEW_IMAP_ADDR"] + ":" + env["NEW_IMAP_PORT"]
	if testbed.IMAPGreeting(newIMAP) == nil {
		t.Error("new IMAP serves before anything started it")
	}
	if out, err := exec.Command("sh", "-c", `exec /usr/sbin/dovecot -c "$1" </dev/null >/dev/null 2>&1`, "sh", env["NEW_IMAP_CONFIG"]).CombinedOutput(); err != nil {
		t.Fatalf("start the new Dovecot: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(15 * time.Second); testbed.IMAPGreeting(newIMAP) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the new Dovecot started by hand does not greet")
		}
	}
	if vars, err := os.ReadFile(filepath.Join(dir, fullFile)); err != nil || !strings.Contains(string(vars), env["NEW_IMAP_CONFIG"]) {
		t.Errorf("%s: %v\n%s", fullFile, err, vars)
	}

	started := processesOf(t, dir)
	t.Logf("%d processes of the test bed before down", len(started))
	if len(started) < 7 {
		t.Errorf("only %d processes of the test bed found: %v", len(started), started)
	}

	out, err = command(ctx, "down", "-dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	for _, want := range []string{"sshd sshd: stopped", "postfix old: stopped", "postfix new: stopped", "named named: stopped", "dovecot old-imap: stopped", "dovecot new-imap: stopped"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("down does not say %q:\n%s", want, out)
		}
	}
	checkGone(t, dir, started, env)
	select {
	case <-sessDone:
	case <-time.After(10 * time.Second):
		t.Error("the SSH session still runs after down")
	}
}

// TestUpForeground runs up in the foreground, uses the test bed, and
// stops it with SIGTERM: everything it started is stopped and its files
// removed.
func TestUpForeground(t *testing.T) {
	dir, ctx := parallelBed(t)

	var out lockedBuffer
	cmd := command(ctx, "up", "-dir", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, varsFile)); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("up exited: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Signal(syscall.SIGTERM)
			t.Fatalf("no %s after 60 s", varsFile)
		}
	}
	env := readEnv(t, filepath.Join(dir, envFile))
	checkSMTP(t, env["OLD_SMTP"], "old.test", "127.0.0.2:")
	checkSMTP(t, env["NEW_SMTP"], "new.test", "127.0.0.3:")
	checkDNS(t, env, out.String())
	sshLogin(t, env).Close()
	started := processesOf(t, dir)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("up after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("up still runs 60 s after SIGTERM\n%s", out.String())
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("up output:\n%s", out.String())
	}
	checkGone(t, dir, started, env)
}

// readEnv reads testbed.env's KEY=value lines, unquoting 'values'.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=value", path, line)
		}
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.Trim(v, "'"), `'\''`, "'")
		}
		env[k] = v
	}
	for _, k := range []string{"SSH_PORT", "SSH_IDENTITY", "SSH_KNOWN_HOSTS", "OLD_CONFIG_DIR", "OLD_SMTP", "OLD_MAILDIR", "NEW_CONFIG_DIR", "NEW_SMTP", "NEW_MAILDIR",
		"DNS_ADDR", "DNS_PORT", "DNS_ZONE", "TSIG_NAME", "TSIG_ALGORITHM", "TSIG_SECRET_FILE"} {
		if env[k] == "" {
			t.Errorf("%s: no %s", path, k)
		}
	}
	return env
}

// checkSMTP reads the 220 greeting of the smtpd at addr, which must be
// on the loopback address given (prefix) and greet as hostname.
func checkSMTP(t *testing.T, addr, hostname, prefix string) {
	t.Helper()
	if !strings.HasPrefix(addr, prefix) {
		t.Errorf("SMTP address %q is not on %s", addr, prefix)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Errorf("SMTP %s: %v", addr, err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220 "+hostname) {
		t.Errorf("SMTP %s greets %q (%v), want 220 %s", addr, line, err, hostname)
	}
	fmt.Fprintf(c, "QUIT\r\n")
}

// sshLogin logs in over SSH as testbed.env says, checking the server's
// key against SSH_KNOWN_HOSTS, and runs a command.
func sshLogin(t *testing.T, env map[string]string) *ssh.Client {
	t.Helper()
	key, err := os.ReadFile(env["SSH_IDENTITY"])
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(env["SSH_KNOWN_HOSTS"])
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(env["SSH_HOST"], env["SSH_PORT"])
	if env["SSH_HOST"] != "127.0.0.1" {
		t.Errorf("SSH_HOST=%q, want 127.0.0.1", env["SSH_HOST"])
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            env["SSH_USER"],
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh %s: %v", addr, err)
	}
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("id -u")
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Errorf("ssh id -u: %q, %v; want 0 (root)", out, err)
	}
	return client
}

// planWithVars runs mailplan plan on a copy of plans/examples/shadow-copy
// with -var-file=testbed.vars.hcl: the plan reaches the old instance over
// SSH and has changes to make (exit 2). It is skipped without a go
// command to build mailplan.
func planWithVars(t *testing.T, dir string) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build mailplan: %v", err)
	}
	work := t.TempDir()
	mp := filepath.Join(work, "mailplan")
	if out, err := exec.Command(goBin, "build", "-o", mp, "../mailplan").CombinedOutput(); err != nil {
		t.Fatalf("go build mailplan: %v\n%s", err, out)
	}
	if out, err := exec.Command("cp", "-r", "../../plans", work).CombinedOutput(); err != nil {
		t.Fatalf("cp plans: %v\n%s", err, out)
	}
	cmd := exec.Command(mp, "plan", "-detailed-exitcode", "-no-color", "-var-file="+filepath.Join(dir, varsFile))
	cmd.Dir = filepath.Join(work, "plans", "examples", "shadow-copy")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("mailplan plan -var-file: %v, want exit 2\n%s", err, out)
	}
	if want := `module.shadow["example.com"].postfix_map.bcc will be created`; !strings.Contains(string(out), want) {
		t.Errorf("plan does not say %q:\n%s", want, out)
	}
}

// proc is a process seen in /proc.
type proc struct {
	pid, ppid, pgrp int
	start           uint64
	cmdline         string
	environ         string
}

func (p proc) String() string { return fmt.Sprintf("%d %q", p.pid, p.cmdline) }

// readProc reads /proc/PID; ok is false when it is gone or a zombie.
func readProc(pid int) (p proc, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return p, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return p, false
	}
	p.pid = pid
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgrp, _ = strconv.Atoi(f[2])
	p.start, _ = strconv.ParseUint(f[19], 10, 64)
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	p.cmdline = string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	p.environ = string(environ)
	return p, true
}

func procOf(t *testing.T, pid int) proc {
	t.Helper()
	p, ok := readProc(pid)
	if !ok {
		t.Fatalf("no process %d", pid)
	}
	return p
}

// procAlive reports whether p still runs (same PID, same start time).
func procAlive(p proc) bool {
	q, ok := readProc(p.pid)
	return ok && q.start == p.start
}

func allProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if p, ok := readProc(pid); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// mentions reports whether p's command line or environment names dir (a
// Postfix process has MAIL_CONFIG=DIR/…/config).
func mentions(p proc, dir string) bool {
	return strings.Contains(p.cmdline, dir+"/") || strings.Contains(p.environ, "="+dir+"/")
}

// processesOf lists the test bed's processes in dir: those testbed.pids
// names, their descendants and process group members, and any process
// naming dir.
func processesOf(t *testing.T, dir string) []proc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, pidsFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := map[int]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 7 && !strings.HasPrefix(line, "#") {
			pid, _ := strconv.Atoi(f[2])
			if pid == 0 { // the new Dovecot, not started by up
				continue
			}
			roots[pid] = true
		}
	}
	if len(roots) != 5 {
		t.Fatalf("%s names %d running processes, want 5:\n%s", pidsFile, len(roots), b)
	}
	procs := allProcs()
	byPID := map[int]proc{}
	for _, p := range procs {
		byPID[p.pid] = p
	}
	var out []proc
	for _, p := range procs {
		ours := roots[p.pid] || roots[p.pgrp] || mentions(p, dir)
		for q := p; !ours && q.ppid > 1; {
			parent, ok := byPID[q.ppid]
			if !ok {
				break
			}
			ours = roots[parent.pid]
			q = parent
		}
		if ours {
			out = append(out, p)
		}
	}
	for pid := range roots {
		if _, ok := byPID[pid]; !ok {
			t.Errorf("PID %d of %s does not run", pid, pidsFile)
		}
	}
	return out
}

// checkGone checks that no process of started still runs, that no
// process names dir, that the servers' ports are closed and that the
// files up wrote are removed.
func checkGone(t *testing.T, dir string, started []proc, env map[string]string) {
	t.Helper()
	for _, p := range started {
		if procAlive(p) {
			t.Errorf("process left running: %v", p)
		}
	}
	for _, p := range allProcs() {
		if mentions(p, dir) {
			t.Errorf("process naming %s left running: %v", dir, p)
		}
	}
	for _, addr := range []string{env["OLD_SMTP"], env["NEW_SMTP"], net.JoinHostPort("127.0.0.1", env["SSH_PORT"]), net.JoinHostPort(env["DNS_ADDR"], env["DNS_PORT"]),
		net.JoinHostPort(env["OLD_IMAP_ADDR"], env["OLD_IMAP_PORT"]), net.JoinHostPort(env["NEW_IMAP_ADDR"], env["NEW_IMAP_PORT"])} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", addr)
		}
	}
	for _, f := range []string{envFile, varsFile, fullFile, pidsFile, "sshd", "old", "new", "named", "old-imap", "new-imap"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left in %s (%v)", f, dir, err)
		}
	}
}

// checkDNS queries the test bed's named as testbed.env describes it (dig,
// to DNS_ADDR:DNS_PORT only), updates the zone with nsupdate and the key
// TSIG_NAME, TSIG_ALGORITHM and TSIG_SECRET_FILE give, and checks that
// up's output (stdout) does not show the secret.
func checkDNS(t *testing.T, env map[string]string, upOutput string) {
	t.Helper()
	secret, err := os.ReadFile(env["TSIG_SECRET_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(secret)); len(s) < 16 || strings.Contains(upOutput, s) {
		t.Errorf("secret %d bytes; shown by up: %v", len(s), strings.Contains(upOutput, s))
	}
	if fi, err := os.Stat(env["TSIG_SECRET_FILE"]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v", env["TSIG_SECRET_FILE"], fi.Mode(), err)
	}
	dig := func(name, rtype string) string {
		t.Helper()
		out, err := exec.Command("dig", "+norecurse", "+short", "+time=2", "+tries=2", "@"+env["DNS_ADDR"], "-p", env["DNS_PORT"], name, rtype).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s %s: %v\n%s", name, rtype, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if mx := dig(env["DNS_ZONE"], "MX"); mx != "10 mail.old."+env["DNS_ZONE"] {
		t.Errorf("MX %q", mx)
	}
	name := "testbed-check." + env["DNS_ZONE"]
	script := fmt.Sprintf("server %s %s\nzone %s\nupdate add %s 5 A 192.0.2.7\nsend\n", env["DNS_ADDR"], env["DNS_PORT"], env["DNS_ZONE"], name)
	cmd := exec.Command("nsupdate", "-y", env["TSIG_ALGORITHM"]+":"+env["TSIG_NAME"]+":"+strings.TrimSpace(string(secret)))
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsupdate: %v\n%s", err, out)
	}
	if a := dig(name, "A"); a != "192.0.2.7" {
		t.Errorf("A after nsupdate: %q", a)
	}
}

// lockedBuffer is a bytes.Buffer a child process writes to while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
