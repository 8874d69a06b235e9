package local

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/mailplan/mailplan/engine/states/statetest"
)

// The local backend passes the backends' conformance suite; a workspace
// is a directory of the test's own, and the workspaces share the digest
// key and the audit trail, as the engine sets them up.
func TestSuite(t *testing.T) {
	var dirs sync.Map // *testing.T → its directory
	statetest.Run(t, func(t *testing.T, workspace string) statetest.Backend {
		dir, _ := dirs.LoadOrStore(t, t.TempDir())
		b := New(filepath.Join(dir.(string), workspace, "state.json"), nil)
		b.ShareDigestKey(dir.(string))
		return b
	})
}
