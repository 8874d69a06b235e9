package configs

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// tokenDepth is the reference for the scanner: the same depth rules,
// applied to the tokens of HCL's own lexer. The scanner must never count
// less than this (it may count more).
func tokenDepth(toks hclsyntax.Tokens) int {
	type rf struct {
		open           hclsyntax.TokenType
		base, pend, un int
		seen, forExpr  bool
	}
	d := func(f *rf) int { return f.base + f.pend + f.un }
	stack := []rf{{open: hclsyntax.TokenEOF}}
	top := func() *rf { return &stack[len(stack)-1] }
	most := 0
	measure := func() {
		m := d(top())
		if len(stack) >= 2 {
			if b := d(&stack[len(stack)-2]) + 1; b > m {
				m = b
			}
		}
		if m > most {
			most = m
		}
	}
	ctl := false
	for _, t := range toks {
		wasCtl := ctl
		ctl = false
		if f := top(); (f.open == hclsyntax.TokenOBrace || f.open == hclsyntax.TokenOBrack) && !f.seen && t.Type != hclsyntax.TokenNewline && t.Type != hclsyntax.TokenComment {
			f.seen = true
			f.forExpr = t.Type == hclsyntax.TokenIdent && string(t.Bytes) == "for"
		}
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			stack = append(stack, rf{open: t.Type, base: d(top()) + 1})
			ctl = t.Type == hclsyntax.TokenTemplateControl
			measure()
		case hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			// The lexer left the template or the sequence: whatever
			// brackets are still open in it are closed with it (the
			// parser gives up on them).
			var opens map[hclsyntax.TokenType]bool
			switch t.Type {
			case hclsyntax.TokenCQuote:
				opens = map[hclsyntax.TokenType]bool{hclsyntax.TokenOQuote: true}
			case hclsyntax.TokenCHeredoc:
				opens = map[hclsyntax.TokenType]bool{hclsyntax.TokenOHeredoc: true}
			case hclsyntax.TokenTemplateSeqEnd:
				opens = map[hclsyntax.TokenType]bool{hclsyntax.TokenTemplateInterp: true, hclsyntax.TokenTemplateControl: true}
			}
			k := len(stack) - 1
			for k > 0 && !opens[stack[k].open] {
				k--
			}
			if k == 0 {
				k = len(stack) - 1 // none open: as any other closer
			}
			if k > 0 {
				stack = stack[:k]
			}
			top().un = 0
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen:
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			top().un = 0
		case hclsyntax.TokenMinus, hclsyntax.TokenBang:
			top().un++
			measure()
		case hclsyntax.TokenQuestion:
			top().pend++
			top().un = 0
			measure()
		case hclsyntax.TokenComma:
			top().pend, top().un = 0, 0
		case hclsyntax.TokenNewline:
			if o := top().open; o == hclsyntax.TokenEOF || (o == hclsyntax.TokenOBrace && !top().forExpr) {
				top().pend, top().un = 0, 0
			}
		case hclsyntax.TokenIdent:
			top().un = 0
			if wasCtl && len(stack) > 1 {
				tmpl := &stack[len(stack)-2]
				switch string(t.Bytes) {
				case "if", "for":
					tmpl.pend++
					measure()
				case "endif", "endfor":
					if tmpl.pend > 0 {
						tmpl.pend--
					}
				}
			}
		default:
			top().un = 0
		}
	}
	return most
}

// scanDepth runs the scanner without a limit that matters and returns the
// deepest level it saw.
func scanDepth(src []byte, template bool) int {
	sc := newScanner(src, "test.mp.hcl", template)
	sc.run()
	return sc.max
}

// checkAgainstLexer fails when the scanner counts less than the reference
// on HCL's own tokens.
func checkAgainstLexer(t *testing.T, src []byte) {
	t.Helper()
	if !utf8.Valid(src) {
		// Refused before the parser; see scanner.run.
		if diags := CheckNesting(src, "test.mp.hcl", false); len(diags) != 1 || diags[0].Summary != "Invalid character encoding" {
			t.Errorf("invalid UTF-8 not refused: %v", diags)
		}
		return
	}
	toks, _ := hclsyntax.LexConfig(src, "test.mp.hcl", hcl.InitialPos)
	want := tokenDepth(toks)
	if got := scanDepth(src, false); got < want && want <= MaxNesting {
		t.Errorf("scanner depth %d < lexer depth %d for %q", got, want, src)
	}
	toks, _ = hclsyntax.LexTemplate(src, "test.tmpl", hcl.InitialPos)
	want = tokenDepth(toks)
	if got := scanDepth(src, true); got < want && want <= MaxNesting {
		t.Errorf("template: scanner depth %d < lexer depth %d for %q", got, want, src)
	}
}

var nestingCases = []struct {
	name  string
	src   string
	depth int // the scanner's depth
}{
	{"flat", "a = 1\n", 0},
	{"block", "resource \"x\" \"y\" {\n  a = [1, (2)]\n}\n", 3},
	{"string", "a = \"x\"\n", 1},
	{"interpolation", "a = \"${b}\"\n", 2},
	{"nested interpolation", "a = \"${\"${b}\"}\"\n", 4},
	{"brackets in a string", "a = \"((((]]]]\"\n", 1},
	{"escaped sequence", "a = \"$${ ((( %%{ \"\n", 1},
	{"escaped quote", "a = \"\\\" (((\"\n", 1},
	{"brackets in a comment", "# ((((\n// ((((\n/* (((( */\na = 1\n", 0},
	{"heredoc", "a = <<EOT\n((((\n  EOT\nb = (1)\n", 1},
	{"heredoc interpolation", "a = <<-EOT\n  ${[1]} EOT\n  EOT\n", 3},
	{"template if", "a = \"%{ if x }%{ if y }${z}%{ endif }%{ endif }\"\n", 4},
	{"unary run", "a = - - - 1\n", 3},
	{"binary minus", "a = 1 - 2 - 3\n", 1},
	{"negative exponent", "a = 1e-5\n", 0},
	{"ident with dashes", "a = b-c-d\n", 0},
	{"not equal", "a = b != c\n", 0},
	{"conditionals", "a = b ? c : d ? e : f\n", 2},
	{"conditionals per line", "a = b ? c : d\nb = b ? c : d\n", 1},
	{"conditionals in a for", "a = {for k in x : k => b ?\n c : d ?\n e : f}\n", 3},
	{"brace closes a sequence", "a = \"${ ( }((((\"\n", 3},
}

func TestCheckNesting(t *testing.T) {
	for _, c := range nestingCases {
		t.Run(c.name, func(t *testing.T) {
			if got := scanDepth([]byte(c.src), false); got != c.depth {
				t.Errorf("depth %d, want %d", got, c.depth)
			}
			checkAgainstLexer(t, []byte(c.src))
		})
	}
}

func TestCheckNestingLimit(t *testing.T) {
	deep := func(open, mid, close string, n int) string {
		return "a = " + strings.Repeat(open, n) + mid + strings.Repeat(close, n) + "\n"
	}
	cases := []struct {
		name string
		src  string
		col  int // where the error is, 0 for none
	}{
		{"parentheses at the limit", deep("(", "1", ")", MaxNesting), 0},
		{"parentheses", deep("(", "1", ")", 100_000), 5 + MaxNesting},
		{"brackets", deep("[", "1", "]", 100_000), 5 + MaxNesting},
		{"braces", deep("{a=", "1", "}", 1000), 5 + 3*MaxNesting},
		{"unary minus", deep("-", "1", "", 100_000), 5 + MaxNesting},
		{"not", deep("!", "true", "", 100_000), 5 + MaxNesting},
		{"conditionals", deep("x ? 1 : ", "2", "", 100_000), 7 + 8*MaxNesting},
		{"interpolations", deep("\"${", "1", "}\"", 100_000), 5 + 3*(MaxNesting/2)},
		{"template ifs", "a = \"" + strings.Repeat("%{if x}", 1000) + "\"\n", 8 + 7*(MaxNesting-2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diags := CheckNesting([]byte(c.src), "deep.mp.hcl", false)
			if c.col == 0 {
				if diags.HasErrors() {
					t.Fatalf("unexpected: %s", diags.Error())
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != "Nesting too deep" {
				t.Fatalf("want Nesting too deep, got %v", diags)
			}
			s := diags[0].Subject
			if s.Filename != "deep.mp.hcl" || s.Start.Line != 1 || s.Start.Column != c.col {
				t.Errorf("at %s:%d:%d, want deep.mp.hcl:1:%d", s.Filename, s.Start.Line, s.Start.Column, c.col)
			}
		})
	}
}

func TestCheckNestingTokens(t *testing.T) {
	src := "a = [" + strings.Repeat("1,", MaxTokens/2) + "]\n"
	diags := CheckNesting([]byte(src), "many.mp.hcl", false)
	if len(diags) != 1 || diags[0].Summary != "Too many tokens" {
		t.Fatalf("want Too many tokens, got %v", diags)
	}
	if s := diags[0].Subject; s.Start.Line != 1 || s.Start.Column < 2*(MaxTokens/2-4) {
		t.Errorf("at %d:%d", s.Start.Line, s.Start.Column)
	}
	if diags := CheckNesting([]byte("a = ["+strings.Repeat("1,", MaxTokens/4)+"]\n"), "ok.mp.hcl", false); diags.HasErrors() {
		t.Errorf("half the limit: %s", diags.Error())
	}
}
