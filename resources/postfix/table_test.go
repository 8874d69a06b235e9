package postfix

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRenderParse(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		entries []entry
		want    string
	}{
		{"empty", "hash", nil, Header},
		{"hash", "hash", []entry{{"user@example.com", "user@example.com.migration"}, {"example.net", "smtp:[10.0.0.2]:25"}},
			Header + "user@example.com user@example.com.migration\nexample.net smtp:[10.0.0.2]:25\n"},
		{"value with spaces", "texthash", []entry{{"a", "b c  d"}}, Header + "a b c  d\n"},
		{"regexp in order", "regexp", []entry{{"/^(.*)@example\\.com$/", "${1}@new.example.com"}, {"!/x/i", "y"}},
			Header + "/^(.*)@example\\.com$/ ${1}@new.example.com\n!/x/i y\n"},
		{"pattern with a space and an escaped slash", "pcre", []entry{{"/a b\\/c/i", "ok"}}, Header + "/a b\\/c/i ok\n"},
		{"if and endif", "pcre", []entry{{"if", "/@example\\.com$/"}, {"/^a@/", "b"}, {"endif", ""}},
			Header + "if /@example\\.com$/\n/^a@/ b\nendif\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(tt.entries)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("render (-want +got):\n%s", diff)
			}
			want := tt.entries
			if want == nil {
				want = []entry{}
			}
			if diff := cmp.Diff(want, parseEntries(tt.typ, got)); diff != "" {
				t.Errorf("parseEntries(render(…)) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEntriesOfHandWrittenTables(t *testing.T) {
	const table = "# comment\n\n   \nkey1    value one  \r\n  # indented comment\nkey2\tv2\nlonely\n"
	want := []entry{{"key1", "value one"}, {"key2", "v2"}, {"lonely", ""}}
	if diff := cmp.Diff(want, parseEntries("hash", table)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCheckKey(t *testing.T) {
	tests := []struct {
		typ, key string
		wantErr  string // substring; "" means valid
	}{
		{"hash", "user@example.com", ""},
		{"hash", "two words", "whitespace"},
		{"lmdb", "tab\there", "whitespace"},
		{"cdb", "", "empty"},
		{"btree", "#x", "comment"},
		{"texthash", "line\nbreak", "line break"},
		{"regexp", "/^user@example\\.com$/", ""},
		{"regexp", "/a/i", ""},
		{"regexp", "!/a/", ""},
		{"regexp", "/a b/", ""},
		{"regexp", "user@example.com", "not a pattern"},
		{"regexp", "/unclosed", "not a pattern"},
		{"regexp", "/a/ b", "not a pattern"},
		{"regexp", "/a/s", "flag"},
		{"pcre", "/a/s", ""},
		{"pcre", "/a/q", "flag"},
		{"pcre", "if", ""},
		{"pcre", "endif", ""},
	}
	for _, tt := range tests {
		got := checkKey(tt.typ, tt.key)
		switch {
		case tt.wantErr == "" && got != "":
			t.Errorf("checkKey(%s, %q) = %q, want valid", tt.typ, tt.key, got)
		case tt.wantErr != "" && !strings.Contains(got, tt.wantErr):
			t.Errorf("checkKey(%s, %q) = %q, want a message about %q", tt.typ, tt.key, got, tt.wantErr)
		}
	}
}

func TestIsMapParameter(t *testing.T) {
	for _, p := range []string{"transport_maps", "recipient_bcc_maps", "virtual_alias_maps", "alias_maps", "alias_database",
		"relay_domains", "mydestination", "virtual_mailbox_domains", "header_checks", "smtpd_sender_login_maps", "sender_dependent_relayhost_maps"} {
		if !isMapParameter(p) {
			t.Errorf("%s is map-valued", p)
		}
	}
	for _, p := range []string{"myhostname", "smtpd_recipient_restrictions", "relayhost", "inet_interfaces", "message_size_limit"} {
		if isMapParameter(p) {
			t.Errorf("%s is not map-valued", p)
		}
	}
}
