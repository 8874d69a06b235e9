package testbed

import (
	"fmt"
	"os/exec"
	"testing"
)

// SmallFS mounts a tmpfs of the given size and number of inodes on a new
// directory of the test, unmounted at Cleanup, and returns the directory:
// a real filesystem that fills up, for the "no space left" paths. Mounting
// needs root: it skips on a laptop and fails under CI=true otherwise.
func SmallFS(t testing.TB, size string, inodes int) string {
	t.Helper()
	RequireRoot(t, "mounting a small tmpfs")
	dir := t.TempDir()
	opts := fmt.Sprintf("size=%s,nr_inodes=%d,mode=0755", size, inodes)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "mailplan-test", dir).CombinedOutput(); err != nil {
		skipOrFatal(t, unavailable{msg: fmt.Sprintf("mount tmpfs on %s: %v: %s", dir, err, out)})
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
