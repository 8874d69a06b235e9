package engine

import (
	"context"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/states/pg"
)

// PGConnStrEnv gives the pg backend's conn_str when neither the backend
// block nor init's -backend-config does.
const PGConnStrEnv = "MAILPLAN_PG_CONN_STR"

func init() {
	backendTypes["pg"] = BackendType{
		Keys: []string{"conn_str", "schema_name"},
		Open: func(ctx context.Context, settings BackendSettings, workspace string, environ []string, logger hclog.Logger) (StateStore, error) {
			cfg := pg.Config{ConnStr: settings["conn_str"], SchemaName: settings["schema_name"]}
			if cfg.ConnStr == "" {
				for _, kv := range environ {
					if v, ok := strings.CutPrefix(kv, PGConnStrEnv+"="); ok {
						cfg.ConnStr = v
					}
				}
			}
			return pg.New(ctx, cfg, workspace, logger)
		},
	}
}
