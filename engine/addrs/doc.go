// Package addrs defines the typed addresses of mailplan objects, as users
// write them (`module.m["k"].file.aliases[0]`) and as the state and plans
// key them: Module (a path of module call instances), Resource,
// ResourceInstance with its instance Key (NoKey, IntKey for count,
// StringKey for for_each), and Target, what -target, -exclude and the
// moved and removed blocks name (a module instance, a whole resource or
// one instance). Parse functions return hcl.Diagnostics; String gives back
// the form they parse.
//
// It also holds the address arithmetic of refactoring: Move, one moved
// block's rewrite of addresses inside every instance of its module, with
// MoveKind saying what its two ends name, and Removes, which instances a
// removed block covers. Checking moves against each other and the state is
// left to engine/configs, engine/lang and engine/exec.
//
// It is a leaf package: it imports nothing else from mailplan.
package addrs
