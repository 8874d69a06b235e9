package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// BenchmarkDNS500Records50Zones is plan and apply of 500 dns_record A
// records across 50 zones on the local BIND, through the whole CLI: what
// issue 4 asks the closing note to report. Run with
// `go test -run '^$' -bench DNS500 ./cmd/mailplan/`.
func BenchmarkDNS500Records50Zones(b *testing.B) {
	const zones, perZone = 50, 10
	var names []string
	for i := 0; i < zones; i++ {
		names = append(names, fmt.Sprintf("z%02d.example.", i))
	}
	ns := testbed.Named(b, testbed.NamedOptions{Zones: names})
	key := ns.Keys["hmac-sha256"]
	dir := b.TempDir()
	var recs strings.Builder
	for _, z := range names {
		for j := 0; j < perZone; j++ {
			fmt.Fprintf(&recs, "    %q = { zone = %q, name = \"h%d\" }\n", fmt.Sprintf("h%d.%s", j, z), z, j)
		}
	}
	src := fmt.Sprintf(`
variable "tsig_secret" {
  type      = string
  sensitive = true
}
dns_server "bed" {
  address        = %q
  tsig_key_name  = %q
  tsig_algorithm = %q
  tsig_secret    = var.tsig_secret
}
locals {
  records = {
%s  }
}
resource "dns_record" "r" {
  for_each = local.records
  server   = dns_server.bed
  zone     = each.value.zone
  name     = each.value.name
  type     = "A"
  ttl      = 300
  records  = ["192.0.2.1"]
}
`, ns.Server(), key.Name, key.Algorithm, recs.String())
	os.WriteFile(filepath.Join(dir, "main.mp.hcl"), []byte(src), 0o644)
	b.Setenv("MAILPLAN_VAR_tsig_secret", key.Secret)
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	timed := func(args ...string) time.Duration {
		start := time.Now()
		var errb strings.Builder
		code := run(append([]string{"-chdir=" + dir, "-no-color"}, args...), strings.NewReader(""), io.Discard, &errb)
		os.Chdir(wd)
		if code != 0 && code != 2 {
			b.Fatalf("mailplan %v: exit %d: %s", args, code, errb.String())
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for b.Loop() {
		plan := timed("plan", "-detailed-exitcode")
		apply := timed("apply", "-auto-approve")
		noop := timed("plan", "-detailed-exitcode")
		destroy := timed("destroy", "-auto-approve")
		b.ReportMetric(float64(plan.Milliseconds()), "plan-ms")
		b.ReportMetric(float64(apply.Milliseconds()), "apply-ms")
		b.ReportMetric(float64(noop.Milliseconds()), "noop-plan-ms")
		b.ReportMetric(float64(destroy.Milliseconds()), "destroy-ms")
	}
}
