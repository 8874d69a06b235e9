package resource

import (
	"fmt"
	"sort"
)

// Registry is the set of resource types a run knows.
type Registry struct {
	types map[string]Type
}

// NewRegistry returns a registry of the given types. A duplicate name is a
// programming error and panics.
func NewRegistry(types ...Type) *Registry {
	r := &Registry{types: map[string]Type{}}
	for _, t := range types {
		if _, dup := r.types[t.Name()]; dup {
			panic(fmt.Sprintf("resource type %q registered twice", t.Name()))
		}
		r.types[t.Name()] = t
	}
	return r
}

// Get returns the type of that name.
func (r *Registry) Get(name string) (Type, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Names lists the registered type names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.types))
	for n := range r.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
