package resource

import (
	"sync"

	"github.com/zclconf/go-cty/cty"
)

// Kind says what an attribute refers to.
type Kind int

const (
	// Plain is an ordinary value of the attribute's Type.
	Plain Kind = iota
	// HostRef is a reference to a host block (host.NAME); the value is the
	// host object, see HostFromValue.
	HostRef
	// DNSServerRef is a reference to a dns_server block.
	DNSServerRef
)

// Attribute describes one argument of a resource block.
type Attribute struct {
	Type     cty.Type
	Kind     Kind
	Required bool
	// Default is used when an optional attribute is not set; cty.NilVal
	// means null.
	Default cty.Value
	// Sensitive values show as (sensitive value) and never reach state,
	// plan files or logs.
	Sensitive bool
	// ForceNew: a change to this attribute replaces the object (the old one
	// is restored to what was there before mailplan, then the new one made).
	ForceNew bool
	// Identity: the attribute says which object the instance is (the host
	// it is on, its path there). lifecycle.ignore_changes never keeps the
	// real value of an identity attribute in place of the configured one:
	// another value names another object.
	Identity bool
	// ShowUnchanged: the plan shows the attribute in an update even when
	// it does not change, so that a reader can tell which object the
	// change is about (a file's path, a record's zone and name).
	ShowUnchanged bool
	// Computed: the value comes from the real state, not the configuration
	// (e.g. a file's owner when none is configured); not settable.
	Computed    bool
	Description string
}

// Schema is the set of attributes of a resource type.
type Schema struct {
	Attributes map[string]*Attribute
}

// ImpliedType is the object type of Config, Current and Planned values.
// It is made once per schema and kept (the engine asks for it several
// times per instance); a schema whose attributes are added to after its
// first use gets it made again.
func (s *Schema) ImpliedType() cty.Type {
	if c, ok := impliedTypes.Load(s); ok {
		if c := c.(impliedType); c.n == len(s.Attributes) {
			return c.t
		}
	}
	t := s.makeImpliedType()
	impliedTypes.Store(s, impliedType{n: len(s.Attributes), t: t})
	return t
}

// impliedTypes are the types ImpliedType made, by schema.
var impliedTypes sync.Map

type impliedType struct {
	n int
	t cty.Type
}

func (s *Schema) makeImpliedType() cty.Type {
	attrs := make(map[string]cty.Type, len(s.Attributes))
	for name, a := range s.Attributes {
		attrs[name] = a.ValueType()
	}
	return cty.Object(attrs)
}

// ValueType is the cty type of the attribute's values.
func (a *Attribute) ValueType() cty.Type {
	switch a.Kind {
	case HostRef:
		return HostType
	case DNSServerRef:
		return DNSServerType
	}
	return a.Type
}
