package modsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/mailplan/mailplan/engine/configs"
)

// errUnknownRef, errUnreachable and errNoGit classify what went wrong
// fetching, for the diagnostic.
var (
	errUnknownRef  = errors.New("unknown ref")
	errUnreachable = errors.New("repository unreachable")
	errNoGit       = errors.New("git not found")
)

// gitEnvKeep are the variables of mailplan's environment that git and ssh
// get: where programs are, where ssh finds its keys and agent, proxies and
// CA certificates. Nothing else passes: not GIT_DIR or GIT_WORK_TREE (set
// when mailplan runs from a git hook, they would point git at the wrong
// repository), not GIT_CONFIG_* nor anything that changes what git reads.
var gitEnvKeep = []string{
	"PATH", "HOME", "USER", "TMPDIR", "SSH_AUTH_SOCK", "GIT_SSH", "GIT_SSH_COMMAND",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO",
}

// gitEnv is the environment every git command runs in. No system or user
// configuration is read (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL): an
// insteadOf, a credential helper or a hook path in ~/.gitconfig would make
// init fetch differently on every machine. Nothing prompts: not git
// (GIT_TERMINAL_PROMPT=0, no askpass) and not ssh (BatchMode, unless the
// user set GIT_SSH_COMMAND); a missing credential is an error. Messages
// are in English, so that they can be classified.
func gitEnv() []string {
	env := []string{
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
		"GCM_INTERACTIVE=never",
		"LC_ALL=C",
	}
	for _, k := range gitEnvKeep {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if os.Getenv("GIT_SSH_COMMAND") == "" && os.Getenv("GIT_SSH") == "" {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return env
}

// git runs the git binary for one source.
type git struct {
	log hclog.Logger
	src *configs.GitSource
}

// run runs git with args in dir and returns its standard output. Its
// errors hold git's own message, credentials redacted.
func (g *git) run(ctx context.Context, dir string, args ...string) (string, error) {
	bin, err := exec.LookPath("git")
	if err != nil {
		return "", errNoGit
	}
	var argv []string
	if g.src.Scheme == "file" {
		// Since git 2.38.1 the file transport is refused by default where
		// it was a risk (submodules); here the user named it.
		argv = append(argv, "-c", "protocol.file.allow=always")
	}
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	g.log.Trace("git", "args", g.src.Redact(strings.Join(argv, " ")))
	err = cmd.Run()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		msg := strings.TrimSpace(g.src.Redact(stderr.String()))
		g.log.Debug("git failed", "args", g.src.Redact(strings.Join(argv, " ")), "error", msg)
		return "", &gitError{msg: msg}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// gitError is a failed git command: what it printed, redacted.
type gitError struct{ msg string }

func (e *gitError) Error() string { return e.msg }

var hexRef = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// fetch fetches the source's ref into a new repository at dir, checks it
// out there and drops the .git directory, and returns the commit.
//
// Only the ref is fetched, one commit deep: a tag, a branch or a full
// commit hash (git fetch resolves tags and branches as git checkout
// would; servers let a reachable commit be fetched by hash). An
// abbreviated hash cannot be fetched by name: for one, the branches and
// tags are fetched whole and the hash looked up among them.
//
// The .git directory is dropped because nothing needs it: the manifest and
// the lock file record the commit; a module directory is read, never
// worked in; and a nested .git would make a plan repository that commits
// .mailplan see an embedded repository.
func (g *git) fetch(ctx context.Context, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if _, err := g.run(ctx, dir, "init", "-q", "--template=", "."); err != nil {
		return "", err
	}
	ref := g.src.Ref
	if ref == "" {
		ref = "HEAD"
	}
	commit := ""
	_, err := g.run(ctx, dir, "fetch", "-q", "--no-tags", "--depth", "1", "--", g.src.URL, ref)
	if err == nil {
		commit, err = g.run(ctx, dir, "rev-parse", "--verify", "-q", "FETCH_HEAD^{commit}")
	} else if hexRef.MatchString(ref) && isUnknownRef(err) {
		if _, err = g.run(ctx, dir, "fetch", "-q", "--no-tags", "--", g.src.URL, "+refs/heads/*:refs/mp/heads/*", "+refs/tags/*:refs/mp/tags/*"); err == nil {
			if commit, err = g.run(ctx, dir, "rev-parse", "--verify", "-q", ref+"^{commit}"); err != nil {
				err = fmt.Errorf("%w: no branch or tag has a commit %s", errUnknownRef, ref)
			}
		}
	}
	if err != nil {
		return "", classify(err)
	}
	if !configs.IsCommit(commit) {
		return "", fmt.Errorf("git rev-parse gave %q, not a commit", commit)
	}
	if _, err := g.run(ctx, dir, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit); err != nil {
		return "", err
	}
	if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
		return "", err
	}
	return commit, nil
}

func isUnknownRef(err error) bool {
	var ge *gitError
	if !errors.As(err, &ge) {
		return errors.Is(err, errUnknownRef)
	}
	for _, s := range []string{"couldn't find remote ref", "not our ref", "no such remote ref", "unknown revision"} {
		if strings.Contains(ge.msg, s) {
			return true
		}
	}
	return false
}

// classify wraps a fetch error as errUnknownRef or errUnreachable when it
// is one, keeping git's message.
func classify(err error) error {
	var ge *gitError
	switch {
	case errors.Is(err, errUnknownRef) || errors.Is(err, errNoGit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case !errors.As(err, &ge):
		return err
	case isUnknownRef(err):
		return fmt.Errorf("%w: %s", errUnknownRef, ge.msg)
	}
	return fmt.Errorf("%w: %s", errUnreachable, ge.msg)
}
