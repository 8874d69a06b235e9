package all

import (
	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

// Wire makes what the engine needs to reach hosts: the registry of every
// type over one pool of connections, and the pool, which also runs hooks
// (exec.HookRunner). Close the pool when done.
func Wire(logger hclog.Logger) (*resource.Registry, *pool.Pool) {
	p := pool.New(logger)
	return Registry(p), p
}
