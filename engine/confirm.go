package engine

import "github.com/mailplan/mailplan/engine/exec"

// ConfirmUI is implemented by a UI that can ask the user about one change
// just before it is made, after the plan was approved: a resource type
// asks for it (resource.Confirmer, e.g. a command with confirm = true).
// Without it, or when it returns an error, such a change fails unless
// Options.Force is set.
type ConfirmUI = exec.ConfirmUI
