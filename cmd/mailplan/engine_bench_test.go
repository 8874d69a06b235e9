package main

import (
	"os"
	"strconv"
	"testing"
)

// benchN is MAILPLAN_BENCH_FILES, or def.
func benchN(def int) int {
	if n, err := strconv.Atoi(os.Getenv("MAILPLAN_BENCH_FILES")); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkPlanNoop5000Files is the no-change plan of 5,000 files already
// applied (MAILPLAN_BENCH_FILES sets another count): the engine's own
// cost, with little for the files to do. Profile it with -cpuprofile.
func BenchmarkPlanNoop5000Files(b *testing.B) {
	dir := benchPlan(b, benchN(5000))
	benchRun(b, dir, "apply", "-auto-approve")
	b.ResetTimer()
	for b.Loop() {
		benchRun(b, dir, "plan")
	}
}

// BenchmarkApplyCreate5000Files is the apply of 5,000 new files; each
// round destroys them again outside the timer.
func BenchmarkApplyCreate5000Files(b *testing.B) {
	dir := benchPlan(b, benchN(5000))
	for b.Loop() {
		benchRun(b, dir, "apply", "-auto-approve")
		b.StopTimer()
		benchRun(b, dir, "destroy", "-auto-approve")
		b.StartTimer()
	}
}
