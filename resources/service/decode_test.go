package service

import (
	"testing"

	"github.com/mailplan/mailplan/engine/resource"
)

func TestConfigMatchesSchema(t *testing.T) {
	if err := resource.CheckStruct(schema, config{}); err != nil {
		t.Error(err)
	}
}
