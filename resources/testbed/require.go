package testbed

import (
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether missing test servers are failures rather than
// skips: under CI=true or MAILPLAN_E2E=1.
func Strict() bool {
	return os.Getenv("CI") == "true" || os.Getenv("MAILPLAN_E2E") == "1"
}

// Require returns the path of binary (a name looked up in PATH, or an
// absolute path). When it is missing the test is skipped, or fails when
// Strict.
func Require(t testing.TB, binary string) string {
	t.Helper()
	p, err := exec.LookPath(binary)
	if err != nil {
		if Strict() {
			t.Fatalf("%s is required (CI=true or MAILPLAN_E2E=1): %v", binary, err)
		}
		t.Skipf("%s not available: %v", binary, err)
	}
	return p
}
