package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchPlan writes a plan of n file resources over the local transport.
func benchPlan(b *testing.B, n int) (dir string) {
	b.Helper()
	dir, data := b.TempDir(), b.TempDir()
	src := fmt.Sprintf(`
host "here" {
  transport = "local"
}
resource "file" "f" {
  count   = %d
  host    = host.here
  path    = "%s/f${count.index}"
  content = "file ${count.index}\n"
}
`, n, data)
	if err := os.WriteFile(filepath.Join(dir, "main.mp.hcl"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// benchLine prints `BENCH key=value` on a line of its own on stdout, for
// scripts/bench.sh (make bench) to gather: one figure a line, never wrapped.
func benchLine(key string, value float64) {
	fmt.Printf("BENCH %s=%.6g\n", key, value)
}

func benchRun(b *testing.B, dir string, args ...string) {
	b.Helper()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	var errb strings.Builder
	if code := run(append([]string{"-chdir=" + dir, "-no-color"}, args...), strings.NewReader(""), io.Discard, &errb); code != 0 {
		b.Fatalf("mailplan %v: exit %d: %s", args, code, errb.String())
	}
}

// BenchmarkPlan1000Files is `mailplan plan` of 1,000 files not yet there.
// `make bench` runs the same shape next to Terraform's terraform_data.
func BenchmarkPlan1000Files(b *testing.B) {
	dir := benchPlan(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		benchRun(b, dir, "plan")
	}
}

// BenchmarkApplyDestroy1000Files creates 1,000 files and destroys them again.
func BenchmarkApplyDestroy1000Files(b *testing.B) {
	dir := benchPlan(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		benchRun(b, dir, "apply", "-auto-approve")
		benchRun(b, dir, "destroy", "-auto-approve")
	}
}
