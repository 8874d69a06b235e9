package mailbox

import (
	"fmt"
	"regexp"
	"strings"
)

// glob is a compiled include or exclude pattern over mailbox paths
// relative to the source root ("." is the root itself): `*` matches within
// one path element, `?` one character of it, `**` any number of elements
// (so "**" matches everything, "alice/**" alice's folders and "alice"
// itself, "**/.Trash" every Trash folder).
type glob struct {
	pattern string
	re      *regexp.Regexp
}

func compileGlob(p string) (glob, error) {
	if p == "" {
		return glob{}, fmt.Errorf("empty pattern")
	}
	if strings.HasPrefix(p, "/") {
		return glob{}, fmt.Errorf("pattern %q is absolute; patterns match paths relative to source", p)
	}
	var b strings.Builder
	// (?s): a name may hold a newline, and "**" must match it too.
	b.WriteString("(?s)^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				switch {
				case i+1 < len(p) && p[i+1] == '/':
					i++
					b.WriteString("(?:.*/)?")
				case i > 1 && strings.HasSuffix(p[:i-1], "/"):
					// "a/**" matches "a" too.
					s := b.String()
					b.Reset()
					b.WriteString(strings.TrimSuffix(s, "/"))
					b.WriteString("(?:/.*)?")
				default:
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return glob{}, fmt.Errorf("pattern %q: %w", p, err)
	}
	return glob{pattern: p, re: re}, nil
}

func (g glob) match(rel string) bool { return g.re.MatchString(rel) }

// selector decides which mailboxes are copied.
type selector struct {
	include, exclude []glob
}

func newSelector(include, exclude []string) (selector, error) {
	var s selector
	for _, p := range include {
		g, err := compileGlob(p)
		if err != nil {
			return s, err
		}
		s.include = append(s.include, g)
	}
	for _, p := range exclude {
		g, err := compileGlob(p)
		if err != nil {
			return s, err
		}
		s.exclude = append(s.exclude, g)
	}
	return s, nil
}

func (s selector) selected(rel string) bool {
	in := false
	for _, g := range s.include {
		if g.match(rel) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, g := range s.exclude {
		if g.match(rel) {
			return false
		}
	}
	return true
}
