package postfix_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
)

// The snapshot of a table, which goes into the state, holds its keyed
// digest, never its plain SHA-256 (a table may hold a short secret, e.g.
// a relay password map); Restore puts the table back with the same key,
// refuses with another one, naming the key and writing nothing, and still
// restores a snapshot with a plain digest, taken before keyed digests.
func TestMapSnapshotDigestKeyed(t *testing.T) {
	pf := instance(t, "old", "127.0.0.2")
	m := postfix.NewMap(newCounter(t))
	table := filepath.Join(pf.ConfigDir, "relay.pcre")
	const before = "/^relay$/ hunter2\n"
	if err := os.WriteFile(table, []byte(before), 0o640); err != nil {
		t.Fatal(err)
	}
	resourcetest.CheckSnapshotDigest(t, resourcetest.DigestCase{
		Type: m,
		Config: mapConfig(t, m, localHost, pf, map[string]cty.Value{
			"path": cty.StringVal(table), "type": cty.StringVal("pcre"), "content": cty.StringVal("/^relay$/ other\n"),
		}),
		Path:    table,
		Before:  before,
		After:   "/^relay$/ other\n",
		Changed: "/^relay$/ changed\n",
		Mode:    0o640,
	})
}
