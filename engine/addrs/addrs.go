package addrs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Key is the instance key of a counted or for_each'd object: NoKey, IntKey or
// StringKey.
type Key interface {
	// String renders the key with its brackets, or "" for NoKey.
	String() string
	isKey()
}

// NoKey is the key of an object that has neither count nor for_each.
var NoKey Key = noKey{}

type noKey struct{}

func (noKey) String() string { return "" }
func (noKey) isKey()         {}

// IntKey is a count index.
type IntKey int

func (k IntKey) String() string { return "[" + strconv.Itoa(int(k)) + "]" }
func (IntKey) isKey()           {}

// StringKey is a for_each key.
type StringKey string

func (k StringKey) String() string { return "[" + strconv.Quote(string(k)) + "]" }
func (StringKey) isKey()           {}

// ModuleStep is one module call on the path from the root module.
type ModuleStep struct {
	Name string
	Key  Key
}

// Module is the path of a module instance; nil or empty is the root module.
type Module []ModuleStep

// IsRoot reports whether m is the root module.
func (m Module) IsRoot() bool { return len(m) == 0 }

// Child returns the path of a child module instance.
func (m Module) Child(name string, key Key) Module {
	out := make(Module, 0, len(m)+1)
	out = append(out, m...)
	return append(out, ModuleStep{Name: name, Key: key})
}

func (m Module) String() string {
	var b strings.Builder
	for i, s := range m {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString("module.")
		b.WriteString(s.Name)
		b.WriteString(keyString(s.Key))
	}
	return b.String()
}

// Equal reports whether two module paths are the same.
func (m Module) Equal(o Module) bool { return m.String() == o.String() }

// Resource names a resource block: its type and name.
type Resource struct {
	Type string
	Name string
}

func (r Resource) String() string { return r.Type + "." + r.Name }

// ResourceInstance is the full address of one resource instance.
type ResourceInstance struct {
	Module   Module
	Resource Resource
	Key      Key
}

func (r ResourceInstance) String() string {
	s := r.Resource.String() + keyString(r.Key)
	if len(r.Module) > 0 {
		return r.Module.String() + "." + s
	}
	return s
}

// ConfigString is the address of the resource block without instance keys,
// e.g. module.m.file.x.
func (r ResourceInstance) ConfigString() string {
	var parts []string
	for _, s := range r.Module {
		parts = append(parts, "module."+s.Name)
	}
	parts = append(parts, r.Resource.String())
	return strings.Join(parts, ".")
}

func keyString(k Key) string {
	if k == nil {
		return ""
	}
	return k.String()
}

// Target is what -target and -exclude name: a module instance, a whole
// resource (all its instances) or one instance.
type Target struct {
	Module   Module
	Resource *Resource // nil: the whole module
	Key      Key       // nil: every instance of Resource
}

func (t Target) String() string {
	if t.Resource == nil {
		return t.Module.String()
	}
	s := t.Resource.String()
	if t.Key != nil {
		s += t.Key.String()
	}
	if len(t.Module) > 0 {
		return t.Module.String() + "." + s
	}
	return s
}

// Contains reports whether the instance is selected by the target.
func (t Target) Contains(ri ResourceInstance) bool {
	if len(ri.Module) < len(t.Module) {
		return false
	}
	for i, s := range t.Module {
		o := ri.Module[i]
		if s.Name != o.Name {
			return false
		}
		if s.Key != nil && keyString(s.Key) != keyString(o.Key) {
			return false
		}
	}
	if t.Resource == nil {
		return true
	}
	if len(ri.Module) != len(t.Module) || *t.Resource != ri.Resource {
		return false
	}
	return t.Key == nil || keyString(t.Key) == keyString(ri.Key)
}

// ParseTarget parses an address as written on the command line.
func ParseTarget(s string) (Target, hcl.Diagnostics) {
	trav, diags := hclsyntax.ParseTraversalAbs([]byte(s), "", hcl.Pos{Line: 1, Column: 1, Byte: 0})
	if diags.HasErrors() {
		return Target{}, invalid(s, "it is not a valid address")
	}
	t, why, _ := parseTraversal(trav)
	if why != "" {
		return Target{}, invalid(s, why)
	}
	return t, nil
}

// parseTraversal reads a target from a traversal. On failure it says why,
// and which part of the traversal is wrong.
func parseTraversal(trav hcl.Traversal) (Target, string, hcl.Range) {
	var t Target
	i := 0
	name := func(tr hcl.Traverser) (string, bool) {
		switch v := tr.(type) {
		case hcl.TraverseRoot:
			return v.Name, true
		case hcl.TraverseAttr:
			return v.Name, true
		}
		return "", false
	}
	key := func(tr hcl.Traverser) (Key, bool) {
		ix, ok := tr.(hcl.TraverseIndex)
		if !ok {
			return nil, false
		}
		switch {
		case ix.Key.IsNull() || !ix.Key.IsKnown():
			return nil, false
		case ix.Key.Type().FriendlyName() == "string":
			return StringKey(ix.Key.AsString()), true
		case ix.Key.Type().FriendlyName() == "number":
			bf := ix.Key.AsBigFloat()
			n, acc := bf.Int64()
			if acc != 0 || n < 0 {
				return nil, false
			}
			return IntKey(int(n)), true
		}
		return nil, false
	}
	at := func(j int) hcl.Range {
		if j >= len(trav) {
			return trav.SourceRange()
		}
		return trav[j].SourceRange()
	}
	for i < len(trav) {
		n, ok := name(trav[i])
		if !ok {
			return Target{}, "an index must follow a name", at(i)
		}
		if n == "module" {
			if i+1 >= len(trav) {
				return Target{}, "module must be followed by a module name", at(i)
			}
			mn, ok := name(trav[i+1])
			if !ok {
				return Target{}, "module must be followed by a module name", at(i + 1)
			}
			step := ModuleStep{Name: mn}
			i += 2
			if i < len(trav) {
				if k, ok := key(trav[i]); ok {
					step.Key = k
					i++
				} else if _, isIndex := trav[i].(hcl.TraverseIndex); isIndex {
					return Target{}, "an instance key is a whole number or a string", at(i)
				}
			}
			t.Module = append(t.Module, step)
			continue
		}
		if i+1 >= len(trav) {
			return Target{}, "a resource address is TYPE.NAME", at(i)
		}
		rn, ok := name(trav[i+1])
		if !ok {
			return Target{}, "a resource address is TYPE.NAME", at(i + 1)
		}
		t.Resource = &Resource{Type: n, Name: rn}
		i += 2
		if i < len(trav) {
			k, ok := key(trav[i])
			if !ok {
				return Target{}, "only an index (a whole number or a string) may follow TYPE.NAME", at(i)
			}
			t.Key = k
			i++
		}
		if i != len(trav) {
			return Target{}, "nothing may follow a resource instance", at(i)
		}
	}
	return t, "", hcl.Range{}
}

// ParseResourceInstance parses the address of one resource instance.
func ParseResourceInstance(s string) (ResourceInstance, hcl.Diagnostics) {
	t, diags := ParseTarget(s)
	if diags.HasErrors() {
		return ResourceInstance{}, diags
	}
	if t.Resource == nil {
		return ResourceInstance{}, invalid(s, "it names a module, not a resource")
	}
	for _, m := range t.Module {
		if m.Key == nil {
			m.Key = NoKey
		}
	}
	mod := make(Module, len(t.Module))
	for i, m := range t.Module {
		if m.Key == nil {
			m.Key = NoKey
		}
		mod[i] = m
	}
	key := t.Key
	if key == nil {
		key = NoKey
	}
	return ResourceInstance{Module: mod, Resource: *t.Resource, Key: key}, nil
}

func invalid(s, why string) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid address",
		Detail:   fmt.Sprintf("%q is not a resource address: %s. Addresses look like file.aliases, file.x[0], file.x[\"key\"] or module.m.file.x.", s, why),
	}}
}
