// Package engine is the facade the CLI calls. It loads a plan directory
// (engine/configs), evaluates it (engine/lang), opens and locks its state
// (engine/states), and runs validate, plan, apply, rollback, destroy and
// the state commands through engine/exec. It returns results for
// engine/render to show, and an hcl.Diagnostic for every problem a user can
// fix.
//
// Engine.Plan, Engine.Apply, Engine.Destroy and Engine.Rollback each run a
// whole command — open and lock the state, plan, show, confirm, change
// hosts — talking to the user only through a UI, and end with a Result
// whose Status the CLI maps to an exit code. Engine.Fmt, Engine.Graph and
// the state commands (StateMove, StateRemove, StatePush) do the same for
// theirs. Load, Open, OpenState and the Session's methods are the steps
// they are made of.
//
// It never names a resource type: the caller gives it a resource.Registry
// (resources/all builds the one list), how to run hooks and where progress
// goes. It prints nothing itself and decides no exit code.
//
// The path of one `mailplan apply` through the packages is told in
// docs/architecture.md.
package engine
