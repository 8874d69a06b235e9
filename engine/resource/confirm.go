package resource

import "github.com/zclconf/go-cty/cty"

// Confirmer is implemented by types with changes dangerous enough to ask
// the user once more, just before the change is made, even after the
// plan was approved (powering a server off, say). The engine asks in
// dependency order, when the walk reaches the instance; -auto-approve
// does not answer it, only -force does. When nobody can be asked (no
// terminal, -json) and -force is not given, the change fails (and the
// apply rolls back) with a message saying so. A "no" fails the change the
// same way.
type Confirmer interface {
	// ConfirmPrompt returns the question to ask before the change action
	// ("create", "update", "replace", "delete" or "resume", as in a plan)
	// to the instance configured by config, or "" when none is needed.
	// The question names what will run or change and where, without any
	// sensitive value; it must read well after "Do you want to …"-style
	// text, e.g. "Run `poweroff` on host "old" (root@203.0.113.10:22)?".
	ConfirmPrompt(config cty.Value, action string) string
}
