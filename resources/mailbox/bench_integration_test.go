package mailbox_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/testbed"
)

// benchTree writes n messages with sizes drawn like real mail (most 2–50
// KiB, one in 200 of 1–5 MiB) over users × folders.
func benchTree(b *testing.B, root string, n int) (bytes int64) {
	r := rand.New(rand.NewPCG(42, 7))
	users, folders := max(1, n/400), []string{"", ".Sent", ".Archive", ".Archive.2024", ".Trash"}
	buf := make([]byte, 5<<20)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("u%d", i%users), "Maildir", folders[i%len(folders)])
		if i < users*len(folders) {
			for _, sub := range []string{"cur", "new", "tmp"} {
				must(b, os.MkdirAll(filepath.Join(dir, sub), 0o700))
			}
		}
		size := 2<<10 + r.IntN(48<<10)
		if r.IntN(200) == 0 {
			size = 1<<20 + r.IntN(4<<20)
		}
		name := filepath.Join(dir, "cur", fmt.Sprintf("%d.M%dP1.old,S=%d:2,S", 1700000000+i, i, size))
		must(b, os.WriteFile(name, buf[:size], 0o600))
		bytes += int64(size)
	}
	return bytes
}

// BenchmarkCopy compares mailbox_copy with rsync -a over ssh, against the
// same sshd and tree in the same run: the recommended deployment (the
// destination local, the source over SSH). The corpus has
// MAILPLAN_BENCH_MESSAGES messages (default 500; make bench: 100,000);
// MAILPLAN_BENCH_PARALLELISM sets parallelism. The figures are logged,
// and printed as BENCH lines (mailbox_…) for make bench.
func BenchmarkCopy(b *testing.B) {
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		b.Fatal("rsync is not installed: ", err)
	}
	n := 500
	if s := os.Getenv("MAILPLAN_BENCH_MESSAGES"); s != "" {
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	e := newEnv(b)
	size := benchTree(b, e.src, n)
	b.Logf("corpus: %d messages, %.1f MiB", n, float64(size)/(1<<20))
	benchLine("mailbox_messages", float64(n))
	benchLine("mailbox_corpus_mib", float64(size)/(1<<20))
	sshCmd := fmt.Sprintf("ssh -p %d -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes",
		e.from.Port, e.from.IdentityFile, e.from.KnownHosts)
	// Each timing starts with nothing dirty in the page cache: mailplan
	// flushes what it writes (syncfs) before renaming it into place, rsync
	// does not, and neither should pay for the other's writeback.
	runRsync := func(dst string) run {
		syscall.Sync()
		start := time.Now()
		cmd := exec.Command(rsync, "-a", "-e", sshCmd, fmt.Sprintf("%s@%s:%s/", e.from.User, e.from.Address, e.src), dst+"/")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("rsync: %v\n%s", err, out)
		}
		return run{time.Since(start), maxRSS(cmd)}
	}
	attrs := map[string]cty.Value{}
	if s := os.Getenv("MAILPLAN_BENCH_PARALLELISM"); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		attrs["parallelism"] = cty.NumberIntVal(int64(p))
	}
	runCopy := func(e *env) run {
		syscall.Sync()
		runtime.GC()
		debug.FreeOSMemory()
		before := resetPeak(b)
		start := time.Now()
		e.mustApply(e.config(attrs))
		return run{time.Since(start), vmHWM(b) - before}
	}
	// The whole tree local at both ends, against cp -a.
	local := *e
	local.from = resource.Host{Name: "old", Transport: "local"}
	local.typ = mailbox.New(local.hosts)
	// MAILPLAN_BENCH_ROUNDS more initial copies of each, in turns (the
	// order swapped every round) and removed after, give the median ratio:
	// the machine's load from elsewhere changes more quickly than a run.
	rounds := 0
	if s := os.Getenv("MAILPLAN_BENCH_ROUNDS"); s != "" {
		if rounds, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	var ratios []float64
	for r := range rounds {
		base := b.TempDir()
		e.dst = filepath.Join(base, "mailplan")
		rdst := filepath.Join(base, "rsync")
		must(b, os.MkdirAll(rdst, 0o755))
		var mp, rs run
		if r%2 == 0 {
			mp, rs = runCopy(e), runRsync(rdst)
		} else {
			rs, mp = runRsync(rdst), runCopy(e)
		}
		ratios = append(ratios, mp.d.Seconds()/rs.d.Seconds())
		b.Logf("round %d initial copy: mailbox_copy %v, rsync %v (mailplan/rsync %.2f)", r, mp.d, rs.d, ratios[r])
		must(b, os.RemoveAll(base))
	}
	if rounds > 0 {
		sort.Float64s(ratios)
		b.Logf("initial copy, median of %d rounds: mailplan/rsync %.2f", rounds, ratios[rounds/2])
		b.ReportMetric(ratios[rounds/2], "mp/rsync-initial-median")
		benchLine("mailbox_rounds", float64(rounds))
		benchLine("mailbox_initial_median_ratio", ratios[rounds/2])
	}
	for range b.N {
		base := b.TempDir()
		e.dst = filepath.Join(base, "mailplan")
		local.dst = filepath.Join(base, "mailplan-local")
		rdst := filepath.Join(base, "rsync")
		cdst := filepath.Join(base, "cp")
		must(b, os.MkdirAll(rdst, 0o755))

		mpInit, rsInit := runCopy(e), runRsync(rdst)
		mpNone, rsNone := runCopy(e), runRsync(rdst)
		lcInit, cpInit := runCopy(&local), runCp(b, e.src, cdst)
		addMessages(b, e.src, max(1, n/100/len(maildirs(b, e.src))), fmt.Sprint(time.Now().UnixNano()))
		mpNew, rsNew := runCopy(e), runRsync(rdst)

		b.Logf("peak memory (VmHWM growth) of mailbox_copy: initial %d MiB, no-change %d MiB, 1%% new %d MiB, local %d MiB",
			mpInit.peak>>20, mpNone.peak>>20, mpNew.peak>>20, lcInit.peak>>20)
		b.Logf("peak memory (maxrss) of rsync: initial %d MiB, no-change %d MiB, 1%% new %d MiB; cp -a %d MiB",
			rsInit.peak>>20, rsNone.peak>>20, rsNew.peak>>20, cpInit.peak>>20)
		b.Logf("initial copy: mailbox_copy %v, rsync %v (mailplan/rsync %.2f)", mpInit.d, rsInit.d, mpInit.d.Seconds()/rsInit.d.Seconds())
		b.Logf("no-change re-run: mailbox_copy %v, rsync %v (%.2f)", mpNone.d, rsNone.d, mpNone.d.Seconds()/rsNone.d.Seconds())
		b.Logf("re-run after 1%% new: mailbox_copy %v, rsync %v (%.2f)", mpNew.d, rsNew.d, mpNew.d.Seconds()/rsNew.d.Seconds())
		b.Logf("local initial copy: mailbox_copy %v, cp -a %v (mailplan/cp %.2f)", lcInit.d, cpInit.d, lcInit.d.Seconds()/cpInit.d.Seconds())
		b.ReportMetric(mpInit.d.Seconds()/rsInit.d.Seconds(), "mp/rsync-initial")
		b.ReportMetric(mpNone.d.Seconds()/rsNone.d.Seconds(), "mp/rsync-nochange")
		b.ReportMetric(mpNew.d.Seconds()/rsNew.d.Seconds(), "mp/rsync-new")
		b.ReportMetric(lcInit.d.Seconds()/cpInit.d.Seconds(), "mp/cp-local")
		b.ReportMetric(float64(max(mpInit.peak, mpNone.peak, mpNew.peak))/(1<<20), "peak-MiB")
		b.ReportMetric(float64(size)/(1<<20)/mpInit.d.Seconds(), "MiB/s")
		for key, r := range map[string]run{
			"initial_mp": mpInit, "initial_rsync": rsInit, "nochange_mp": mpNone, "nochange_rsync": rsNone,
			"new_mp": mpNew, "new_rsync": rsNew, "local_mp": lcInit, "local_cp": cpInit,
		} {
			benchLine("mailbox_"+key+"_s", r.d.Seconds())
			benchLine("mailbox_"+key+"_peak_mib", float64(r.peak)/(1<<20))
		}
	}
}

// benchLine prints `BENCH key=value` on a line of its own on stdout, for
// scripts/bench.sh (make bench) to gather: one figure a line, never wrapped.
func benchLine(key string, value float64) {
	fmt.Printf("BENCH %s=%.6g\n", key, value)
}

// run is one timed copy and the peak memory it took.
type run struct {
	d    time.Duration
	peak int64
}

// runCp copies src to dst with cp -a, timed, with its maximum RSS.
func runCp(b *testing.B, src, dst string) run {
	syscall.Sync()
	start := time.Now()
	cmd := exec.Command("cp", "-a", src, dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("cp -a: %v\n%s", err, out)
	}
	return run{time.Since(start), maxRSS(cmd)}
}

// maxRSS is the peak resident size of a command that ended (and of the
// children it waited for), in bytes.
func maxRSS(cmd *exec.Cmd) int64 {
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return 0
}

// resetPeak resets this process's VmHWM to its current RSS (clear_refs,
// proc(5)) and returns that RSS.
func resetPeak(b *testing.B) int64 {
	must(b, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
	return vmHWM(b)
}

// vmHWM is this process's peak RSS since the last resetPeak, in bytes.
func vmHWM(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	must(b, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			must(b, err)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkDedupeRead times what dedupe costs a plan at its worst: every
// mailbox at the destination holds one message of its own (a shadow
// copy), and none of the source's yet, so that the header block of every
// source message is read (over SSH) to look for it. The same Read with
// dedupe = false reads none. The corpus is the test bed's (real headers),
// MAILPLAN_BENCH_MESSAGES messages (default 2000).
func BenchmarkDedupeRead(b *testing.B) {
	n := 2000
	if s := os.Getenv("MAILPLAN_BENCH_MESSAGES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	e := newEnv(b)
	e.src = testbed.SearchableTempDir(b)
	corpus := testbed.MakeCorpus(b, testbed.CorpusOptions{Root: e.src, Messages: n, Seed: 5, Owner: -1, Group: -1})
	for _, mb := range corpus.Mailboxes {
		msgs, _ := filepath.Glob(filepath.Join(e.src, mb, "cur", "*"))
		if len(msgs) > 0 {
			shadowCopy(b, msgs[0], filepath.Join(e.dst, mb), "1800000000.M1P1.shadow")
		}
	}
	read := func(dedupe bool) time.Duration {
		cfg := e.config(map[string]cty.Value{"dedupe": cty.BoolVal(dedupe)})
		start := time.Now()
		_, err := e.typ.Read(b.Context(), resource.ReadRequest{Config: cfg})
		must(b, err)
		return time.Since(start)
	}
	for range b.N {
		off, on := read(false), read(true)
		b.Logf("%d messages, %.0f MiB: Read %v without dedupe, %v with every header block read (%.0f µs a message)",
			corpus.Messages, float64(corpus.Bytes)/(1<<20), off, on, float64((on-off).Microseconds())/float64(corpus.Messages))
	}
}
