package lang

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// Sensitive is the cty mark on values that must never be shown, stored in
// state or plan files, or logged.
const Sensitive = "sensitive"

// IsSensitive reports whether v or anything inside it is sensitive.
func IsSensitive(v cty.Value) bool {
	if !resource.HasMarks(v) {
		return false
	}
	return v.HasMarkDeep(Sensitive)
}

// StripSensitive returns v unmarked, with every sensitive part replaced by
// null of its type, and the paths that were replaced.
func StripSensitive(v cty.Value) (cty.Value, []cty.Path) {
	if !resource.HasMarks(v) {
		return v, nil
	}
	unmarked, pvm := v.UnmarkDeepWithPaths()
	var paths []cty.Path
	for _, pm := range pvm {
		if _, ok := pm.Marks[Sensitive]; ok {
			paths = append(paths, pm.Path)
		}
	}
	if len(paths) == 0 {
		return unmarked, nil
	}
	out, err := cty.Transform(unmarked, func(p cty.Path, v cty.Value) (cty.Value, error) {
		for _, sp := range paths {
			if p.Equals(sp) {
				return cty.NullVal(v.Type()), nil
			}
		}
		return v, nil
	})
	if err != nil {
		return cty.NullVal(unmarked.Type()), paths
	}
	return out, paths
}
