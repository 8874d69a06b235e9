package lang

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/mailplan/mailplan/engine/configs"
)

// tolist, toset and tomap are cty's, except that the element type of a
// tuple or object is found in time linear in its length
// (configs.NarrowCollection): cty's took 269 s for toset() of 100,000
// strings, the usual way to write a for_each.
var (
	tolistFunc = makeToCollectionFunc(cty.List(cty.DynamicPseudoType))
	tosetFunc  = makeToCollectionFunc(cty.Set(cty.DynamicPseudoType))
	tomapFunc  = makeToCollectionFunc(cty.Map(cty.DynamicPseudoType))
)

func makeToCollectionFunc(want cty.Type) function.Function {
	generic := stdlib.MakeToFunc(want)
	// pick returns the conversion function for args: cty's, with the
	// element type already found.
	pick := func(args []cty.Value) (function.Function, error) {
		narrowed, err := configs.NarrowCollection(want, args[0].Type())
		if err != nil {
			return generic, function.NewArgErrorf(0, "cannot convert %s to %s: %s", args[0].Type().FriendlyName(), want.FriendlyNameForConstraint(), err)
		}
		if narrowed.Equals(want) {
			return generic, nil
		}
		return stdlib.MakeToFunc(narrowed), nil
	}
	return function.New(&function.Spec{
		Description: generic.Description(),
		Params:      generic.Params(),
		Type: func(args []cty.Value) (cty.Type, error) {
			f, err := pick(args)
			if err != nil {
				return cty.NilType, err
			}
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			f, err := pick(args)
			if err != nil {
				return cty.NilVal, err
			}
			return f.Call(args)
		},
	})
}
