package resource

import "github.com/zclconf/go-cty/cty"

// Unmarked is v without any marks, deep. Unlike cty's UnmarkDeep it
// returns v itself, without rebuilding it, when nothing in it is marked:
// the common case, and the one a plan of thousands of instances hits for
// each of them several times.
func Unmarked(v cty.Value) cty.Value {
	if !HasMarks(v) {
		return v
	}
	u, _ := v.UnmarkDeep()
	return u
}

// HasMarks reports whether v or anything inside it is marked. It walks v
// without building any value.
func HasMarks(v cty.Value) bool {
	if v.IsMarked() {
		return true
	}
	if v.IsNull() || !v.IsKnown() {
		return false
	}
	ty := v.Type()
	switch {
	case ty.IsPrimitiveType():
		return false
	case ty.IsObjectType():
		for name := range ty.AttributeTypes() {
			if HasMarks(v.GetAttr(name)) {
				return true
			}
		}
		return false
	case ty.IsCapsuleType():
		return false
	}
	// Lists, sets, maps and tuples.
	if v.LengthInt() == 0 {
		return false
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if HasMarks(e) {
			return true
		}
	}
	return false
}
