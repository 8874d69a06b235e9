package resource

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Decode copies an object value (a configuration, a planned or a current
// value) into the struct into points to, by its fields' `cty:"name"` tags
// (go-cty's gocty), so that a type names each attribute once: in its
// field's tag. The fields of an embedded struct without a tag count as the
// outer struct's, so two types can share theirs.
//
// The value's attributes and the tags must be the same set (CheckStruct
// compares a struct with a schema, for each type's tests). Marks are
// dropped. A null attribute leaves its field as it was, so that a caller
// sets an optional attribute's default in the struct before decoding (and
// a pointer, slice or map field left nil means "not set"); but a null Host
// or DNSServer is an error ("no host given"). Inside an attribute (the
// elements of a list or map, the attributes of a nested object) a null
// becomes nil in a pointer, slice or map, else the zero value ("" for a
// string).
//
// A field of type cty.Value receives the attribute as it is, null too; a
// *big.Float field a number exactly.
//
// A value that is null or not wholly known is an error: Validate sees
// unknowns, Read, Plan and Apply never do. Other errors name the attribute
// path.
func Decode(v cty.Value, into any) error {
	v = Unmarked(v)
	if v.IsNull() || !v.IsWhollyKnown() {
		return errors.New("configuration is null or not known")
	}
	rv := reflect.ValueOf(into)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("decode into %T: want a pointer to a struct", into)
	}
	if !v.Type().IsObjectType() {
		return fmt.Errorf("decode %s: want an object", v.Type().FriendlyName())
	}
	fields := tagged(rv.Elem())
	for name := range v.Type().AttributeTypes() {
		if _, ok := fields[name]; !ok {
			return fmt.Errorf("decode into %T: no field for attribute %q", into, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !v.Type().HasAttribute(name) {
			return fmt.Errorf("decode into %T: no attribute %q", into, name)
		}
		f, av := fields[name], v.GetAttr(name)
		if _, ref := refs[f.Type()]; av.IsNull() && !ref && f.Type() != valueType {
			continue
		}
		if err := decodeInto(av, f, cty.GetAttrPath(name)); err != nil {
			return err
		}
	}
	return nil
}

// CheckStruct reports how the `cty` tags of the struct sample (a value or
// a pointer) and the schema's attributes differ; nil when they are the
// same set. Each type's tests call it, so that its decoding struct and its
// schema cannot drift apart.
func CheckStruct(s *Schema, sample any) error {
	rv := reflect.ValueOf(sample)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("%T is not a struct", sample)
	}
	// A copy, so that tagged can hand out addressable fields.
	cp := reflect.New(rv.Type()).Elem()
	fields := tagged(cp)
	var problems []string
	for name := range s.Attributes {
		if _, ok := fields[name]; !ok {
			problems = append(problems, fmt.Sprintf("attribute %q has no field", name))
		}
	}
	for name := range fields {
		if _, ok := s.Attributes[name]; !ok {
			problems = append(problems, fmt.Sprintf("field tagged %q is no attribute", name))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return fmt.Errorf("%T and the schema differ: %s", sample, strings.Join(problems, "; "))
}

var valueType = reflect.TypeOf(cty.Value{})

// refs decode the fields that receive a HostRef or DNSServerRef attribute.
var refs = map[reflect.Type]func(cty.Value) (any, error){
	reflect.TypeOf(Host{}):      func(v cty.Value) (any, error) { return HostFromValue(v) },
	reflect.TypeOf(DNSServer{}): func(v cty.Value) (any, error) { return DNSServerFromValue(v) },
}

// tagged maps each `cty` tag of the struct s, and of the untagged structs
// it embeds, to its field.
func tagged(s reflect.Value) map[string]reflect.Value {
	idx := taggedIndex(s.Type())
	out := make(map[string]reflect.Value, len(idx))
	for name, i := range idx {
		out[name] = s.FieldByIndex(i)
	}
	return out
}

// taggedIndexes are taggedIndex's results, by struct type: a plan decodes
// the same few structs thousands of times.
var taggedIndexes sync.Map

// taggedIndex maps each `cty` tag of the struct type t, and of the
// untagged structs it embeds, to its field's index.
func taggedIndex(t reflect.Type) map[string][]int {
	if m, ok := taggedIndexes.Load(t); ok {
		return m.(map[string][]int)
	}
	out := map[string][]int{}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("cty")
		switch {
		case tag != "":
			out[tag] = []int{i}
		case sf.Anonymous && sf.Type.Kind() == reflect.Struct:
			for name, sub := range taggedIndex(sf.Type) {
				out[name] = append([]int{i}, sub...)
			}
		}
	}
	taggedIndexes.Store(t, out)
	return out
}

// decodeInto decodes the attribute v at path into the field f.
func decodeInto(v cty.Value, f reflect.Value, path cty.Path) error {
	if ref, ok := refs[f.Type()]; ok {
		got, err := ref(v)
		if err != nil {
			return fmt.Errorf("%s: %w", pathString(path), err)
		}
		f.Set(reflect.ValueOf(got))
		return nil
	}
	if err := gocty.FromCtyValue(zeroNulls(v, f.Type()), f.Addr().Interface()); err != nil {
		var pe cty.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s: %w", pathString(append(path.Copy(), pe.Path...)), err)
		}
		return fmt.Errorf("%s: %w", pathString(path), err)
	}
	return nil
}

// zeroNulls replaces in v each null that lands where Go has no nil (see
// Decode) by the zero value of its type, following t, the Go type v
// decodes into.
func zeroNulls(v cty.Value, t reflect.Type) cty.Value {
	if t == valueType {
		return v
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNull() {
			return v
		}
		return zeroNulls(v, t.Elem())
	case reflect.Slice, reflect.Map, reflect.Interface:
		if v.IsNull() {
			return v
		}
	}
	ty := v.Type()
	switch {
	case v.IsNull():
		return zeroOf(ty, t)
	case ty.IsObjectType() && t.Kind() == reflect.Struct:
		fields := tagged(reflect.New(t).Elem())
		attrs := map[string]cty.Value{}
		for name := range ty.AttributeTypes() {
			av := v.GetAttr(name)
			if f, ok := fields[name]; ok {
				av = zeroNulls(av, f.Type())
			}
			attrs[name] = av
		}
		return cty.ObjectVal(attrs)
	case (ty.IsListType() || ty.IsSetType()) && t.Kind() == reflect.Slice && v.LengthInt() > 0:
		var els []cty.Value
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			els = append(els, zeroNulls(e, t.Elem()))
		}
		if ty.IsSetType() {
			return cty.SetVal(els)
		}
		return cty.ListVal(els)
	case ty.IsMapType() && t.Kind() == reflect.Map && v.LengthInt() > 0:
		els := map[string]cty.Value{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			els[k.AsString()] = zeroNulls(e, t.Elem())
		}
		return cty.MapVal(els)
	}
	return v
}

// zeroOf is the zero value of ty, for the Go type t.
func zeroOf(ty cty.Type, t reflect.Type) cty.Value {
	switch {
	case ty == cty.String:
		return cty.StringVal("")
	case ty == cty.Number:
		return cty.Zero
	case ty == cty.Bool:
		return cty.False
	case ty.IsObjectType():
		attrs := map[string]cty.Value{}
		for name, at := range ty.AttributeTypes() {
			attrs[name] = zeroNulls(cty.NullVal(at), fieldType(t, name))
		}
		return cty.ObjectVal(attrs)
	case ty.IsListType():
		return cty.ListValEmpty(ty.ElementType())
	case ty.IsSetType():
		return cty.SetValEmpty(ty.ElementType())
	case ty.IsMapType():
		return cty.MapValEmpty(ty.ElementType())
	}
	return cty.NullVal(ty)
}

// fieldType is the type of the field of struct t tagged name; cty.Value's
// (which takes a null as it is) when there is none.
func fieldType(t reflect.Type, name string) reflect.Type {
	if t.Kind() == reflect.Struct {
		if f, ok := tagged(reflect.New(t).Elem())[name]; ok {
			return f.Type()
		}
	}
	return valueType
}

// pathString writes an attribute path as in HCL: entries[0].key.
func pathString(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			switch s.Key.Type() {
			case cty.Number:
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			case cty.String:
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			}
		}
	}
	return b.String()
}

// DecodeAttr decodes one wholly known attribute value into the Go value
// into points to, nulls inside it as Decode has them.
func DecodeAttr(v cty.Value, into any) error {
	v = Unmarked(v)
	if !v.IsWhollyKnown() {
		return errors.New("value is not known")
	}
	rv := reflect.ValueOf(into)
	if rv.Kind() != reflect.Pointer {
		return fmt.Errorf("decode into %T: want a pointer", into)
	}
	return gocty.FromCtyValue(zeroNulls(v, rv.Type().Elem()), into)
}

// Known returns the attribute name of a configuration as a Validator gets
// it (marks dropped; null or unknown as a whole is nothing to check), and
// whether it is set and wholly known: what Validate can check now. What is
// unknown is checked at plan time, once known.
func Known(config cty.Value, name string) (cty.Value, bool) {
	config = Unmarked(config)
	if config.IsNull() || !config.IsKnown() {
		return cty.NilVal, false
	}
	v := config.GetAttr(name)
	return v, v.IsWhollyKnown() && !v.IsNull()
}
