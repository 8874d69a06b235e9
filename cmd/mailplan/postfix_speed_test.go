package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// TestShadowCopyReloadsOnce applies plans/examples/shadow-copy through the
// CLI to a real Postfix reached over SSH, for 2 and 10 domains (and for
// the counts MAILPLAN_SHADOW_DOMAINS lists, comma-separated, e.g. 50),
// and counts the reloads the instance's master logs: maps of one instance
// applied together share one main.cf edit and one reload. The timings of
// plan, apply and rollback and the reload counts are logged, and printed
// as BENCH lines (shadow_<domains>_…) for make bench; rollback must leave
// the configuration byte-identical.
func TestShadowCopyReloadsOnce(t *testing.T) {
	counts := []int{2, 10}
	for _, f := range strings.Split(os.Getenv("MAILPLAN_SHADOW_DOMAINS"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 && !slices.Contains(counts, n) {
			counts = append(counts, n)
		}
	}
	for _, n := range counts {
		t.Run(fmt.Sprintf("domains=%d", n), func(t *testing.T) { shadowCopyReloadsOnce(t, n) })
	}
}

func shadowCopyReloadsOnce(t *testing.T, n int) {
	// The copies never leave: only the address of a new server is needed.
	bed := newShadowBed(t, false)
	oldPF := bed.oldPF
	before := snapshotDir(t, oldPF.ConfigDir)
	var domains []string
	for i := range n {
		domains = append(domains, fmt.Sprintf("d%02d.example", i))
	}
	bed.writeVars(bed.vars(domains...))
	step := func(want int, args ...string) time.Duration {
		t.Helper()
		_, took := bed.step(want, args...)
		return took
	}

	reloads0 := countReloads(t, oldPF, 0)
	plan := step(2, "plan", "-detailed-exitcode")
	apply := step(0, "apply", "-auto-approve")
	reloads1 := countReloads(t, oldPF, reloads0+1)
	// Every map of the instance is in one batch (resource.Batcher): one
	// main.cf edit and one reload per instance per apply.
	if got := reloads1 - reloads0; got != 1 {
		t.Errorf("apply of %d maps reloaded Postfix %d times, want 1", 3*n, got)
	}
	replan := step(0, "plan", "-detailed-exitcode")
	rollback := step(0, "rollback", "-auto-approve")
	reloads2 := countReloads(t, oldPF, reloads1+1)
	// The restores, one after the other, share one reload too.
	if got := reloads2 - reloads1; got != 1 {
		t.Errorf("rollback of %d maps reloaded Postfix %d times, want 1", 3*n, got)
	}
	t.Logf("shadow-copy, %d domains (%d postfix_map): plan %v, apply %v (%d reload), re-plan %v, rollback %v (%d reloads)",
		n, 3*n, plan.Round(time.Millisecond), apply.Round(time.Millisecond), reloads1-reloads0,
		replan.Round(time.Millisecond), rollback.Round(time.Millisecond), reloads2-reloads1)
	// One Postfix instance (the old server's) is changed.
	for key, v := range map[string]float64{
		"plan_s": plan.Seconds(), "apply_s": apply.Seconds(), "rollback_s": rollback.Seconds(),
		"apply_reloads": float64(reloads1 - reloads0), "rollback_reloads": float64(reloads2 - reloads1), "instances": 1,
	} {
		benchLine(fmt.Sprintf("shadow_%d_%s", n, key), v)
	}

	after := snapshotDir(t, oldPF.ConfigDir)
	for name := range after {
		if strings.Contains(name, "/.mailplan-snapshots/") {
			delete(after, name)
		}
	}
	if !maps.Equal(before, after) {
		for name, b := range before {
			if after[name] != b {
				t.Errorf("%s differs after rollback:\n--- before\n%s\n--- after\n%s", name, b, after[name])
			}
		}
		for name := range after {
			if _, ok := before[name]; !ok {
				t.Errorf("%s was left behind by rollback", name)
			}
		}
	}
}

// countReloads counts the "reload" lines of the instance's master in its
// maillog, waiting up to 10 s for at least least of them (postlogd writes
// the log asynchronously), then a moment longer for any that follow.
func countReloads(t *testing.T, pf *testbed.PostfixInstance, least int) int {
	t.Helper()
	count := func() int {
		b, _ := os.ReadFile(pf.LogPath)
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "/master[") && strings.Contains(line, ": reload ") {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() < least && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	return count()
}
