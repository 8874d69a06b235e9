package postfix

import (
	"testing"

	"github.com/mailplan/mailplan/engine/resource"
)

func TestConfigsMatchSchemas(t *testing.T) {
	for _, tc := range []struct {
		name   string
		schema *resource.Schema
		config any
	}{
		{"postfix_map", mapSchema, mapConfig{}},
		{"postfix_config", configSchema, configConfig{}},
		{"postfix_queue", queueSchema, queueConfig{}},
	} {
		if err := resource.CheckStruct(tc.schema, tc.config); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
