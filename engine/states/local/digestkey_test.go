package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestDigestKey(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".mailplan")
	b := New(filepath.Join(dir, "state.json"), nil)
	if k, err := b.DigestKey(ctx, false); k != nil || err != nil {
		t.Fatalf("DigestKey without create on a new directory = %x, %v; want nil, nil", k, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("DigestKey without create made %s: %v", dir, err)
	}
	k1, err := b.DigestKey(ctx, true)
	if err != nil || len(k1) != digestKeySize {
		t.Fatalf("DigestKey = %x, %v; want %d bytes", k1, err, digestKeySize)
	}
	fi, err := os.Stat(b.DigestKeyPath())
	if err != nil || fi.Mode().Perm() != 0o600 || b.DigestKeyPath() != filepath.Join(dir, "digest.key") {
		t.Fatalf("key file %s: %v, %v; want mode 0600", b.DigestKeyPath(), fi, err)
	}
	k2, err := New(filepath.Join(dir, "state.json"), nil).DigestKey(ctx, false)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second read = %x, %v; want %x", k2, err, k1)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%s holds %d entries, want the key alone (no temporary file left)", dir, len(entries))
	}

	// A damaged key is an error, never replaced.
	if err := os.WriteFile(b.DigestKeyPath(), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DigestKey(ctx, true); err == nil || !strings.Contains(err.Error(), "not 32 bytes") {
		t.Fatalf("damaged key: %v", err)
	}
	if data, _ := os.ReadFile(b.DigestKeyPath()); string(data) != "short\n" {
		t.Errorf("damaged key was replaced by %q", data)
	}
}

// Runs that make the first key at once all end with the same key.
func TestDigestKeyRace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := New(path, nil).DigestKey(ctx, true)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for i, k := range keys {
		if !bytes.Equal(k, keys[0]) {
			t.Errorf("run %d has key %x, run 0 %x", i, k, keys[0])
		}
	}
}
