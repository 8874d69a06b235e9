package postfix

import (
	"strings"
	"testing"
)

// FuzzParseMainCF reads arbitrary bytes as main.cf: no panic; spans lie in
// order inside the file without overlapping; each span read alone gives
// the same setting (what restoreRaw and rawLines rely on when they cut a
// span out and put another in its place).
func FuzzParseMainCF(f *testing.F) {
	for _, seed := range []string{
		"",
		"myhostname = mx.example.com\n",
		"a = b\n  c\n# comment\n\td\ne=f",
		"transport_maps = hash:/etc/postfix/transport,\n    inline:{ a=b, c=d }\n",
		"  leading continuation\nx=1\r\n",
		"=\n==\nnoequals\n",
		"a = 1\n#x\n b\n\n c\n",
		"\xff = \x00\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		last := 0
		for _, l := range parseMainCF(data) {
			if l.Start < last || l.End <= l.Start || l.End > len(data) {
				t.Fatalf("span [%d,%d) after %d in %d bytes", l.Start, l.End, last, len(data))
			}
			last = l.End
			v, ok := rawValue(string(data[l.Start:l.End]))
			if !ok || v != l.Value {
				t.Fatalf("span %q read alone gives %q, %v; want %q", data[l.Start:l.End], v, ok, l.Value)
			}
		}
	})
}

// FuzzListEdit edits a list-valued parameter as postfix_map does: adding
// an entry makes the list name it and keeps every other element in order;
// removing it again gives the elements there were before.
func FuzzListEdit(f *testing.F) {
	f.Add("hash:/etc/postfix/a, hash:/etc/postfix/b", "hash:/etc/postfix/new", false)
	f.Add("inline:{ a=b, c=d }  hash:/x", "lmdb:/y", true)
	f.Add("", "hash:/x", true)
	f.Add("proxy:hash:/x", "hash:/x", false)
	f.Add("a,,b\t\nc", "d", false)
	f.Add("{ unclosed, x", "y", true)
	f.Fuzz(func(t *testing.T, v, entry string, last bool) {
		// An entry is one element: a table reference, never a separator
		// or a brace (config.go and map.go build it from a type and path).
		if entry == "" || strings.ContainsAny(entry, ", \t\r\n{}") {
			return
		}
		position := "first"
		if last {
			position = "last"
		}
		before := splitList(v)
		added := addEntry(v, entry, position)
		if !lists(added, entry) {
			t.Fatalf("addEntry(%q, %q) = %q does not list it", v, entry, added)
		}
		if lists(v, entry) {
			if added != v {
				t.Fatalf("addEntry(%q, %q) changed a list that names it already: %q", v, entry, added)
			}
			return
		}
		var others []string
		for _, e := range splitList(added) {
			if e != entry {
				others = append(others, e)
			}
		}
		if strings.Join(others, "\x00") != strings.Join(before, "\x00") {
			t.Fatalf("addEntry(%q, %q) = %q: other elements %q, want %q", v, entry, added, others, before)
		}
		if back := removeEntry(added, entry); !sameList(back, v) {
			t.Fatalf("removeEntry(addEntry(%q, %q)) = %q, not the same list", v, entry, back)
		}
	})
}
