package resource

import (
	"encoding/json"

	"github.com/zclconf/go-cty/cty"
)

// Absent is the ReadResponse of an object that does not exist: Current
// null of s's type, and snapshot as JSON. A Read that finds the object
// sets Current.
func Absent(s *Schema, snapshot any) (ReadResponse, error) {
	b, err := json.Marshal(snapshot)
	if err != nil {
		return ReadResponse{}, err
	}
	return ReadResponse{Current: cty.NullVal(s.ImpliedType()), Snapshot: b}, nil
}
