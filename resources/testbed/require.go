package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ErrUnavailable matches (errors.Is) the errors of StartSSHD and
// StartPostfix that mean the server cannot run on this machine: its
// program is not installed, or it needs root. The test API skips the test
// on them, or fails it when Strict.
var ErrUnavailable = errors.New("test bed server unavailable on this machine")

// unavailable is an error that matches ErrUnavailable with its own
// message.
type unavailable struct{ msg string }

func (u unavailable) Error() string        { return u.msg }
func (u unavailable) Is(target error) bool { return target == ErrUnavailable }

// skipOrFatal ends the test on err from StartSSHD or StartPostfix: it
// skips on ErrUnavailable, unless Strict, and fails otherwise.
func skipOrFatal(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrUnavailable) {
		if Strict() {
			t.Fatalf("%v (required: CI=true or MAILPLAN_E2E=1)", err)
		}
		t.Skip(err)
	}
	t.Fatal(err)
}

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

// RequireRoot ends a test that needs root (to give files away, to write
// /etc/init.d) when not running as root: a skip on a laptop, a failure
// when Strict, since CI runs as root and must run it.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	skipOrFatal(t, unavailable{msg: "not root: " + why})
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

// CheckAvailable reports everything this machine lacks to run the whole
// test bed (StartSSHD and two StartPostfix): root, sshd, postfix,
// postconf and postmap. Its error matches ErrUnavailable; nil means all
// are there.
func CheckAvailable() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (Postfix's master runs as root)")
	}
	if _, err := os.Stat(SSHDPath); err != nil {
		missing = append(missing, SSHDPath+" (openssh-server)")
	}
	for _, name := range []string{"postfix", "postconf", "postmap"} {
		if _, err := lookSbin(name); err != nil {
			missing = append(missing, name+" (postfix)")
		}
	}
	return lacking("the test bed", missing)
}

// reachableDir checks that dir, where a server running as a system user
// keeps its files, has a name main.cf and named.conf can hold and lies
// under directories that users (e.g. "the bind user") can search.
func reachableDir(dir, users string) error {
	if !safePathRE.MatchString(dir) {
		return fmt.Errorf("directory %q may hold only letters, digits and /._+- (set TMPDIR)", dir)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s (mode %v) is not searchable by other users: %s cannot reach %s", d, fi.Mode().Perm(), users, dir)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// lacking is nil when nothing is missing, else the error (matching
// ErrUnavailable) saying what bed needs.
func lacking(bed string, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	return unavailable{bed + " needs " + strings.Join(missing, ", ")}
}
