package dns

import (
	"testing"

	"github.com/mailplan/mailplan/engine/resource"
)

func TestAttrsMatchSchemas(t *testing.T) {
	for _, tc := range []struct {
		schema *resource.Schema
		attrs  any
	}{
		{recordSchema, recordAttrs{}},
		{mxSchema, mxAttrs{}},
	} {
		if err := resource.CheckStruct(tc.schema, tc.attrs); err != nil {
			t.Error(err)
		}
	}
}
