package configs

import (
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// maxDistinctTypes is how many different element types NarrowCollection
// unifies itself; more, and cty does it the slow way.
const maxDistinctTypes = 32

// NarrowCollection turns a constraint of "a list, set or map of any single
// type" (list(any), toset's target) into a list, set or map of the one type
// that the elements of got unify to, so that converting a tuple or an
// object costs time linear in its length.
//
// cty's own conversion unifies the element types by comparing every pair
// of them (convert.unify sorts them by a pairwise "more general than"
// graph), even when all are the same: toset() of 100,000 strings made
// 5·10⁹ comparisons. Unifying the distinct types gives the same type.
//
// It returns want unchanged when there is nothing to narrow, and an error
// when the elements have no common type.
func NarrowCollection(want, got cty.Type) (cty.Type, error) {
	var etys []cty.Type
	switch {
	case (want.IsListType() || want.IsSetType()) && want.ElementType() == cty.DynamicPseudoType && got.IsTupleType():
		etys = got.TupleElementTypes()
	case want.IsMapType() && want.ElementType() == cty.DynamicPseudoType && got.IsObjectType():
		attrs := got.AttributeTypes()
		names := make([]string, 0, len(attrs))
		for n := range attrs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			etys = append(etys, attrs[n])
		}
	default:
		return want, nil
	}
	if len(etys) == 0 {
		return want, nil
	}
	var distinct []cty.Type
	for _, t := range etys {
		seen := false
		for _, d := range distinct {
			if d.Equals(t) {
				seen = true
				break
			}
		}
		if !seen {
			if len(distinct) == maxDistinctTypes {
				return want, nil
			}
			distinct = append(distinct, t)
		}
	}
	ety, _ := convert.Unify(distinct)
	switch {
	case ety == cty.NilType && len(distinct) > 1:
		return cty.NilType, fmt.Errorf("its elements have no common type (%s and %s, for example)", distinct[0].FriendlyName(), distinct[1].FriendlyName())
	case ety == cty.NilType || ety == cty.DynamicPseudoType:
		return want, nil
	case want.IsListType():
		return cty.List(ety), nil
	case want.IsSetType():
		return cty.Set(ety), nil
	}
	return cty.Map(ety), nil
}

// Convert is convert.Convert, with NarrowCollection applied first.
func Convert(v cty.Value, want cty.Type) (cty.Value, error) {
	narrowed, err := NarrowCollection(want, v.Type())
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s cannot be converted to %s: %w", v.Type().FriendlyName(), want.FriendlyNameForConstraint(), err)
	}
	return convert.Convert(v, narrowed)
}
