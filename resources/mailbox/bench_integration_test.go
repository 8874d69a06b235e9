package mailbox_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
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
// MAILPLAN_BENCH_MESSAGES messages (default 500; make bench: 20000);
// MAILPLAN_BENCH_PARALLELISM sets parallelism.
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
	sshCmd := fmt.Sprintf("ssh -p %d -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes",
		e.from.Port, e.from.IdentityFile, e.from.KnownHosts)
	// Each timing starts with nothing dirty in the page cache: mailplan
	// flushes what it writes (syncfs) before renaming it into place, rsync
	// does not, and neither should pay for the other's writeback.
	runRsync := func(dst string) time.Duration {
		syscall.Sync()
		start := time.Now()
		out, err := exec.Command(rsync, "-a", "-e", sshCmd, fmt.Sprintf("%s@%s:%s/", e.from.User, e.from.Address, e.src), dst+"/").CombinedOutput()
		if err != nil {
			b.Fatalf("rsync: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	attrs := map[string]cty.Value{}
	if s := os.Getenv("MAILPLAN_BENCH_PARALLELISM"); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		attrs["parallelism"] = cty.NumberIntVal(int64(p))
	}
	runCopy := func() time.Duration {
		syscall.Sync()
		start := time.Now()
		e.mustApply(e.config(attrs))
		return time.Since(start)
	}
	for range b.N {
		base := b.TempDir()
		e.dst = filepath.Join(base, "mailplan")
		rdst := filepath.Join(base, "rsync")
		must(b, os.MkdirAll(rdst, 0o755))

		mpInit, rsInit := runCopy(), runRsync(rdst)
		mpNone, rsNone := runCopy(), runRsync(rdst)
		addMessages(b, e.src, max(1, n/100/len(maildirs(b, e.src))), fmt.Sprint(time.Now().UnixNano()))
		mpNew, rsNew := runCopy(), runRsync(rdst)

		b.Logf("initial copy: mailbox_copy %v, rsync %v (rsync/mailplan %.2f)", mpInit, rsInit, rsInit.Seconds()/mpInit.Seconds())
		b.Logf("no-change re-run: mailbox_copy %v, rsync %v (%.2f)", mpNone, rsNone, rsNone.Seconds()/mpNone.Seconds())
		b.Logf("re-run after 1%% new: mailbox_copy %v, rsync %v (%.2f)", mpNew, rsNew, rsNew.Seconds()/mpNew.Seconds())
		b.ReportMetric(rsInit.Seconds()/mpInit.Seconds(), "rsync/mp-initial")
		b.ReportMetric(rsNone.Seconds()/mpNone.Seconds(), "rsync/mp-nochange")
		b.ReportMetric(rsNew.Seconds()/mpNew.Seconds(), "rsync/mp-new")
		b.ReportMetric(float64(size)/(1<<20)/mpInit.Seconds(), "MiB/s")
	}
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
