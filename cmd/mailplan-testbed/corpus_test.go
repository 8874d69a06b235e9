package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailplan/mailplan/resources/testbed"
)

func TestCorpusCommand(t *testing.T) {
	root := filepath.Join(testbed.SearchableTempDir(t), "mail")
	var out, errb bytes.Buffer
	code := run([]string{"corpus", "-dir", root, "-messages", "120", "-seed", "5", "-users", "2"}, &out, &errb)
	if code == 1 && strings.Contains(errb.String(), "doveadm") && !testbed.Strict() {
		t.Skip(errb.String())
	}
	if code != 0 {
		t.Fatalf("corpus: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "120 messages") || !strings.Contains(out.String(), "2 users") {
		t.Errorf("output %q", out.String())
	}
	for _, p := range []string{"alice/Maildir/dovecot-uidlist", "bob/Maildir/.Archive.2024.Q1/dovecot-uidlist"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "carol")); err == nil {
		t.Error("-users 2 made carol")
	}
	out.Reset()
	if code := run([]string{"corpus", "-dir", root, "-add", "7", "-seed", "6"}, &out, &errb); code != 0 {
		t.Fatalf("corpus -add: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "added 7 messages") {
		t.Errorf("output %q", out.String())
	}
	// Usage errors.
	for _, args := range [][]string{
		{"corpus"},
		{"corpus", "-dir", root},
		{"corpus", "-dir", root, "-messages", "5", "-add", "5"},
		{"corpus", "-dir", root, "-messages", "5", "extra"},
		{"corpus", "-dir", root, "-messages", "5", "-users", "0"},
	} {
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
