package addrs

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ParseTargetTraversal parses an address written in a plan file as a
// static reference (a moved or removed block's from and to), with
// diagnostics pointing at the offending part.
func ParseTargetTraversal(trav hcl.Traversal) (Target, hcl.Diagnostics) {
	t, why, rng := parseTraversal(trav)
	if why != "" {
		return Target{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid address",
			Detail:   fmt.Sprintf("This is not an address: %s. Addresses look like file.aliases, file.x[0], file.x[\"key\"], module.m or module.m.file.x.", why),
			Subject:  rng.Ptr(),
		}}
	}
	return t, nil
}

// MoveKind is what both ends of a move name.
type MoveKind int

const (
	// MoveInvalid: the two ends name different kinds of things.
	MoveInvalid MoveKind = iota
	// MoveModule moves every instance of a module call (module.a → module.b).
	MoveModule
	// MoveModuleInstance moves one instance of a module call
	// (module.a → module.a["x"], module.a[0] → module.b).
	MoveModuleInstance
	// MoveResource moves every instance of a resource (file.a → file.b).
	MoveResource
	// MoveInstance moves one resource instance (file.a[0] → file.a["x"],
	// file.a → file.b[0]).
	MoveInstance
)

func (k MoveKind) String() string {
	switch k {
	case MoveModule:
		return "module call"
	case MoveModuleInstance:
		return "module instance"
	case MoveResource:
		return "resource"
	case MoveInstance:
		return "resource instance"
	}
	return "invalid"
}

// Kind says what a target names on its own: a module call (no key on its
// last step), a module instance, a resource, or a resource instance.
func (t Target) Kind() MoveKind {
	switch {
	case t.Resource == nil && len(t.Module) == 0:
		return MoveInvalid
	case t.Resource == nil && t.Module[len(t.Module)-1].Key == nil:
		return MoveModule
	case t.Resource == nil:
		return MoveModuleInstance
	case t.Key == nil:
		return MoveResource
	}
	return MoveInstance
}

// MoveKindOf returns the kind of a move from → to, or MoveInvalid with
// the reason. One end without a key and the other with one is a move of a
// single instance: the end without a key is the instance that has none
// (file.a → file.a[0] when count is added).
func MoveKindOf(from, to Target) (MoveKind, string) {
	fk, tk := from.Kind(), to.Kind()
	if fk == MoveInvalid || tk == MoveInvalid {
		return MoveInvalid, "an end of the move names nothing"
	}
	fromModule := fk == MoveModule || fk == MoveModuleInstance
	toModule := tk == MoveModule || tk == MoveModuleInstance
	if fromModule != toModule {
		return MoveInvalid, fmt.Sprintf("from is a %s and to is a %s; a move goes from a resource to a resource, or from a module call to a module call", fk, tk)
	}
	if !fromModule && from.Resource.Type != to.Resource.Type {
		return MoveInvalid, fmt.Sprintf("from is of type %q and to of type %q; a resource can only move to an address of the same type", from.Resource.Type, to.Resource.Type)
	}
	switch {
	case fromModule && fk == MoveModule && tk == MoveModule:
		return MoveModule, ""
	case fromModule:
		return MoveModuleInstance, ""
	case fk == MoveResource && tk == MoveResource:
		return MoveResource, ""
	}
	return MoveInstance, ""
}

// Move is one move, with both ends relative to the module that declares
// it. It applies inside every instance of that module.
type Move struct {
	// Scope is the declaring module, by call names from the root (nil for
	// the root module).
	Scope    []string
	From, To Target
	Kind     MoveKind
}

// NewMove checks the two ends and returns the move, or the reason they do
// not make one.
func NewMove(scope []string, from, to Target) (Move, string) {
	k, why := MoveKindOf(from, to)
	if k == MoveInvalid {
		return Move{}, why
	}
	m := Move{Scope: scope, From: from, To: to, Kind: k}
	if m.FromString() == m.ToString() {
		return Move{}, "from and to are the same address"
	}
	return m, ""
}

// FromString and ToString are the ends as the root module sees them, with
// "[*]" for any instance of a module the move is declared in.
func (m Move) FromString() string { return m.scoped(m.From) }

// ToString is the destination, as FromString.
func (m Move) ToString() string { return m.scoped(m.To) }

func (m Move) scoped(t Target) string {
	var parts []string
	for _, n := range m.Scope {
		parts = append(parts, "module."+n+"[*]")
	}
	parts = append(parts, normalTarget(t, m.Kind).String())
	return strings.Join(parts, ".")
}

// normalTarget spells out NoKey where the kind of move implies it, so
// that equal addresses compare equal as strings.
func normalTarget(t Target, k MoveKind) Target {
	out := Target{Resource: t.Resource, Key: t.Key}
	for i, s := range t.Module {
		if s.Key == nil && !(k == MoveModule && i == len(t.Module)-1) {
			s.Key = NoKey
		}
		out.Module = append(out.Module, s)
	}
	if k == MoveInstance && out.Key == nil {
		out.Key = NoKey
	}
	return out
}

// Apply returns the address ri has after the move, and whether the move
// applies to it at all.
func (m Move) Apply(ri ResourceInstance) (ResourceInstance, bool) {
	n := len(m.Scope)
	if len(ri.Module) < n {
		return ri, false
	}
	for i, name := range m.Scope {
		if ri.Module[i].Name != name {
			return ri, false
		}
	}
	base := ri.Module[:n]
	rest := ri.Module[n:]
	join := func(parts ...Module) Module {
		out := Module{}
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	switch m.Kind {
	case MoveModule, MoveModuleInstance:
		f, t := m.From.Module, m.To.Module
		if len(rest) < len(f) {
			return ri, false
		}
		for i, s := range f {
			last := i == len(f)-1
			if rest[i].Name != s.Name {
				return ri, false
			}
			if last && m.Kind == MoveModule {
				continue
			}
			if keyString(s.Key) != keyString(rest[i].Key) {
				return ri, false
			}
		}
		to := make(Module, len(t))
		for i, s := range t {
			if s.Key == nil {
				s.Key = NoKey
			}
			to[i] = s
		}
		if m.Kind == MoveModule {
			to[len(to)-1].Key = rest[len(f)-1].Key
		}
		return ResourceInstance{Module: join(base, to, rest[len(f):]), Resource: ri.Resource, Key: ri.Key}, true
	case MoveResource, MoveInstance:
		if !sameModule(rest, m.From.Module) || ri.Resource != *m.From.Resource {
			return ri, false
		}
		key := ri.Key
		if m.Kind == MoveInstance {
			if keyString(m.From.Key) != keyString(ri.Key) {
				return ri, false
			}
			key = m.To.Key
			if key == nil {
				key = NoKey
			}
		}
		to := make(Module, len(m.To.Module))
		for i, s := range m.To.Module {
			if s.Key == nil {
				s.Key = NoKey
			}
			to[i] = s
		}
		return ResourceInstance{Module: join(base, to), Resource: *m.To.Resource, Key: key}, true
	}
	return ri, false
}

// sameModule compares module instance paths, a missing key being NoKey.
func sameModule(a, b Module) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || keyString(a[i].Key) != keyString(b[i].Key) {
			return false
		}
	}
	return true
}

// Removes reports whether a removed block naming t in the module scope
// (by call names) covers the instance ri: t names a resource or a module
// call, in every instance of the declaring module.
func Removes(scope []string, t Target, ri ResourceInstance) bool {
	if len(ri.Module) < len(scope) {
		return false
	}
	for i, name := range scope {
		if ri.Module[i].Name != name {
			return false
		}
	}
	rest := ri.Module[len(scope):]
	if t.Resource == nil {
		if len(rest) < len(t.Module) {
			return false
		}
		for i, s := range t.Module {
			if rest[i].Name != s.Name || (s.Key != nil && keyString(s.Key) != keyString(rest[i].Key)) {
				return false
			}
		}
		return true
	}
	if len(rest) != len(t.Module) || ri.Resource != *t.Resource {
		return false
	}
	for i, s := range t.Module {
		if rest[i].Name != s.Name || (s.Key != nil && keyString(s.Key) != keyString(rest[i].Key)) {
			return false
		}
	}
	return t.Key == nil || keyString(t.Key) == keyString(ri.Key)
}
