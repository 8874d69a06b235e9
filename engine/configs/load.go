package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Loader parses plan directories. It keeps every file it parsed so that
// diagnostics can be printed with their source lines.
type Loader struct {
	parser *hclparse.Parser
	// resolver finds git modules; nil until Load, which then resolves
	// from what `mailplan init` installed in the plan directory.
	resolver ModuleResolver
}

// NewLoader returns a Loader.
func NewLoader() *Loader {
	return &Loader{parser: hclparse.NewParser()}
}

// Files returns every file parsed so far, by file name, for diagnostics.
func (l *Loader) Files() map[string]*hcl.File { return l.parser.Files() }

// Load loads the module in dir and every module it calls. It collects all
// problems and returns a best-effort module with them.
//
// A module with a local source (./ or ../) is loaded from its directory. A
// module with a git source is loaded from where `mailplan init` installed
// it, under dir/.mailplan/modules (ModulesDir), as the manifest there says
// and the lock file (LockFileName) confirms; unless SetModuleResolver gave
// another way.
func (l *Loader) Load(dir string) (*Module, hcl.Diagnostics) {
	if l.resolver == nil {
		l.resolver = &installed{planDir: dir, loader: l}
	}
	return l.load(dir, "", nil, nil, hcl.Range{})
}

// maxModuleDepth stops runaway nesting that a cycle of sources would cause.
const maxModuleDepth = 32

// load loads the module in dir, whose path is path. root is the checkout
// the module came from when it came from git ("" otherwise): its relative
// sources stay inside it.
func (l *Loader) load(dir, root string, path []string, stack []string, callRange hcl.Range) (*Module, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	abs, _ := filepath.Abs(dir)
	for _, s := range stack {
		if s == abs {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Module calls itself",
				Detail:   fmt.Sprintf("The module in %s is already being loaded higher up the chain of calls (%s); a module cannot include itself.", dir, strings.Join(path, " → ")),
				Subject:  callRange.Ptr(),
			}}
		}
	}
	if len(stack) > maxModuleDepth {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Modules nested too deeply", Subject: callRange.Ptr()}}
	}
	stack = append(stack, abs)

	names, err := moduleFiles(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read plan directory",
			Detail:   err.Error(),
			Subject:  callRange.Ptr(),
		}}
	}
	if len(names) == 0 {
		detail := fmt.Sprintf("The directory %s has no *%s files.", dir, FileSuffix)
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No plan files",
			Detail:   detail,
			Subject:  callRange.Ptr(),
		}}
	}

	m := newModule(dir, path)
	for _, name := range names {
		f, fdiags := l.parseFile(name, "plan file")
		diags = append(diags, fdiags...)
		if f == nil || f.Body == nil {
			continue
		}
		diags = append(diags, m.addFile(f, len(path) == 0)...)
	}
	diags = append(diags, m.checkMoves()...)

	callNames := make([]string, 0, len(m.ModuleCalls))
	for n := range m.ModuleCalls {
		callNames = append(callNames, n)
	}
	sort.Strings(callNames)
	for _, n := range callNames {
		mc := m.ModuleCalls[n]
		if mc.Source == "" {
			continue
		}
		childPath := append(append([]string{}, path...), n)
		childDir, childRoot, d := l.resolveCall(dir, root, childPath, mc)
		diags = append(diags, d...)
		if childDir == "" {
			continue
		}
		child, cdiags := l.load(childDir, childRoot, childPath, stack, mc.SourceRange)
		diags = append(diags, cdiags...)
		if child != nil {
			m.Children[n] = child
		}
	}
	return m, diags
}

func newModule(dir string, path []string) *Module {
	return &Module{
		Dir:         dir,
		Path:        path,
		Variables:   map[string]*Variable{},
		Locals:      map[string]*Local{},
		Outputs:     map[string]*Output{},
		Hosts:       map[string]*Host{},
		DNSServers:  map[string]*DNSServer{},
		Resources:   map[string]*Resource{},
		ModuleCalls: map[string]*ModuleCall{},
		Children:    map[string]*Module{},
	}
}

func moduleFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), FileSuffix) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "mailplan"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "host", LabelNames: []string{"name"}},
		{Type: "dns_server", LabelNames: []string{"name"}},
		{Type: "resource", LabelNames: []string{"type", "name"}},
		{Type: "module", LabelNames: []string{"name"}},
		{Type: "moved"},
		{Type: "removed"},
	},
}

func (m *Module) addFile(f *hcl.File, root bool) hcl.Diagnostics {
	content, diags := f.Body.Content(fileSchema)
	for _, b := range content.Blocks {
		bad := false
		for i, lab := range b.Labels {
			if !hclValidName(lab) {
				bad = true
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid name",
					Detail:   fmt.Sprintf("%q is not a valid name: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", lab),
					Subject:  b.LabelRanges[i].Ptr(),
				})
			}
		}
		if bad {
			continue
		}
		switch b.Type {
		case "mailplan":
			diags = append(diags, m.addMailplan(b, root)...)
		case "variable":
			v, d := decodeVariable(b)
			diags = append(diags, d...)
			if v != nil {
				diags = append(diags, declare(m.Variables, "variable", v.Name, v)...)
			}
		case "locals":
			attrs, d := b.Body.JustAttributes()
			diags = append(diags, d...)
			for _, a := range attrs {
				diags = append(diags, declare(m.Locals, "local value", a.Name, &Local{Name: a.Name, Expr: a.Expr, DeclRange: a.Range})...)
			}
		case "output":
			o, d := decodeOutput(b)
			diags = append(diags, d...)
			if o != nil {
				diags = append(diags, declare(m.Outputs, "output", o.Name, o)...)
			}
		case "host":
			h := &Host{Name: b.Labels[0], Config: b.Body, DeclRange: b.DefRange}
			diags = append(diags, declare(m.Hosts, "host", h.Name, h)...)
		case "dns_server":
			s := &DNSServer{Name: b.Labels[0], Config: b.Body, DeclRange: b.DefRange}
			diags = append(diags, declare(m.DNSServers, "dns_server", s.Name, s)...)
		case "resource":
			r, d := decodeResource(b)
			diags = append(diags, d...)
			if r != nil {
				diags = append(diags, declare(m.Resources, "resource", r.Addr(), r)...)
			}
		case "module":
			mc, d := decodeModuleCall(b)
			diags = append(diags, d...)
			if mc != nil {
				diags = append(diags, declare(m.ModuleCalls, "module", mc.Name, mc)...)
			}
		case "moved":
			mv, d := decodeMoved(b, m.Path)
			diags = append(diags, d...)
			if mv != nil {
				m.Moved = append(m.Moved, mv)
			}
		case "removed":
			rm, d := decodeRemoved(b, m.Path)
			diags = append(diags, d...)
			if rm != nil {
				m.Removed = append(m.Removed, rm)
			}
		}
	}
	return diags
}

// declare adds the block b to m under name, unless m has a block of that
// name already: that is a duplicate kind, reported at b.
func declare[T interface{ declRange() hcl.Range }](m map[string]T, kind, name string, b T) hcl.Diagnostics {
	if prev, dup := m[name]; dup {
		return hcl.Diagnostics{duplicate(kind, name, prev.declRange(), b.declRange())}
	}
	m[name] = b
	return nil
}

func duplicate(kind, name string, prev, this hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + kind,
		Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Each %s needs a unique name within its module.", kind, name, prev.String(), kind),
		Subject:  this.Ptr(),
	}
}

func hclValidName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && (r == '-' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}

var mailplanSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "required_version"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "backend", LabelNames: []string{"type"}}},
}

func (m *Module) addMailplan(b *hcl.Block, root bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if !root {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Settings block in a module",
			Detail:   "The mailplan block belongs in the root plan directory only; remove it from the module.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	if m.Mailplan != nil {
		return append(diags, duplicate("mailplan block", "mailplan", m.Mailplan.DeclRange, b.DefRange))
	}
	content, d := b.Body.Content(mailplanSchema)
	diags = append(diags, d...)
	mp := &Mailplan{DeclRange: b.DefRange}
	if a, ok := content.Attributes["required_version"]; ok {
		var s string
		d := gohcl.DecodeExpression(a.Expr, nil, &s)
		diags = append(diags, d...)
		mp.RequiredVersion = s
		mp.RequiredVersionRange = a.Expr.Range()
	}
	for _, bb := range content.Blocks {
		if mp.Backend != nil {
			diags = append(diags, duplicate("backend", bb.Labels[0], mp.Backend.DeclRange, bb.DefRange))
			continue
		}
		mp.Backend = &Backend{Type: bb.Labels[0], Config: bb.Body, DeclRange: bb.DefRange}
	}
	m.Mailplan = mp
	return diags
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}, {Name: "nullable"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, TypeDefault: true, DeclRange: b.DefRange}
	content, diags := b.Body.Content(variableSchema)
	if reservedVariable[v.Name] {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reserved variable name",
			Detail:   fmt.Sprintf("%q is reserved for meta-arguments; choose another name.", v.Name),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	if a, ok := content.Attributes["type"]; ok {
		t, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type = t
			v.TypeDefault = false
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &v.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &v.Sensitive)...)
	}
	if a, ok := content.Attributes["default"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			conv, err := Convert(val, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", err),
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				v.Default = conv
				v.HasDefault = true
			}
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(validationSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		v.Validations = append(v.Validations, &Validation{
			Condition:    vc.Attributes["condition"].Expr,
			ErrorMessage: vc.Attributes["error_message"].Expr,
			DeclRange:    vb.DefRange,
		})
	}
	return v, diags
}

var reservedVariable = map[string]bool{
	"count": true, "for_each": true, "depends_on": true, "lifecycle": true, "source": true, "providers": true, "version": true,
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"}, {Name: "depends_on"},
	},
}

func decodeOutput(b *hcl.Block) (*Output, hcl.Diagnostics) {
	o := &Output{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(outputSchema)
	if a, ok := content.Attributes["value"]; ok {
		o.Expr = a.Expr
	} else {
		return nil, diags
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &o.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &o.Sensitive)...)
	}
	if a, ok := content.Attributes["depends_on"]; ok {
		t, d := decodeTraversals(a)
		diags = append(diags, d...)
		o.DependsOn = t
	}
	return o, diags
}

var resourceMetaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "count"}, {Name: "for_each"}, {Name: "depends_on"}, {Name: "during"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "lifecycle"},
		{Type: "hook", LabelNames: []string{"when"}},
	},
}

var lifecycleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "prevent_destroy"}, {Name: "ignore_changes"}},
}

var hookSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "host", Required: true}, {Name: "command", Required: true}},
}

func decodeResource(b *hcl.Block) (*Resource, hcl.Diagnostics) {
	r := &Resource{Type: b.Labels[0], Name: b.Labels[1], DeclRange: b.DefRange, TypeRange: b.LabelRanges[0]}
	content, rest, diags := b.Body.PartialContent(resourceMetaSchema)
	r.Config = rest
	var d hcl.Diagnostics
	r.Count, r.ForEach, r.DependsOn, d = decodeRepetition(content, "A resource")
	diags = append(diags, d...)
	if a, ok := content.Attributes["during"]; ok {
		r.During, d = decodeTraversals(a)
		diags = append(diags, d...)
		r.DuringRange = a.NameRange
	}
	seenLifecycle := false
	for _, bb := range content.Blocks {
		switch bb.Type {
		case "lifecycle":
			if seenLifecycle {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate lifecycle block", Detail: "A resource may have one lifecycle block.", Subject: bb.DefRange.Ptr()})
				continue
			}
			seenLifecycle = true
			lc, d := bb.Body.Content(lifecycleSchema)
			diags = append(diags, d...)
			if a, ok := lc.Attributes["prevent_destroy"]; ok {
				r.Lifecycle.PreventDestroy = a.Expr
			}
			if a, ok := lc.Attributes["ignore_changes"]; ok {
				if kw := hclKeyword(a.Expr); kw == "all" {
					r.Lifecycle.IgnoreAll = true
				} else {
					t, d := decodeTraversals(a)
					diags = append(diags, d...)
					r.Lifecycle.IgnoreChanges = t
				}
			}
		case "hook":
			when := bb.Labels[0]
			valid := false
			for _, k := range HookKinds {
				valid = valid || k == when
			}
			if !valid {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid hook",
					Detail:   fmt.Sprintf("%q is not a hook; use one of %s.", when, strings.Join(HookKinds, ", ")),
					Subject:  bb.LabelRanges[0].Ptr(),
				})
				continue
			}
			hc, d := bb.Body.Content(hookSchema)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			r.Hooks = append(r.Hooks, &Hook{When: when, Host: hc.Attributes["host"].Expr, Command: hc.Attributes["command"].Expr, DeclRange: bb.DefRange})
		}
	}
	return r, diags
}

var moduleMetaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "source", Required: true}, {Name: "count"}, {Name: "for_each"}, {Name: "depends_on"}, {Name: "version"}, {Name: "providers"}},
}

func decodeModuleCall(b *hcl.Block) (*ModuleCall, hcl.Diagnostics) {
	mc := &ModuleCall{Name: b.Labels[0], DeclRange: b.DefRange, Inputs: map[string]*hcl.Attribute{}}
	content, rest, diags := b.Body.PartialContent(moduleMetaSchema)
	if a, ok := content.Attributes["source"]; ok {
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &mc.Source)...)
		mc.SourceRange = a.Expr.Range()
	}
	for _, name := range []string{"version", "providers"} {
		if a, ok := content.Attributes[name]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported argument",
				Detail:   fmt.Sprintf("A module call does not support %q: a module is a local directory or a git source, pinned with ?ref= in the source.", name),
				Subject:  a.NameRange.Ptr(),
			})
		}
	}
	var rd hcl.Diagnostics
	mc.Count, mc.ForEach, mc.DependsOn, rd = decodeRepetition(content, "A module call")
	diags = append(diags, rd...)
	attrs, d := rest.JustAttributes()
	diags = append(diags, d...)
	for n, a := range attrs {
		mc.Inputs[n] = a
	}
	return mc, diags
}

// decodeRepetition reads the count, for_each and depends_on meta-arguments
// that resources and module calls share; what names the block in the
// message ("A resource").
func decodeRepetition(content *hcl.BodyContent, what string) (count, forEach hcl.Expression, dependsOn []hcl.Traversal, diags hcl.Diagnostics) {
	if a, ok := content.Attributes["count"]; ok {
		count = a.Expr
	}
	if a, ok := content.Attributes["for_each"]; ok {
		forEach = a.Expr
	}
	if count != nil && forEach != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid combination of count and for_each",
			Detail:   what + " may have count or for_each, not both.",
			Subject:  forEach.Range().Ptr(),
		})
	}
	if a, ok := content.Attributes["depends_on"]; ok {
		t, d := decodeTraversals(a)
		diags = append(diags, d...)
		dependsOn = t
	}
	return count, forEach, dependsOn, diags
}

func decodeTraversals(a *hcl.Attribute) ([]hcl.Traversal, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(a.Expr)
	var out []hcl.Traversal
	for _, e := range exprs {
		t, d := hcl.AbsTraversalForExpr(e)
		diags = append(diags, d...)
		if !d.HasErrors() {
			out = append(out, t)
		}
	}
	return out, diags
}

func hclKeyword(e hcl.Expression) string {
	t, d := hcl.AbsTraversalForExpr(e)
	if d.HasErrors() || len(t) != 1 {
		return ""
	}
	return t.RootName()
}

// ReadVarFile reads and parses a -var-file, keeping it for diagnostics.
// Like a plan file, it must be a regular file of at most MaxFileSize bytes
// that nests at most MaxNesting levels deep.
func (l *Loader) ReadVarFile(name string) (*hcl.File, hcl.Diagnostics) {
	return l.parseFile(name, "variable file")
}

// parseFile reads and parses one file, after checking that it is a regular
// file, not too large, and not nested too deeply for the parser; what
// names the file's role in messages.
func (l *Loader) parseFile(name, what string) (*hcl.File, hcl.Diagnostics) {
	src, err := ReadFile(name)
	if err != nil {
		return nil, hcl.Diagnostics{ReadFileDiagnostic(name, what, err)}
	}
	return l.parseSource(name, src)
}

// parseSource parses a file's bytes unless they nest too deeply for the
// parser or hold too many tokens.
func (l *Loader) parseSource(name string, src []byte) (*hcl.File, hcl.Diagnostics) {
	if diags := CheckNesting(src, name, false); diags.HasErrors() {
		// Kept without a body, so that the diagnostic can show its line.
		l.parser.AddFile(name, &hcl.File{Bytes: src})
		return nil, diags
	}
	return l.parser.ParseHCL(src, name)
}
