package mailbox

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern string
		rel     string
		want    bool
	}{
		{"**", ".", true},
		{"**", "alice/Maildir/.Sent", true},
		{"alice/**", "alice", true},
		{"alice/**", "alice/Maildir/.Sent", true},
		{"alice/**", "alicex/Maildir", false},
		{"*/Maildir", "alice/Maildir", true},
		{"*/Maildir", "alice/Maildir/.Sent", false},
		{"**/.Trash", "bob/Maildir/.Trash", true},
		{"**/.Trash", ".Trash", true},
		{"**/.Trash", "bob/Maildir/.Trash.Old", false},
		{"bob/Maildir/.A?", "bob/Maildir/.Ab", true},
		{"a.b", "axb", false},
		{"**/.Sent*", "u/Maildir/.Sent Items", true},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.match(tt.rel); got != tt.want {
			t.Errorf("%q match %q = %v, want %v (%s)", tt.pattern, tt.rel, got, tt.want, g.re)
		}
	}
	if _, err := compileGlob("/abs"); err == nil {
		t.Error("absolute pattern accepted")
	}
}
