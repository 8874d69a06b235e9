package render

import (
	"bytes"
	"os"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestDiagnostics(t *testing.T) {
	const name = "testdata/diagnostics.mp.hcl"
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	files := map[string]*hcl.File{name: f}
	attrRange := func(block int, attr string) *hcl.Range {
		b := f.Body.(*hclsyntax.Body).Blocks[block]
		r := b.Body.Attributes[attr].Expr.Range()
		return &r
	}
	port, path := attrRange(0, "port"), attrRange(1, "path")
	tests := []struct {
		name  string
		diags hcl.Diagnostics
		opts  TextOptions
	}{
		{"error", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   "Inappropriate value for attribute \"port\": a number is required. Write the SSH port as a number, for example port = 22.",
			Subject:  port,
		}}, TextOptions{}},
		{"warning_and_error", hcl.Diagnostics{
			{
				Severity: hcl.DiagWarning,
				Summary:  "Relative path",
				Detail:   "The path \"etc/aliases\" is relative; mailplan makes it absolute as /etc/aliases. Write the absolute path to silence this warning.",
				Subject:  path,
			},
			{
				Severity: hcl.DiagError,
				Summary:  "No state lock",
				Detail:   "The state is locked by someone else.",
			},
			{
				Severity: hcl.DiagError,
				Summary:  "Missing file",
				Subject:  &hcl.Range{Filename: "gone.mp.hcl", Start: hcl.Pos{Line: 3, Column: 1}, End: hcl.Pos{Line: 3, Column: 5}},
			},
		}, TextOptions{Width: 40}},
		{"color", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   "A number is required.",
			Subject:  port,
		}}, TextOptions{Color: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Diagnostics(&buf, tc.diags, files, tc.opts); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
				t.Errorf("output does not end with a newline: %q", buf.String())
			}
			golden(t, "diagnostics_"+tc.name+".golden", buf.Bytes())
		})
	}
}

func TestDOT(t *testing.T) {
	tests := []struct {
		name  string
		nodes []string
		edges map[string][]string
	}{
		{"empty", nil, nil},
		{"migration", []string{
			"host.old", "host.new", "file.aliases", "postfix_map.transport", "mx_record.main", `mailbox_copy.users["alice"]`, "service.old_postfix",
		}, map[string][]string{
			"file.aliases":                {"host.new"},
			"postfix_map.transport":       {"host.old", "host.new", "host.old"},
			"mx_record.main":              {"postfix_map.transport", "file.aliases"},
			`mailbox_copy.users["alice"]`: {"mx_record.main", "host.old", "host.new"},
			"service.old_postfix":         {`mailbox_copy.users["alice"]`, "dns_server.primary"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := DOT(&buf, tc.nodes, tc.edges); err != nil {
				t.Fatal(err)
			}
			golden(t, "dot_"+tc.name+".golden", buf.Bytes())
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "abc", `"abc"`},
		{"escapes", "a\"b\\c\td", `"a\"b\\c\td"`},
		{"template", "${var.x} %{if}", `"$${var.x} %%{if}"`},
		{"lone dollar", "$5 100%", `"$5 100%"`},
		{"control", "a\x01", `"a\u0001"`},
		{"unicode", "grüße", `"grüße"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := quote(tc.in); got != tc.want {
				t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name string
		b, a string
		ctx  int
		want string // one letter per step: = keep, - delete, + insert, h hidden run
	}{
		{"equal", "abc", "abc", 0, "h"},
		{"append", "ab", "abc", 1, "==+"},
		{"append far", "abcd", "abcde", 1, "h=+"},
		{"replace middle", "abcdefg", "abcXefg", 1, "h=-+=h"},
		{"all new", "ab", "xy", 2, "--++"},
		{"from empty", "", "xy", 2, "++"},
		{"interleaved", "axbycz", "abc", 0, "=-=-=-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops := withContext(diff(len(tc.b), len(tc.a), func(i, j int) bool { return tc.b[i] == tc.a[j] }), tc.ctx)
			var got []byte
			for _, o := range ops {
				got = append(got, "=-+h"[o.kind])
			}
			if string(got) != tc.want {
				t.Errorf("steps = %s, want %s", got, tc.want)
			}
		})
	}
}
