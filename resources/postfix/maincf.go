package postfix

import (
	"bytes"
	"strings"
)

// logicalLine is one parameter setting in main.cf: its name, its value as
// postconf(1) -n prints it, and the bytes it spans.
type logicalLine struct {
	Name, Value string
	Start, End  int
}

// parseMainCF splits main.cf into parameter settings the way Postfix
// reads it (postconf(5), "syntax"): a logical line starts with
// non-whitespace text; a line that starts with whitespace continues it;
// blank lines and lines whose first non-whitespace character is "#" are
// ignored, also between continuation lines. A span ends after its last
// continuation line, so a comment after it is not part of it.
func parseMainCF(data []byte) []logicalLine {
	var out []logicalLine
	var cur *logicalLine
	var text []string
	flush := func() {
		if cur == nil {
			return
		}
		name, value, ok := strings.Cut(strings.Join(text, " "), "=")
		if ok {
			cur.Name = strings.TrimSpace(name)
			cur.Value = normalize(value)
			out = append(out, *cur)
		}
		cur, text = nil, nil
	}
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off + 1
		}
		line := strings.TrimRight(string(data[off:end]), "\r\n")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if cur != nil {
				text = append(text, trimmed)
				cur.End = end
			}
		default:
			flush()
			cur = &logicalLine{Start: off, End: end}
			text = []string{trimmed}
		}
		off = end
	}
	flush()
	return out
}

// rawValue is the value of a parameter's raw logical line.
func rawValue(raw string) (string, bool) {
	ls := parseMainCF([]byte(raw))
	if len(ls) != 1 {
		return "", false
	}
	return ls[0].Value, true
}

// normalize collapses whitespace as postconf -n prints values.
func normalize(v string) string { return strings.Join(strings.Fields(v), " ") }

// splitList splits a list-valued parameter into its elements as Postfix
// does (mystrtok_recursive with CHARS_COMMA_SP): separated by commas and
// whitespace, except inside {} groups, which stay one element
// (e.g. "inline:{ a=b, c=d }").
func splitList(v string) []string {
	var out []string
	depth, start := 0, -1
	for i, r := range v {
		sep := (r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n') && depth == 0
		switch {
		case sep:
			if start >= 0 {
				out = append(out, v[start:i])
				start = -1
			}
			continue
		case r == '{':
			depth++
		case r == '}' && depth > 0:
			depth--
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, v[start:])
	}
	return out
}

// lists reports whether the list value v already names the table entry
// ("hash:/etc/postfix/bcc"), directly or through the proxymap(8) service
// ("proxy:hash:/etc/postfix/bcc").
func lists(v, entry string) bool {
	for _, e := range splitList(v) {
		if e == entry || e == "proxy:"+entry {
			return true
		}
	}
	return false
}

// addEntry returns the list value v with entry added first or last,
// keeping every other element exactly and in order. When v already lists
// entry it is returned unchanged, whatever its separators.
func addEntry(v, entry, position string) string {
	if lists(v, entry) {
		return v
	}
	elems := splitList(v)
	switch {
	case position == "last" && unclosed(v):
		// Postfix reads everything after an unclosed "{" as one element
		// (a table it cannot open), so an entry written after it would
		// not be an element at all: it goes before it, last of those
		// Postfix can use.
		n := len(elems) - 1
		elems = append(elems[:n:n], entry, elems[n])
	case position == "last":
		elems = append(elems, entry)
	default:
		elems = append([]string{entry}, elems...)
	}
	return strings.Join(elems, ", ")
}

// unclosed reports whether v ends inside a "{" group that is never closed.
func unclosed(v string) bool {
	depth := 0
	for _, r := range v {
		switch {
		case r == '{':
			depth++
		case r == '}' && depth > 0:
			depth--
		}
	}
	return depth > 0
}

// removeEntry returns v without entry (not its proxy: form, which the
// user wrote), the other elements kept in order.
func removeEntry(v, entry string) string {
	var keep []string
	for _, e := range splitList(v) {
		if e != entry {
			keep = append(keep, e)
		}
	}
	return strings.Join(keep, ", ")
}

// sameList reports whether two list values have the same elements in the
// same order, whatever their separators.
func sameList(a, b string) bool {
	x, y := splitList(a), splitList(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
