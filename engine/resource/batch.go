package resource

import (
	"context"

	"github.com/zclconf/go-cty/cty"
)

// Batcher is implemented by types whose applies on one target can share
// their last step: the postfix_map and postfix_config instances of one
// Postfix instance list their tables and set their parameters in one
// main.cf edit, then run one check and one reload, instead of one each.
//
// The engine guarantees, for the instances of one apply whose changes
// (create, update, replace) have the same non-empty BatchKey:
//   - Each gets ApplyRequest.Batch. Its Apply may do everything but the
//     shared step and leave that to FinishBatch with Batch.Defer.
//   - FinishBatch is called once, after the last of them has applied and
//     before anything that depends on any of them starts, with the
//     deferred items in dependency order (then by address). Only then are
//     their after_apply hooks run and their changes recorded as done:
//     killed in between, their changes are journalled but not done, so a
//     rollback restores them and an apply makes them again.
//   - When the batch cannot be run this way (something outside it both
//     waits for one member and is waited for by another, or a member is
//     planned as a single change), each Apply gets no Batch and does its
//     step itself.
//   - After a failure whose changes are kept (-no-rollback), the deferred
//     items of the members that applied are still finished.
//   - In a rollback, the changes undone one after the other whose
//     BatchKey is the same get RestoreRequest.Batch too, and FinishBatch
//     runs once after the last of their Restores and before any other
//     change is undone; only then are they recorded as undone. A failure
//     of the shared step fails the changes that deferred to it.
//
// The implementation must:
//   - Journal each item's undo entries in FinishBatch, through the
//     Journal of the Apply that deferred it, before making its part of
//     the shared step, as Apply would have.
//   - Answer for each item on its own: one error per item, nil for the
//     ones done. A failure of one item should fail only that item where
//     the type can tell (the engine then rolls the apply back as after any
//     failure, or keeps it with -no-rollback).
type Batcher interface {
	// BatchKey names the target an instance's apply shares its last step
	// on, from its configuration (known, possibly marked); "" for none.
	// Types that return the same key take each other's items, so a key
	// begins with something that names the types (e.g. "postfix\x00").
	BatchKey(config cty.Value) string
	// FinishBatch does the shared step for items, each deferred by one
	// member's Apply, and returns one error per item, in their order.
	FinishBatch(ctx context.Context, items []any) []error
}

// Batch is given to an Apply in a batch (see Batcher).
type Batch struct {
	item     any
	deferred bool
}

// Defer leaves item to the batch's FinishBatch: Apply has done its part
// and returns. Called once at most per Apply.
func (b *Batch) Defer(item any) { b.item, b.deferred = item, true }

// Deferred returns what Apply deferred, if it did.
func (b *Batch) Deferred() (any, bool) {
	if b == nil {
		return nil, false
	}
	return b.item, b.deferred
}
