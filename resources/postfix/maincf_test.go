package postfix

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitList(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"one", "hash:/etc/postfix/transport", []string{"hash:/etc/postfix/transport"}},
		{"commas and spaces", "hash:/a,hash:/b  hash:/c ,\thash:/d", []string{"hash:/a", "hash:/b", "hash:/c", "hash:/d"}},
		{"braces stay whole", "inline:{ a=b, { c = d e } }, hash:/x", []string{"inline:{ a=b, { c = d e } }", "hash:/x"}},
		{"references", "$virtual_alias_maps, hash:/x", []string{"$virtual_alias_maps", "hash:/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, splitList(tt.in)); diff != "" {
				t.Errorf("splitList(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestAddEntry(t *testing.T) {
	const ours = "hash:/etc/postfix/migration/bcc"
	tests := []struct {
		name, value, position, want string
	}{
		{"empty first", "", "first", ours},
		{"empty last", "", "last", ours},
		{"keeps the existing transport map, first", "hash:/etc/postfix/transport", "first", ours + ", hash:/etc/postfix/transport"},
		{"keeps the existing transport map, last", "hash:/etc/postfix/transport", "last", "hash:/etc/postfix/transport, " + ours},
		{"space separated rejoined", "hash:/a hash:/b", "last", "hash:/a, hash:/b, " + ours},
		{"already listed: untouched", "hash:/a  " + ours + ",hash:/b", "first", "hash:/a  " + ours + ",hash:/b"},
		{"listed through proxy: untouched", "proxy:" + ours, "first", "proxy:" + ours},
		{"other type of the same path is another table", "regexp:/etc/postfix/migration/bcc", "first", ours + ", regexp:/etc/postfix/migration/bcc"},
		{"braces kept", "inline:{ a=b, c=d }", "last", "inline:{ a=b, c=d }, " + ours},
		{"a prefix of ours is not ours", ours + ".old", "first", ours + ", " + ours + ".old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, addEntry(tt.value, ours, tt.position)); diff != "" {
				t.Errorf("addEntry(%q, %s) (-want +got):\n%s", tt.value, tt.position, diff)
			}
		})
	}
}

func TestRemoveEntry(t *testing.T) {
	const ours = "hash:/x"
	tests := []struct{ in, want string }{
		{ours, ""},
		{ours + ", hash:/t", "hash:/t"},
		{"hash:/t " + ours + " hash:/u", "hash:/t, hash:/u"},
		{"proxy:" + ours, "proxy:" + ours},
		{"hash:/t", "hash:/t"},
	}
	for _, tt := range tests {
		if got := removeEntry(tt.in, ours); got != tt.want {
			t.Errorf("removeEntry(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if !sameList("hash:/a hash:/b", "hash:/a, hash:/b") || sameList("hash:/a", "hash:/a, hash:/b") || sameList("hash:/b, hash:/a", "hash:/a, hash:/b") {
		t.Errorf("sameList compares elements in order, whatever the separators")
	}
}

func TestParseMainCF(t *testing.T) {
	const mainCF = "# top comment\n" +
		"mydestination = a    b,\n" +
		"\tc\n" +
		"  # comment inside\n" +
		"   d  \n" +
		"relay_domains=x  \n" +
		"\n" +
		"alias_maps =\n" +
		"# trailing comment\n" +
		"transport_maps = hash:/etc/postfix/transport"
	got := parseMainCF([]byte(mainCF))
	type line struct{ Name, Value, Raw string }
	var lines []line
	for _, l := range got {
		lines = append(lines, line{l.Name, l.Value, mainCF[l.Start:l.End]})
	}
	// Values as postconf -n prints them (checked with Postfix 3.7).
	want := []line{
		{"mydestination", "a b, c d", "mydestination = a    b,\n\tc\n  # comment inside\n   d  \n"},
		{"relay_domains", "x", "relay_domains=x  \n"},
		{"alias_maps", "", "alias_maps =\n"},
		{"transport_maps", "hash:/etc/postfix/transport", "transport_maps = hash:/etc/postfix/transport"},
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("parseMainCF (-want +got):\n%s", diff)
	}
	if v, ok := rawValue(want[0].Raw); !ok || v != "a b, c d" {
		t.Errorf("rawValue = %q, %v", v, ok)
	}
}
