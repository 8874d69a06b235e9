package configs

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestParseGitSource(t *testing.T) {
	type parsed struct{ URL, Repo, Subdir, Ref, String, LockKey string }
	for _, tc := range []struct {
		name, in string
		want     parsed
		err      string
	}{
		{name: "https subdir ref", in: "git::https://git.example/ops/mail-modules.git//relay-to-new?ref=v1.2.0", want: parsed{
			URL: "https://git.example/ops/mail-modules.git", Repo: "https://git.example/ops/mail-modules.git", Subdir: "relay-to-new", Ref: "v1.2.0",
			String: "git::https://git.example/ops/mail-modules.git//relay-to-new?ref=v1.2.0", LockKey: "git::https://git.example/ops/mail-modules.git?ref=v1.2.0"}},
		{name: "ssh no ref", in: "git::ssh://git@git.example:2222/ops/m.git//a/b", want: parsed{
			URL: "ssh://git@git.example:2222/ops/m.git", Repo: "ssh://git@git.example:2222/ops/m.git", Subdir: "a/b",
			String: "git::ssh://git@git.example:2222/ops/m.git//a/b", LockKey: "git::ssh://git@git.example:2222/ops/m.git"}},
		{name: "file", in: "git::file:///srv/git/m.git?ref=main", want: parsed{
			URL: "file:///srv/git/m.git", Repo: "file:///srv/git/m.git", Ref: "main",
			String: "git::file:///srv/git/m.git?ref=main", LockKey: "git::file:///srv/git/m.git?ref=main"}},
		{name: "file subdir", in: "git::file:///srv/git/m.git//x/./y/", want: parsed{
			URL: "file:///srv/git/m.git", Repo: "file:///srv/git/m.git", Subdir: "x/y",
			String: "git::file:///srv/git/m.git//x/y", LockKey: "git::file:///srv/git/m.git"}},
		{name: "https password", in: "git::https://alice:s3cret@git.example/m.git//r?ref=v1", want: parsed{
			URL: "https://alice:s3cret@git.example/m.git", Repo: "https://REDACTED@git.example/m.git", Subdir: "r", Ref: "v1",
			String: "git::https://REDACTED@git.example/m.git//r?ref=v1", LockKey: "git::https://REDACTED@git.example/m.git?ref=v1"}},
		{name: "https token as user", in: "git::https://s3cret@git.example/m.git", want: parsed{
			URL: "https://s3cret@git.example/m.git", Repo: "https://REDACTED@git.example/m.git",
			String: "git::https://REDACTED@git.example/m.git", LockKey: "git::https://REDACTED@git.example/m.git"}},
		{name: "ssh password", in: "git::ssh://git:s3cret@git.example/m.git", want: parsed{
			URL: "ssh://git:s3cret@git.example/m.git", Repo: "ssh://git:REDACTED@git.example/m.git",
			String: "git::ssh://git:REDACTED@git.example/m.git", LockKey: "git::ssh://git:REDACTED@git.example/m.git"}},
		{name: "no scheme", in: "git::git.example/m.git", err: "scheme"},
		{name: "scp form", in: "git::git@git.example:m.git", err: "scheme"},
		{name: "other scheme", in: "git::ftp://git.example/m.git", err: `"ftp"`},
		{name: "no host", in: "git::https:///m.git", err: "no host"},
		{name: "file with host", in: "git::file://host/m.git", err: "no host"},
		{name: "no path", in: "git::https://git.example", err: "no path"},
		{name: "empty subdir", in: "git::https://git.example/m.git//", err: "empty"},
		{name: "subdir leaves", in: "git::https://git.example/m.git//a/../../b", err: "leaves"},
		{name: "empty ref", in: "git::https://git.example/m.git?ref=", err: "empty"},
		{name: "ref option", in: "git::https://git.example/m.git?ref=--upload-pack=x", err: "dash"},
		{name: "ref refspec", in: "git::https://git.example/m.git?ref=a:b", err: "not a valid"},
		{name: "two refs", in: "git::https://git.example/m.git?ref=a&ref=b", err: "more than once"},
		{name: "other argument", in: "git::https://git.example/m.git?depth=1", err: `"depth"`},
		{name: "bad URL keeps secret", in: "git::https://alice:s3cret@git.example:port/m.git", err: "not a valid URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := ParseGitSource(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error holds the credentials: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := parsed{g.URL, g.Repo(), g.Subdir, g.Ref, g.String(), g.LockKey()}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRedactGitOutput(t *testing.T) {
	g, err := ParseGitSource("git::https://alice:s%33cret@git.example/m.git")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		"fatal: unable to access 'https://alice:s%33cret@git.example/m.git/': 403",
		"Authentication failed for alice with s3cret",
	} {
		out := g.Redact(in)
		if strings.Contains(out, "s3cret") || strings.Contains(out, "s%33cret") || strings.Contains(out, "alice") {
			t.Errorf("Redact(%q) = %q", in, out)
		}
	}
}

// TestModuleLockGolden: the lock file's format, and that it reads back.
func TestModuleLockGolden(t *testing.T) {
	lock := &ModuleLock{Sources: map[string]*LockedSource{}}
	for _, s := range []*LockedSource{
		{Key: "git::https://git.example/ops/mail-modules.git?ref=v1.2.0", Ref: "v1.2.0", Commit: strings.Repeat("ab", 20)},
		{Key: "git::ssh://git@git.example/ops/other.git", Commit: strings.Repeat("0f", 20)},
		{Key: "git::file:///srv/git/m.git?ref=main", Ref: "main", Commit: strings.Repeat("12", 20)},
	} {
		lock.Sources[s.Key] = s
	}
	got := lock.Bytes()
	golden := filepath.Join("testdata", "lock.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("lock file (-want +got); -update rewrites it:\n%s", d)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, LockFileName), got, 0o644); err != nil {
		t.Fatal(err)
	}
	back, diags := NewLoader().ReadModuleLock(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, s := range back.Sources {
		s.DeclRange = hcl.Range{}
	}
	if d := cmp.Diff(lock, back); d != "" {
		t.Errorf("read back (-want +got):\n%s", d)
	}
}

func TestReadModuleLockErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, summary string }{
		{"short commit", "module \"git::file:///m.git\" {\n  commit = \"abc\"\n}\n", "Invalid lock file"},
		{"no commit", "module \"git::file:///m.git\" {\n  ref = \"v1\"\n}\n", "Missing required argument"},
		{"duplicate", fmt.Sprintf("module \"k\" {\n  commit = %q\n}\nmodule \"k\" {\n  commit = %q\n}\n", strings.Repeat("a", 40), strings.Repeat("a", 40)), "Duplicate locked source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, LockFileName), []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, diags := NewLoader().ReadModuleLock(dir)
			if len(diags) != 1 || diags[0].Summary != tc.summary {
				t.Errorf("got %v, want one %q", diags, tc.summary)
			}
		})
	}
}
