package modsrc

import (
	"io"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireGit skips the test when git is missing, or fails it under CI=true
// or MAILPLAN_E2E=1 (resources/testbed's Strict, which the engine may not
// import).
func requireGit(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("MAILPLAN_E2E") == "1" {
			t.Fatalf("git is required (CI=true or MAILPLAN_E2E=1): %v", err)
		}
		t.Skipf("git not available: %v", err)
	}
	return p
}

// repo is a bare repository made for a test, and a work tree that pushes
// to it.
type repo struct {
	t    *testing.T
	bare string
	work string
}

// newRepo makes an empty bare repository NAME.git in dir.
func newRepo(t *testing.T, dir, name string) *repo {
	t.Helper()
	requireGit(t)
	r := &repo{t: t, bare: filepath.Join(dir, name+".git"), work: filepath.Join(dir, name+"-work")}
	r.git(dir, "init", "-q", "--bare", "-b", "main", r.bare)
	r.git(dir, "init", "-q", "-b", "main", r.work)
	r.git(r.work, "remote", "add", "origin", r.bare)
	return r
}

// URL is the repository's file:// URL.
func (r *repo) URL() string { return "file://" + filepath.ToSlash(r.bare) }

func (r *repo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (path → content; "" removes) in the work tree,
// commits them, pushes main and returns the commit.
func (r *repo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if content == "" {
			os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "--allow-empty", "-m", msg)
	r.git(r.work, "push", "-q", "origin", "main")
	return r.git(r.work, "rev-parse", "HEAD")
}

// tag points the annotated tag name at commit (moving it if it exists)
// and pushes it.
func (r *repo) tag(name, commit string) {
	r.t.Helper()
	r.git(r.work, "tag", "-f", "-a", "-m", name, name, commit)
	r.git(r.work, "push", "-q", "-f", "origin", "refs/tags/"+name)
}

// branch points the branch name at commit and pushes it.
func (r *repo) branch(name, commit string) {
	r.t.Helper()
	r.git(r.work, "push", "-q", "-f", "origin", commit+":refs/heads/"+name)
}

// serveHTTP serves the bare repositories in dir over git's smart HTTP
// protocol (git http-backend through CGI) and returns the base URL. It
// ignores credentials, which lets a test give some.
func serveHTTP(t *testing.T, dir string) string {
	t.Helper()
	gitBin := requireGit(t)
	h := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + dir, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1"},
	}
	h.Stderr = io.Discard // the missing repositories tests ask for
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// writePlan writes the files (path → content) of a plan directory.
func writePlan(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
