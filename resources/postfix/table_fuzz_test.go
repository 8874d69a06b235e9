package postfix

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseEntries reads arbitrary text as a table of each type: no
// panic, and what it reads, rendered and read again, is what it read (a
// plan of an unchanged table is a no-op) whenever every entry is one the
// configuration could hold (checkKey and checkValue accept it).
func FuzzParseEntries(f *testing.F) {
	for _, seed := range []string{
		"",
		Header + "alice alice@example.com\nbob\tbob@example.com\n",
		"# comment\n\n  key   value with  spaces \r\n",
		"/^a b$/i OK\n!/x\\/y/ REJECT\nif /z/\nendif\n",
		"/unclosed value\n",
		"!/\\",
		"key\n",
		"\xff\xfe \x00\n",
	} {
		for i := range TableTypes {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, ti uint8, text string) {
		typ := TableTypes[int(ti)%len(TableTypes)]
		got := parseEntries(typ, text)
		for _, e := range got {
			if checkKey(typ, e.Key) != "" || checkValue(e.Key, e.Value) != "" {
				return
			}
		}
		again := parseEntries(typ, render(got))
		if d := cmp.Diff(got, again); d != "" {
			t.Fatalf("%s table: read, rendered and read again differs (-first +again):\n%s", typ, d)
		}
	})
}

// FuzzTableRoundTrip renders one entry the configuration accepts and reads
// it back: it must be the same entry.
func FuzzTableRoundTrip(f *testing.F) {
	for i := range TableTypes {
		f.Add(uint8(i), "alice@example.com", "alice@new.example.com")
		f.Add(uint8(i), "/^x y$/i", "REJECT no")
		f.Add(uint8(i), "!/a\\/b/", "OK")
		f.Add(uint8(i), "endif", "")
	}
	f.Fuzz(func(t *testing.T, ti uint8, key, value string) {
		typ := TableTypes[int(ti)%len(TableTypes)]
		if checkKey(typ, key) != "" || checkValue(key, value) != "" {
			return
		}
		want := []entry{{Key: key, Value: value}}
		got := parseEntries(typ, render(want))
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%s table: entry %q %q does not read back (-want +got):\n%s", typ, key, value, d)
		}
	})
}
