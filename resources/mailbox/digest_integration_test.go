package mailbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// The journal (which goes into the state) and the record of what mailplan
// wrote hold keyed digests of the metadata files, never their plain
// SHA-256; a restore with another digest key refuses, naming the key and
// writing nothing back, and a journal from before keyed digests (plain
// Before) still restores.
func TestMetadataDigestsKeyed(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 1, 3, 3)
	cfg := e.config(nil)
	e.mustApply(cfg)
	ul := filepath.Join(e.dst, "user0", "Maildir", "dovecot-uidlist")
	before, err := os.ReadFile(ul)
	must(t, err)
	const next = "3 V1700000000 N5 Gx\n1 a\n4 b\n"
	must(t, os.WriteFile(filepath.Join(e.src, "user0", "Maildir", "dovecot-uidlist"), []byte(next), 0o600))
	r := e.mustApply(cfg)

	plain := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	record, err := os.ReadFile(filepath.Join(e.dst, "user0", keep.Dir, "Maildir", "INBOX", "mailbox_copy-written.json"))
	must(t, err)
	for what, text := range map[string]string{"journal": string(joinEntries(r.journal)), "record": string(record)} {
		for _, b := range [][]byte{before, []byte(next)} {
			if strings.Contains(text, plain(b)) {
				t.Errorf("the %s holds the plain SHA-256 of %q:\n%s", what, b, text)
			}
		}
		if !strings.Contains(text, resource.DigestPrefix) {
			t.Errorf("the %s holds no keyed digest:\n%s", what, text)
		}
	}
	uidlist := func() string {
		t.Helper()
		b, err := os.ReadFile(ul)
		must(t, err)
		return string(b)
	}

	other := resource.WithDigestKey(context.Background(), resource.NewDigestKey([]byte("another key, another key, anothe")))
	err = e.typ.Restore(other, resource.RestoreRequest{Addr: "mailbox_copy.t", Config: cfg, Journal: r.journal})
	if err == nil || !strings.Contains(err.Error(), "digest key "+resource.DigestKeyFrom(context.Background()).ID()) {
		t.Fatalf("restore with another key: %v, want an error naming this process's key", err)
	}
	if got := uidlist(); got != next {
		t.Fatalf("a refused restore wrote the uidlist: %q", got)
	}

	// The same journal as an older mailplan wrote it: Before a plain
	// SHA-256, naming a copy kept under that name.
	var legacy [][]byte
	for _, raw := range r.journal {
		var en map[string]any
		must(t, json.Unmarshal(raw, &en))
		metas, _ := en["meta"].([]any)
		for _, m := range metas {
			if m := m.(map[string]any); m["before"] != nil {
				m["before"] = plain(before)
			}
		}
		b, err := json.Marshal(en)
		must(t, err)
		legacy = append(legacy, b)
	}
	store := filepath.Join(e.dst, "user0", keep.Dir, "Maildir", "INBOX")
	must(t, os.WriteFile(filepath.Join(store, plain(before)), before, 0o600))
	e.restore(cfg, legacy)
	if got := uidlist(); got != string(before) {
		t.Fatalf("restore of a plain-digest journal: uidlist %q, want %q", got, before)
	}
}

func joinEntries(entries [][]byte) []byte {
	var out []byte
	for _, e := range entries {
		out = append(append(out, e...), '\n')
	}
	return out
}
