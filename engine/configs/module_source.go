package configs

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// GitPrefix starts a module source that is a git repository, as in
// Terraform: git::URL[//SUBDIR][?ref=REF].
const GitPrefix = "git::"

// IsLocalSource reports whether a module source is a path relative to the
// calling module's directory.
func IsLocalSource(s string) bool {
	return strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../")
}

// IsGitSource reports whether a module source names a git repository.
func IsGitSource(s string) bool { return strings.HasPrefix(s, GitPrefix) }

// GitSource is a parsed git module source.
//
// The URL may carry credentials (https://user:token@host/...). They are
// used to fetch and nothing else: String, Repo and LockKey redact them,
// and every message made from a GitSource uses those.
type GitSource struct {
	// URL is the repository URL as written, credentials included: give it
	// to git, never to a user or a file.
	URL string
	// Scheme is https, http, ssh or file.
	Scheme string
	// Subdir is the module's directory inside the repository, slash
	// separated and clean, "" for the repository's top.
	Subdir string
	// Ref is the tag, branch or commit to fetch, "" for the remote's
	// default branch (its HEAD).
	Ref string

	redacted string // URL without secrets
}

// ParseGitSource parses git::URL[//SUBDIR][?ref=REF]. Its errors never
// hold the credentials of the URL.
func ParseGitSource(s string) (*GitSource, error) {
	if !IsGitSource(s) {
		return nil, fmt.Errorf("a git source starts with %q", GitPrefix)
	}
	rest := strings.TrimPrefix(s, GitPrefix)
	g := &GitSource{}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		q, err := url.ParseQuery(rest[i+1:])
		if err != nil {
			return nil, errors.New("the part after ? is not a valid query string")
		}
		rest = rest[:i]
		for k, v := range q {
			if k != "ref" {
				return nil, fmt.Errorf("%q is not a supported argument; only ref is (?ref=TAG, BRANCH or COMMIT)", k)
			}
			if len(v) != 1 {
				return nil, errors.New("ref is given more than once")
			}
			g.Ref = v[0]
		}
		if err := checkRef(g.Ref); err != nil {
			return nil, err
		}
	}
	sep := strings.Index(rest, "://")
	if sep <= 0 {
		return nil, errors.New("the repository must be a URL with a scheme: https://, ssh:// or file://")
	}
	if i := strings.Index(rest[sep+3:], "//"); i >= 0 {
		at := sep + 3 + i
		sub := rest[at+2:]
		rest = rest[:at]
		if sub == "" || strings.HasPrefix(sub, "/") {
			return nil, errors.New("the subdirectory after // is empty")
		}
		clean := path.Clean(sub)
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("the subdirectory %q leaves the repository", sub)
		}
		if clean != "." {
			g.Subdir = clean
		}
	}
	u, err := url.Parse(rest)
	if err != nil {
		// url's errors quote the whole URL, credentials and all.
		return nil, errors.New("the repository is not a valid URL")
	}
	g.URL = rest
	g.Scheme = u.Scheme
	switch u.Scheme {
	case "https", "http", "ssh":
		if u.Host == "" {
			return nil, fmt.Errorf("the %s URL has no host", u.Scheme)
		}
	case "file":
		if u.Host != "" || u.User != nil {
			return nil, errors.New("a file URL is file:///ABSOLUTE/PATH, with no host")
		}
	default:
		return nil, fmt.Errorf("the scheme %q is not supported; use https://, ssh:// or file://", u.Scheme)
	}
	if u.Path == "" || u.Path == "/" {
		return nil, errors.New("the repository URL has no path")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("the repository URL has a query or fragment; only ?ref= is supported, after the subdirectory")
	}
	g.redacted = redactURL(u)
	return g, nil
}

// checkRef refuses what git would read as an option or a refspec, and
// what no ref name can hold (git-check-ref-format(1)).
func checkRef(ref string) error {
	switch {
	case ref == "":
		return errors.New("ref is empty; leave it out for the default branch")
	case strings.HasPrefix(ref, "-"):
		return fmt.Errorf("the ref %q starts with a dash", ref)
	case strings.Contains(ref, ".."), strings.Contains(ref, "@{"), strings.HasSuffix(ref, "."), strings.HasSuffix(ref, "/"), strings.HasPrefix(ref, "/"):
		return fmt.Errorf("the ref %q is not a valid tag, branch or commit", ref)
	}
	for _, r := range ref {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(":~^?*[\\", r) {
			return fmt.Errorf("the ref %q is not a valid tag, branch or commit", ref)
		}
	}
	return nil
}

// redactURL is u without secrets. Over HTTP the user name itself may be a
// token (https://TOKEN@host), so the whole user part goes; over ssh the
// user name is an account (git@host) and only a password goes.
func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		switch {
		case c.Scheme == "ssh":
			if _, has := c.User.Password(); has {
				c.User = url.UserPassword(c.User.Username(), "REDACTED")
			}
		default:
			c.User = url.User("REDACTED")
		}
	}
	return c.String()
}

// Repo is the repository URL without credentials.
func (g *GitSource) Repo() string { return g.redacted }

// String is the source without credentials, in the form it was written.
func (g *GitSource) String() string {
	s := GitPrefix + g.redacted
	if g.Subdir != "" {
		s += "//" + g.Subdir
	}
	if g.Ref != "" {
		s += "?ref=" + g.Ref
	}
	return s
}

// LockKey names the source in the lock file: repository and ref, without
// the subdirectory (every directory of one ref is at the same commit) and
// without credentials.
func (g *GitSource) LockKey() string {
	s := GitPrefix + g.redacted
	if g.Ref != "" {
		s += "?ref=" + g.Ref
	}
	return s
}

// RefName is the ref for messages: the ref, or "the default branch".
func (g *GitSource) RefName() string {
	if g.Ref == "" {
		return "the default branch (HEAD)"
	}
	return fmt.Sprintf("ref %q", g.Ref)
}

// Redact replaces the URL as written with its redacted form in s, and any
// secret part of it alone, for text that git printed.
func (g *GitSource) Redact(s string) string {
	u, err := url.Parse(g.URL)
	if err != nil || u.User == nil {
		return s
	}
	s = strings.ReplaceAll(s, g.URL, g.redacted)
	if u.Scheme != "ssh" {
		s = strings.ReplaceAll(s, u.User.String()+"@", "REDACTED@")
	}
	if p, has := u.User.Password(); has && p != "" {
		s = strings.ReplaceAll(s, p, "REDACTED")
	}
	if u.Scheme != "ssh" && u.User.Username() != "" {
		s = strings.ReplaceAll(s, u.User.Username(), "REDACTED")
	}
	return s
}
