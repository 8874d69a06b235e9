package exec

import (
	"context"
	"fmt"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// applySteps calls the type's Apply until it returns no wait. A wait up
// to MaxWait is done inline (it ends on the first interrupt), then the
// object is read again and Apply resumes from what is there now, as a
// resumed apply in a later run would (a rollback still goes back to the
// snapshot taken before the first step). A longer wait is persisted
// (c.wait) and ends the steps for this run.
func (w *applyWalk) applySteps(ctx context.Context, c *itemApply) error {
	it := c.it
	ui := w.r.ui()
	var resume []byte
	if c.action == plans.Resume && it.prior != nil && it.prior.Wait != nil {
		resume = it.prior.Wait.Resume
	}
	cur, snap := c.cur, c.before
	inline := false
	for {
		ar, err := w.r.apply(ctx, it.typ, resource.ApplyRequest{
			Addr: it.addr, Config: it.config, Current: cur, Planned: it.planned, Snapshot: snap,
			Journal: &changeJournal{j: w.j, index: c.index}, Resume: resume, ResumeInline: inline, Interrupted: it.interrupted,
			Progress: ui.Progress(it.addr), Logger: c.log, Batch: c.batch,
		})
		if err != nil {
			return err
		}
		if ar.Private != nil {
			c.private = ar.Private
		}
		c.reached = ar.Reached
		if ar.Wait == nil {
			return nil
		}
		remaining := ar.Wait.Until.Sub(w.r.now())
		if remaining > w.opts.MaxWait {
			c.wait = ar.Wait
			return nil
		}
		ui.Waiting(it.addr, ar.Wait.Until, ar.Wait.Reason)
		if remaining > 0 {
			if err := w.r.sleep(w.waitCtx, remaining); err != nil {
				return fmt.Errorf("waiting: %w", ErrInterrupted)
			}
		}
		resume, inline = ar.Wait.Resume, true
		again, err := w.r.read(ctx, it.typ, resource.ReadRequest{Addr: it.addr, Config: it.config, Logger: c.log})
		if err != nil {
			return fmt.Errorf("read after waiting: %w", err)
		}
		cur, snap = live(it, again.Current), again.Snapshot
	}
}
