package configs

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// MaxNesting is how deeply blocks, brackets, parentheses, strings, template
// sequences, unary operators and conditionals may nest. Real plans nest
// fewer than 20 levels. HCL's parser (and everything that walks what it
// builds) recurses once or more per level, and a Go program cannot recover
// from running out of stack, so the depth is checked before parsing.
const MaxNesting = 256

// MaxTokens is how many tokens (names, numbers, operators, brackets,
// pieces of strings) one file may hold. HCL keeps every token of a file
// and a syntax tree node for most of them in memory, a few hundred bytes
// each: the limit keeps parsing one file under a few hundred megabytes.
// A realistic file of MaxFileSize holds far fewer.
const MaxTokens = 1_000_000

// CheckNesting reports the first place where src nests deeper than
// MaxNesting, or where it holds more than MaxTokens tokens, reading src as
// HCL's lexer does: a configuration file (template false) or a bare
// template (template true, as templatefile reads it). It reports nothing
// else: whatever else is wrong, the parser reports. It allocates nothing
// that grows with src.
func CheckNesting(src []byte, filename string, template bool) hcl.Diagnostics {
	sc := newScanner(src, filename, template)
	return sc.run()
}

// CheckExpressionNesting is CheckNesting for a single expression, such as
// the value of -var NAME=VALUE.
func CheckExpressionNesting(src []byte, filename string) hcl.Diagnostics {
	return CheckNesting(src, filename, false)
}

// The scanner follows the modes of HCL's lexer (hclsyntax/scan_tokens.rl):
// expressions, quoted templates, heredoc templates and bare templates,
// entered and left exactly where that lexer enters and leaves them, so
// that what it counts is what the parser will see. It does not build
// tokens; it only counts depth and tokens.

type scanMode int

const (
	modeExpr scanMode = iota
	modeString
	modeHeredoc
	modeBare
)

// frame is one open bracket, string or template sequence.
type frame struct {
	mode scanMode
	// open is the byte that opened an expression frame: '(', '[', '{', or
	// '$' / '%' for a template sequence; 0 for the file itself.
	open byte
	// braces is the lexer's brace count at which a template sequence
	// returns to its template (retBraces).
	braces int
	// marker ends a heredoc; startOfLine says whether the heredoc's
	// current line began at its start (only such a line can end it).
	marker      []byte
	startOfLine bool
	// base is the depth of the frame itself.
	base int
	// pending counts conditionals (`?`) in the current item and, in a
	// template, the %{if}/%{for} still open: each nests what follows.
	pending int
	// unary counts consecutive unary operators (`-`, `!`): each nests its
	// operand, and the run ends with the operand.
	unary int
	// seen says that the frame's first token was read; forExpr, that it
	// was `for`.
	seen, forExpr bool
	// control says that the frame is a %{ } sequence whose keyword has
	// not been seen yet.
	control bool
}

func (f *frame) depth() int { return f.base + f.pending + f.unary }

type scanner struct {
	src      []byte
	filename string
	i        int
	line     int
	lineAt   int // offset of the current line's first byte
	braces   int
	stack    []frame
	tokens   int
	max      int // the deepest level reached, for tests
	// lastClose is where the last */ is, -1 for none: a /* after it
	// opens no comment.
	lastClose int
	diag      *hcl.Diagnostic
}

func newScanner(src []byte, filename string, template bool) *scanner {
	sc := &scanner{src: src, filename: filename, line: 1, lastClose: bytes.LastIndex(src, []byte("*/"))}
	root := frame{mode: modeExpr}
	if template {
		root.mode = modeBare
	}
	sc.stack = []frame{root}
	return sc
}

func (sc *scanner) top() *frame { return &sc.stack[len(sc.stack)-1] }

func (sc *scanner) pos(at int) hcl.Pos {
	// Columns count bytes, which is close enough to HCL's characters for
	// pointing at a line of brackets.
	return hcl.Pos{Line: sc.line, Column: at - sc.lineAt + 1, Byte: at}
}

func (sc *scanner) fail(at, width int, summary, detail string) {
	if sc.diag != nil {
		return
	}
	end := sc.pos(at + width)
	sc.diag = &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  &hcl.Range{Filename: sc.filename, Start: sc.pos(at), End: end},
	}
}

// token counts one token starting at at, and fails past MaxTokens.
func (sc *scanner) token(at int) {
	sc.tokens++
	if sc.tokens > MaxTokens {
		sc.fail(at, 1, "Too many tokens", fmt.Sprintf("This file holds more than %d tokens (names, numbers, operators, brackets, pieces of strings), the most mailplan parses in one file. Split it into several files, or keep the data elsewhere.", MaxTokens))
	}
}

// grew checks the depth after something at at made it grow.
func (sc *scanner) grew(at, width int) {
	d := sc.top().depth()
	if len(sc.stack) >= 2 {
		// An %{ if } just counted raises the template frame below the
		// control sequence, which the sequence's base predates.
		if b := sc.stack[len(sc.stack)-2].depth() + 1; b > d {
			d = b
		}
	}
	if d > sc.max {
		sc.max = d
	}
	if d > MaxNesting {
		sc.fail(at, width, "Nesting too deep", fmt.Sprintf("Here the configuration nests more than %d levels deep (brackets, parentheses, blocks, strings, template sequences, unary operators and conditionals each count). mailplan stops here rather than risk running out of stack; flatten the expression, e.g. with a local value.", MaxNesting))
	}
}

func (sc *scanner) push(f frame, at, width int) {
	f.base = sc.top().depth() + 1
	sc.stack = append(sc.stack, f)
	sc.grew(at, width)
}

func (sc *scanner) pop() {
	if len(sc.stack) > 1 {
		sc.stack = sc.stack[:len(sc.stack)-1]
	}
	sc.top().unary = 0
}

func (sc *scanner) newline(at int) {
	sc.line++
	sc.lineAt = at + 1
}

func (sc *scanner) run() hcl.Diagnostics {
	if !utf8.Valid(sc.src) {
		// HCL's lexer reads some invalid sequences as parts of names,
		// swallowing the ASCII bytes after them; its reading of valid
		// UTF-8 is what the scanner follows. HCL would refuse the file.
		bad := 0
		for bad < len(sc.src) {
			r, n := utf8.DecodeRune(sc.src[bad:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			if sc.src[bad] == '\n' {
				sc.newline(bad)
			}
			bad += n
		}
		sc.fail(bad, 1, "Invalid character encoding", "The file must be UTF-8; this byte does not start a valid UTF-8 character. Save the file as UTF-8.")
	}
	for sc.i < len(sc.src) && sc.diag == nil {
		switch sc.top().mode {
		case modeExpr:
			sc.expr()
		case modeString:
			sc.str()
		case modeHeredoc:
			sc.heredoc()
		case modeBare:
			sc.bare()
		}
	}
	if sc.diag != nil {
		return hcl.Diagnostics{sc.diag}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || c == '-' || (c >= '0' && c <= '9')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// at reports whether src continues with s at offset i.
func (sc *scanner) at(i int, s string) bool {
	return i+len(s) <= len(sc.src) && string(sc.src[i:i+len(s)]) == s
}

// expr reads one token in expression mode.
func (sc *scanner) expr() {
	s, i := sc.src, sc.i
	c := s[i]
	t := sc.top()
	switch {
	case c == ' ' || c == '\t' || c == '\r':
		sc.i++
		return
	case c == '\n':
		sc.token(i)
		sc.newline(i)
		sc.i++
		// A newline ends an attribute or an object item; inside
		// parentheses, brackets and template sequences the parser skips it.
		if t.open == 0 || (t.open == '{' && !t.forExpr) {
			t.pending, t.unary = 0, 0
		}
		return
	case c == '#' || sc.at(i, "//"):
		for sc.i < len(s) && s[sc.i] != '\n' {
			sc.i++
		}
		if sc.i < len(s) {
			sc.newline(sc.i)
			sc.i++
		}
		sc.token(i)
		return
	case sc.at(i, "/*") && sc.lastClose >= i+2:
		// Unterminated, it is no comment to the lexer: `/`, `*`, ...
		stop := i + 2 + bytes.Index(s[i+2:], []byte("*/")) + 2
		for j := i; j < stop; j++ {
			if s[j] == '\n' {
				sc.newline(j)
			}
		}
		sc.i = stop
		sc.token(i)
		return
	}
	sc.token(i)
	if (t.open == '{' || t.open == '[') && !t.seen {
		// [for ...] and {for ...} ignore newlines, as parentheses do.
		t.seen = true
		t.forExpr = sc.at(i, "for") && (i+3 == len(s) || !isIdentCont(s[i+3]))
	}
	if t.control {
		// The keyword of a %{ } sequence: if and for nest what follows
		// in the template around it, until endif or endfor.
		t.control = false
		tmpl := &sc.stack[len(sc.stack)-2]
		j := i
		for j < len(s) && isIdentCont(s[j]) {
			j++
		}
		switch string(s[i:j]) {
		case "if", "for":
			tmpl.pending++
			sc.grew(i, j-i)
		case "endif", "endfor":
			if tmpl.pending > 0 {
				tmpl.pending--
			}
		}
	}
	switch {
	case isDigit(c):
		j := i + 1
		for j < len(s) {
			switch {
			case isDigit(s[j]) || s[j] == '.':
				j++
				continue
			case (s[j] == 'e' || s[j] == 'E') && j+1 < len(s):
				k := j + 1
				if s[k] == '+' || s[k] == '-' {
					k++
				}
				if k < len(s) && isDigit(s[k]) {
					j = k + 1
					continue
				}
			}
			break
		}
		sc.i = j
		t.unary = 0
	case isIdentStart(c):
		j := i + 1
		for j < len(s) && isIdentCont(s[j]) {
			j++
		}
		sc.i = j
		t.unary = 0
	case c == '"':
		sc.i++
		sc.push(frame{mode: modeString}, i, 1)
	case sc.at(i, "<<") && sc.heredocStart(i):
	case c == '(' || c == '[':
		sc.i++
		sc.push(frame{mode: modeExpr, open: c}, i, 1)
	case c == '{':
		sc.i++
		sc.braces++
		sc.push(frame{mode: modeExpr, open: '{'}, i, 1)
	case c == '}' || sc.at(i, "~}"):
		if c == '~' {
			sc.i += 2
		} else {
			sc.i++
		}
		sc.closeBrace()
	case c == ')' || c == ']':
		sc.i++
		// A stray closer closes nothing (the parser reports it): counting
		// on as if it were not there only counts more.
		if (c == ')' && t.open == '(') || (c == ']' && t.open == '[') {
			sc.pop()
		}
	case c == '-' || (c == '!' && !sc.at(i, "!=")):
		sc.i++
		t.unary++
		sc.grew(i, 1)
	case c == '?':
		sc.i++
		t.pending++
		t.unary = 0
		sc.grew(i, 1)
	case c == ',':
		sc.i++
		t.pending, t.unary = 0, 0
	default:
		// Any other operator or stray byte: one token. Two-byte operators
		// count as two, which only counts more.
		sc.i++
		t.unary = 0
	}
}

// closeBrace is `}` or `~}`. As in the lexer, a brace at the brace count
// at which the innermost template sequence opened ends that sequence (and
// whatever brackets are still open in it), returning to its template; any
// other closes a `{`.
func (sc *scanner) closeBrace() {
	for k := len(sc.stack) - 1; k > 0; k-- {
		f := &sc.stack[k]
		if f.mode != modeExpr {
			break
		}
		if f.open == '$' || f.open == '%' {
			if f.braces == sc.braces {
				sc.stack = sc.stack[:k]
				sc.top().unary = 0
				sc.braces--
				return
			}
			break
		}
	}
	sc.braces--
	if sc.top().open == '{' {
		sc.pop()
	}
}

// heredocStart enters a heredoc at <<[-]IDENT NEWLINE and reports whether
// there was one.
func (sc *scanner) heredocStart(i int) bool {
	s := sc.src
	j := i + 2
	if j < len(s) && s[j] == '-' {
		j++
	}
	if j >= len(s) || !isIdentStart(s[j]) {
		return false
	}
	k := j + 1
	for k < len(s) && isIdentCont(s[k]) {
		k++
	}
	nl := k
	if nl < len(s) && s[nl] == '\r' {
		nl++
	}
	if nl >= len(s) || s[nl] != '\n' {
		return false
	}
	sc.i = nl + 1
	sc.newline(nl)
	sc.push(frame{mode: modeHeredoc, marker: s[j:k], startOfLine: true}, i, k-i)
	return true
}

// sequence opens a template sequence (${ or %{, with an optional ~) at i
// if there is one there, and reports whether there was.
func (sc *scanner) sequence(i int) bool {
	s := sc.src
	if i+1 >= len(s) || s[i+1] != '{' || (s[i] != '$' && s[i] != '%') {
		return false
	}
	width := 2
	if i+2 < len(s) && s[i+2] == '~' {
		width = 3
	}
	sc.token(i)
	sc.i = i + width
	sc.braces++
	if t := sc.top(); t.mode == modeHeredoc {
		t.startOfLine = false
	}
	sc.push(frame{mode: modeExpr, open: s[i], braces: sc.braces, control: s[i] == '%'}, i, width)
	return true
}

// escapedSequence reports the length of $${ or %%{ at i (a literal ${ or
// %{), or 0.
func (sc *scanner) escapedSequence(i int) int {
	s := sc.src
	if i+2 < len(s) && (s[i] == '$' || s[i] == '%') && s[i+1] == s[i] && s[i+2] == '{' {
		return 3
	}
	return 0
}

// str reads in a quoted template.
func (sc *scanner) str() {
	s, i := sc.src, sc.i
	switch c := s[i]; {
	case c == '"':
		sc.token(i)
		sc.i++
		sc.pop()
		return
	case sc.sequence(i):
		return
	case c == '\\' && i+1 < len(s) && s[i+1] != '\n' && s[i+1] != '\r':
		sc.i += 2
	case c == '\n':
		// The lexer stays in the string (the parser reports it).
		sc.newline(i)
		sc.i++
	default:
		if n := sc.escapedSequence(i); n > 0 {
			sc.i += n
		} else {
			sc.i++
		}
	}
	sc.countLiteral(i)
}

// countLiteral counts a run of literal text as one token, the way the
// lexer joins it, by counting only where a run starts.
func (sc *scanner) countLiteral(i int) {
	if i == 0 {
		sc.token(i)
		return
	}
	switch sc.src[i-1] {
	case '"', '}', '\n':
		sc.token(i)
	}
}

// heredoc reads one line, or the part of a line before a template
// sequence, of a heredoc.
func (sc *scanner) heredoc() {
	s, i := sc.src, sc.i
	t := sc.top()
	if sc.sequence(i) {
		return
	}
	j := i
	for j < len(s) && s[j] != '\n' {
		if (s[j] == '$' || s[j] == '%') && j+1 < len(s) && s[j+1] == '{' {
			break
		}
		if n := sc.escapedSequence(j); n > 0 {
			j += n
			continue
		}
		j++
	}
	sc.token(i)
	if j < len(s) && s[j] != '\n' {
		// A sequence starts mid-line: this line cannot end the heredoc.
		sc.i = j
		t.startOfLine = false
		return
	}
	if t.startOfLine && bytes.Equal(bytes.TrimSpace(s[i:j]), t.marker) {
		sc.i = j // the newline after the marker is the expression's
		sc.pop()
		return
	}
	t.startOfLine = true
	if j < len(s) {
		sc.newline(j)
		j++
	}
	sc.i = j
}

// bare reads in a bare template (templatefile).
func (sc *scanner) bare() {
	s, i := sc.src, sc.i
	if sc.sequence(i) {
		return
	}
	if s[i] == '\n' {
		sc.newline(i)
	}
	if n := sc.escapedSequence(i); n > 0 {
		sc.i += n
	} else {
		sc.i++
	}
	sc.countLiteral(i)
}
