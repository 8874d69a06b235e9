// Package pool shares one connection per host between every resource of a
// run: Pool is the transport.Getter the resource types are given. The
// first Get for a host block dials it (local for transport = "local", SSH
// otherwise), concurrent Gets wait for that one dial, and Close ends them
// all. RunHook runs a resource's hook commands on their host.
//
// It owns connections only; what runs on them is the callers' business.
package pool
