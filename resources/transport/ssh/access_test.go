package ssh

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/resources/testbed"
)

// The write check's script, run as a user who is not root (nobody, with
// setpriv), answers as the SSH user's shell would: a directory of root's
// is not writable, a sticky world-writable one is, and a directory not
// there yet is answered for the nearest one above it.
func TestWritableScriptNotRoot(t *testing.T) {
	testbed.RequireRoot(t, "running the check as another user")
	setpriv := testbed.Require(t, "setpriv")
	base := t.TempDir()
	// t.TempDir's directories are 0700: nobody must reach into them.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rootOnly, shared := filepath.Join(base, "etc-postfix"), filepath.Join(base, "shared")
	for d, mode := range map[string]os.FileMode{rootOnly: 0o755, shared: 0o1777} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	ask := []string{rootOnly, shared, filepath.Join(rootOnly, "maps", "sub"), filepath.Join(shared, "new")}
	cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", writableScript, "sh"}, ask...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, ok := parseWritable(out, len(ask))
	if !ok {
		t.Fatalf("unreadable answer %q", out)
	}
	want := []writable{{false, rootOnly}, {true, shared}, {false, rootOnly}, {true, shared}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(writable{})); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

func TestParseWritable(t *testing.T) {
	for _, c := range []struct {
		name string
		out  string
		n    int
		ok   bool
	}{
		{"two", "w /a\x00- /b\x00", 2, true},
		{"a newline in a name", "w /a\nb\x00", 1, true},
		{"missing one", "w /a\x00", 2, false},
		{"nologin's message", "This account is currently not available.\n", 1, false},
		{"nothing", "", 1, false},
	} {
		if _, ok := parseWritable([]byte(c.out), c.n); ok != c.ok {
			t.Errorf("%s: ok %v, want %v", c.name, ok, c.ok)
		}
	}
}
