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

// fakeSudo stands in for `sudo -n` where sudo is not installed: it checks
// its options, marks the environment (MAILPLAN_FAKE_SUDO=1) and runs the
// command as the same user.
const fakeSudo = `#!/bin/sh
[ "$1" = -n ] || { echo "fake sudo: -n expected" >&2; exit 1; }
shift
[ "$1" = -- ] && shift
MAILPLAN_FAKE_SUDO=1 exec "$@"
`

// FakeSudo returns a directory holding a stand-in sudo, to put first in
// the PATH of a test server's sessions (SSHDOptions.PathPrepend), so that
// the sudo code paths of transports run without sudo installed or
// configured.
func FakeSudo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/sudo", []byte(fakeSudo), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
