package render

import (
	"bufio"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// JSONDiagnostic is a diagnostic as `validate -json` and the -json
// message stream give it, in the shape of Terraform's: severity, summary,
// detail, the source range, and a snippet of the source when the file is
// at hand.
type JSONDiagnostic struct {
	Severity string       `json:"severity"`
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail,omitempty"`
	Range    *JSONRange   `json:"range,omitempty"`
	Snippet  *JSONSnippet `json:"snippet,omitempty"`
}

// JSONRange is a range of a source file; lines and columns count from 1,
// bytes from 0.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONPos is a position in a source file.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// JSONSnippet is the source the text form prints under "on FILE line N":
// Code holds the whole lines the subject (and its context) spans, without
// the last newline; the highlight offsets are byte offsets into Code.
type JSONSnippet struct {
	// Context is the enclosing block, e.g. `resource "file" "f"`; null
	// at the top level.
	Context              *string `json:"context"`
	Code                 string  `json:"code"`
	StartLine            int     `json:"start_line"`
	HighlightStartOffset int     `json:"highlight_start_offset"`
	HighlightEndOffset   int     `json:"highlight_end_offset"`
	// Values are the variables the expression refers to with their
	// values, as the text form lists them; never a sensitive or unknown
	// one.
	Values []JSONExprValue `json:"values"`
}

// JSONExprValue is one variable of a diagnostic's expression.
type JSONExprValue struct {
	Traversal string `json:"traversal"`
	Statement string `json:"statement"`
}

// DiagnosticJSON is d as JSON; files maps file names, as in d's ranges,
// to the parsed files, for the snippet (none when the file is missing).
func DiagnosticJSON(d *hcl.Diagnostic, files map[string]*hcl.File) JSONDiagnostic {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	out := JSONDiagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail}
	if d.Subject == nil {
		return out
	}
	s := d.Subject
	out.Range = &JSONRange{Filename: s.Filename,
		Start: JSONPos{s.Start.Line, s.Start.Column, s.Start.Byte},
		End:   JSONPos{s.End.Line, s.End.Column, s.End.Byte}}
	out.Snippet = snippet(d, files[s.Filename])
	return out
}

// snippet cuts the lines of d's subject and context out of file, as hcl's
// text writer prints them.
func snippet(d *hcl.Diagnostic, file *hcl.File) *JSONSnippet {
	if file == nil || file.Bytes == nil {
		return nil
	}
	subject := *d.Subject
	rng := subject
	if d.Context != nil {
		rng = hcl.RangeOver(rng, *d.Context)
	}
	// An empty range still points at a character, as in the text form.
	if rng.Empty() {
		rng.End.Byte++
		rng.End.Column++
	}
	sn := &JSONSnippet{Values: []JSONExprValue{}}
	if c := contextOf(file, subject.Start.Byte); c != "" {
		sn.Context = &c
	}
	src := file.Bytes
	sc := hcl.NewRangeScanner(src, subject.Filename, bufio.ScanLines)
	codeStart, codeEnd := -1, -1
	for sc.Scan() {
		line := sc.Range()
		if !line.Overlaps(rng) {
			continue
		}
		if codeStart < 0 {
			codeStart = line.Start.Byte
			sn.StartLine = line.Start.Line
		}
		codeEnd = line.End.Byte
	}
	if codeStart < 0 || codeEnd > len(src) {
		return nil
	}
	sn.Code = string(src[codeStart:codeEnd])
	clamp := func(b int) int { return max(0, min(b-codeStart, len(sn.Code))) }
	sn.HighlightStartOffset = clamp(subject.Start.Byte)
	sn.HighlightEndOffset = clamp(subject.End.Byte)
	sn.Values = exprValues(d)
	return sn
}

func contextOf(file *hcl.File, offset int) string {
	type contextStringer interface{ ContextString(offset int) string }
	if cs, ok := file.Nav.(contextStringer); ok {
		return cs.ContextString(offset)
	}
	return ""
}

// exprValues lists the known, non-null, unmarked values of the variables
// d's expression refers to; a sensitive value carries a mark, so it is
// never listed.
func exprValues(d *hcl.Diagnostic) []JSONExprValue {
	out := []JSONExprValue{}
	if d.Expression == nil || d.EvalContext == nil {
		return out
	}
	seen := map[string]bool{}
	for _, t := range d.Expression.Variables() {
		v, diags := t.TraverseAbs(d.EvalContext)
		if diags.HasErrors() || !v.IsWhollyKnown() || v.ContainsMarked() {
			continue
		}
		name := traversalString(t)
		if seen[name] {
			continue
		}
		seen[name] = true
		stmt := "is null"
		if !v.IsNull() {
			stmt = "is " + valueStatement(v)
		}
		out = append(out, JSONExprValue{Traversal: name, Statement: stmt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Traversal < out[j].Traversal })
	return out
}

func traversalString(t hcl.Traversal) string {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if k, err := ctyjson.Marshal(s.Key, s.Key.Type()); err == nil {
				b.WriteString("[" + string(k) + "]")
			}
		}
	}
	return b.String()
}

// valueStatement describes v briefly, as Terraform's snippet values do.
func valueStatement(v cty.Value) string {
	ty := v.Type()
	switch {
	case ty == cty.String:
		b, _ := ctyjson.Marshal(v, ty)
		return string(b)
	case ty.IsPrimitiveType():
		b, _ := ctyjson.Marshal(v, ty)
		return string(b)
	case ty.IsListType(), ty.IsSetType(), ty.IsTupleType():
		return "a " + ty.FriendlyNameForConstraint()
	case ty.IsMapType(), ty.IsObjectType():
		return "an object"
	}
	return "a " + ty.FriendlyName()
}
