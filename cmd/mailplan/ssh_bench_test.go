package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// BenchmarkSSH1000Files runs every phase of MAILPLAN_BENCH_FILES (1,000)
// files on a test bed sshd reached through a link that holds every chunk
// 10 ms each way (20 ms a round trip; MAILPLAN_RTT_DELAY_MS sets the one
// way delay), and reports each phase's seconds (also as BENCH lines,
// ssh_<phase>_s, for make bench). Off unless
// MAILPLAN_BENCH_SSH=1: it needs sshd and takes minutes.
func BenchmarkSSH1000Files(b *testing.B) {
	if os.Getenv("MAILPLAN_BENCH_SSH") == "" {
		b.Skip("MAILPLAN_BENCH_SSH not set")
	}
	n := benchN(1000)
	delay := 10 * time.Millisecond
	if ms, err := strconv.Atoi(os.Getenv("MAILPLAN_RTT_DELAY_MS")); err == nil {
		delay = time.Duration(ms) * time.Millisecond
	}
	srv := testbed.SSHD(b)
	host := srv.Host
	if delay > 0 {
		host = testbed.LatencyProxy(b, host, delay)
	}
	benchLine("ssh_files", float64(n))
	benchLine("ssh_rtt_ms", 2*delay.Seconds()*1000)
	for b.Loop() {
		dir, data := b.TempDir(), b.TempDir()
		src := sshHostBlock("remote", host) + fmt.Sprintf(`
resource "file" "f" {
  count   = %d
  host    = host.remote
  path    = "%s/f${count.index}"
  content = "file ${count.index}\n"
}
`, n, data)
		if err := os.WriteFile(filepath.Join(dir, "main.mp.hcl"), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
		for _, p := range []struct {
			name string
			args []string
		}{
			{"plan_create", []string{"plan"}},
			{"apply_create", []string{"apply", "-auto-approve"}},
			{"plan_noop", []string{"plan"}},
			{"destroy", []string{"destroy", "-auto-approve"}},
		} {
			start := time.Now()
			benchRun(b, dir, p.args...)
			took := time.Since(start)
			b.ReportMetric(took.Seconds(), p.name+"_s")
			benchLine("ssh_"+p.name+"_s", took.Seconds())
			b.Logf("%d files over SSH, %v each way: %-12s %6.1f s", n, delay, p.name, took.Seconds())
		}
	}
}
