package file_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

// restrictedSudo stands in for a sudo whose sudoers lets the SSH user
// read as root (the programs a plan's reads run) but nothing else, as
// sudo 1.9 says it.
const restrictedSudo = `#!/bin/sh
[ "$1" = -n ] && shift
[ "$1" = -- ] && shift
prog=$1
if [ "$prog" = env ]; then
	for a in "$@"; do case "$a" in env|*=*) ;; *) prog=$a; break ;; esac; done
fi
case "$prog" in
find|cat|readlink|getent|df) exec "$@" ;;
esac
echo "Sorry, user $(id -un) is not allowed to execute '$*' as root on $(hostname)." >&2
exit 1
`

// planAndCheck reads and plans cfg, then runs the plan-wide checks on it,
// as plan does; it returns CheckPlan's problems and the time they took.
func planAndCheck(t *testing.T, ctx context.Context, typ interface {
	resource.Type
	resource.PlanChecker
}, addr string, cfg cty.Value) ([]resource.PlanProblem, time.Duration) {
	t.Helper()
	read, err := typ.Read(ctx, resource.ReadRequest{Addr: addr, Config: cfg})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	plan, err := typ.Plan(ctx, resource.PlanRequest{Addr: addr, Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	start := time.Now()
	probs := typ.CheckPlan(ctx, resource.CheckPlanRequest{Instances: []resource.PlannedInstance{
		{Addr: addr, Type: typ.Name(), Config: cfg, Current: read.Current, Planned: plan.Planned},
	}})
	return probs, time.Since(start)
}

// A host whose sudo refuses what a write needs fails the plan, on its
// host attribute, with sudo's message and the fix; nothing is written.
// A file with no change planned is not checked.
func TestPlanChecksSudo(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(restrictedSudo), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := testbed.SSHDWith(t, testbed.SSHDOptions{PathPrepend: []string{bin}})
	h := srv.Host
	h.Sudo = true
	f := newFile(t)
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "aliases")
	cfg := config(t, f, h, map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal("root: admin\n"), "mode": cty.StringVal("0644")})

	probs, took := planAndCheck(t, ctx, f, "file.aliases", cfg)
	t.Logf("plan-wide checks with sudo refused: %v", took)
	var ae *resource.AttrError
	if len(probs) != 1 || !errors.As(probs[0].Err, &ae) ||
		!strings.Contains(ae.Detail, "is not allowed to execute") || !strings.Contains(ae.Detail, "sudoers") {
		t.Fatalf("problems %v, want one on host with sudo's refusal and the fix", probs)
	}
	t.Logf("%s: %s", ae.Summary, ae.Detail)
	if got := ae.Path; !got.Equals(cty.GetAttrPath("host")) {
		t.Errorf("reported on %#v, want host", got)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the plan wrote %s: %v", p, err)
	}

	// No change planned: no check, no problem.
	if err := os.WriteFile(p, []byte("root: admin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if probs, _ := planAndCheck(t, ctx, newFile(t), "file.aliases", cfg); len(probs) != 0 {
		t.Errorf("a file without a change was checked: %v", probs)
	}
}

// Without sudo, a directory the SSH user cannot write (here a read-only
// mount, which root cannot write either) fails the plan on the path
// attribute, naming the directory; a host it can write passes, and asks
// once per directory.
func TestPlanChecksWritable(t *testing.T) {
	testbed.RequireRoot(t, "mounting a read-only tmpfs")
	ro := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=64k,mode=0755", "mailplan-test", ro).CombinedOutput(); err != nil {
		t.Fatalf("mount a read-only tmpfs on %s: %v: %s", ro, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", ro).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", ro, err, out)
		}
	})
	h := testbed.SSHD(t).Host
	f := newFile(t)
	ctx := context.Background()
	p := filepath.Join(ro, "postfix", "aliases") // its directory is not there yet
	cfg := config(t, f, h, map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal("root: admin\n")})
	probs, took := planAndCheck(t, ctx, f, "file.aliases", cfg)
	t.Logf("plan-wide checks, one directory not writable: %v", took)
	var ae *resource.AttrError
	if len(probs) != 1 || !errors.As(probs[0].Err, &ae) || !ae.Path.Equals(cty.GetAttrPath("path")) ||
		!strings.Contains(ae.Detail, "cannot write in "+ro+" (to create "+filepath.Dir(p)+")") {
		t.Fatalf("problems %v, want one on path naming %s", probs, ro)
	}
	t.Logf("%s: %s", ae.Summary, ae.Detail)

	ok := filepath.Join(t.TempDir(), "aliases")
	cfg = config(t, f, h, map[string]cty.Value{"path": cty.StringVal(ok), "content": cty.StringVal("root: admin\n")})
	probs, took = planAndCheck(t, ctx, f, "file.ok", cfg)
	if len(probs) != 0 {
		t.Fatalf("a writable directory: %v", probs)
	}
	_, again := planAndCheck(t, ctx, f, "file.ok", cfg)
	t.Logf("plan-wide checks, writable: %v the first time, %v asked again (kept on the connection)", took, again)

	// The access check alone, on a connection already made: one command
	// for the directories not asked yet.
	pl := pool.New(nil)
	t.Cleanup(func() { pl.Close() })
	conn, err := pl.Get(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Stat(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := transport.CheckAccess(ctx, conn, t.TempDir(), t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Logf("the access check alone, two directories, one command: %v", time.Since(start))
}
