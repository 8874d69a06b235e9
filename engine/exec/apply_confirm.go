package exec

import (
	"errors"
	"fmt"
	"sync"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// ConfirmUI is implemented by a UI that can ask the user about one
// change just before it is made (resource.Confirmer). A UI that does not
// implement it cannot ask: such a change then needs ApplyOptions.Force.
type ConfirmUI interface {
	// ConfirmChange asks prompt about the change of addr and reports
	// whether the answer was yes; an error means nobody can be asked (no
	// terminal, -json).
	ConfirmChange(addr, prompt string) (bool, error)
}

// ErrNotConfirmed is wrapped by the error of a change the user was asked
// about and did not approve, or could not be asked about.
var ErrNotConfirmed = errors.New("not confirmed")

// confirmMu keeps two questions from being asked at once: the walk works
// on several instances in parallel, and there is one terminal.
var confirmMu sync.Mutex

// confirm asks about the change of it when its type wants a question
// (resource.Confirmer), before anything of the change is journalled or
// made: a refusal fails the instance like an error of its own, and the
// apply rolls back what it did before.
func (w *applyWalk) confirm(it *item, action plans.Action) (err error) {
	cf, ok := it.typ.(resource.Confirmer)
	if !ok || it.inst == nil {
		return nil
	}
	prompt := cf.ConfirmPrompt(it.config, string(action))
	if prompt == "" {
		return nil
	}
	if w.opts.Force {
		w.r.event(it.addr, Event{Text: "Not asking (-force): " + prompt})
		return nil
	}
	defer func() {
		if err != nil {
			w.r.event(it.addr, Event{Kind: EventFailed, Action: string(action), Err: err})
		}
	}()
	cu, ok := w.r.ui().(ConfirmUI)
	if !ok {
		return fmt.Errorf("%w: %s needs a confirmation just before it runs (%s), and nobody can be asked here; run again with -force to go on without asking", ErrNotConfirmed, it.addr, prompt)
	}
	confirmMu.Lock()
	defer confirmMu.Unlock()
	yes, err := cu.ConfirmChange(it.addr, prompt)
	if err != nil {
		return fmt.Errorf("%w: %s needs a confirmation just before it runs (%s): %v; run again with -force to go on without asking", ErrNotConfirmed, it.addr, prompt, err)
	}
	if !yes {
		return fmt.Errorf("%w: the answer was not yes; nothing of %s was done", ErrNotConfirmed, it.addr)
	}
	return nil
}
