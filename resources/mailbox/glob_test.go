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
		// Any byte a file name may hold (issue 11: "**" skipped a newline).
		{"**", "u\nnl/Maildir", true},
		{"**", "u/Maildir/.Fol\nder", true},
		{"alice/**", "alice/Maildir/.Fol\nder", true},
		{"*/Maildir", "u\nnl/Maildir", true},
		{"**/.Trash", "a\nb/Maildir/.Trash", true},
		{"**", "u\xff/Maildir/.Bad\xfe", true},
		{"u?/Maildir", "u\xff/Maildir", true},
		{"u?/Maildir", "u\n/Maildir", true},
		{"**", "-rf/Maildir/.\t", true},
		{"*", "a\nb/c", false},
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
