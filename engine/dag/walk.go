package dag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
)

// ErrDeferred, wrapped in the error a WalkFunc returns, finishes the node as
// deferred rather than failed: the walk goes on with every node that does
// not depend on it, and skips (SkipDeferred) every node that does. Apply
// uses it for a resource that must wait longer than -max-wait:
//
//	return fmt.Errorf("waiting until %s: %w", until, dag.ErrDeferred)
var ErrDeferred = errors.New("deferred")

// WalkFunc does the work of one node. It is called only after every node
// the node depends on has completed, with the context given to Walk.
type WalkFunc[K cmp.Ordered] func(ctx context.Context, k K) error

// WalkOptions change how Walk goes through the graph.
type WalkOptions struct {
	// Reverse walks the graph backwards: a node runs only after every node
	// that depends on it has completed (destroy, rollback).
	Reverse bool
	// Stop, once closed, starts no new node, as a cancelled ctx does. It
	// is checked before every start, so a node that completes after Stop
	// closed never lets a dependent start (a context cancelled from
	// another goroutine may not be seen in time).
	Stop <-chan struct{}
	// KeepGoing: a failed node does not stop the walk; the nodes that
	// depend on it (in the walk's direction) are skipped with
	// SkipDependency and everything else goes on. Destroy and rollback use
	// it: what does not need the failed node is still taken back.
	KeepGoing bool
}

// SkipReason says why a node never ran.
type SkipReason int

const (
	// SkipFailed: another node failed, so the walk stopped starting nodes.
	SkipFailed SkipReason = iota + 1
	// SkipCancelled: the context was cancelled before the node could start.
	SkipCancelled
	// SkipDeferred: a node it depends on, directly or not, was deferred.
	SkipDeferred
	// SkipDependency: with KeepGoing, a node it waits for failed or was
	// skipped for that reason.
	SkipDependency
)

// NodeError is a node and the error its WalkFunc returned.
type NodeError[K cmp.Ordered] struct {
	Node K
	Err  error
}

// Skip is a node that never ran, and why.
type Skip[K cmp.Ordered] struct {
	Node   K
	Reason SkipReason
}

// Report is what a walk did. Every node of the graph appears in exactly one
// of its lists.
type Report[K cmp.Ordered] struct {
	// Completed are the nodes whose WalkFunc returned nil, in the order
	// they finished.
	Completed []K
	// Deferred are the nodes whose WalkFunc returned an error wrapping
	// ErrDeferred, in the order they finished.
	Deferred []NodeError[K]
	// Failed are the nodes whose WalkFunc returned any other error (or
	// panicked, as a *PanicError), in the order they finished.
	Failed []NodeError[K]
	// Skipped are the nodes that never ran, sorted by node.
	Skipped []Skip[K]
	// Cancelled is the context's error when it was cancelled before the
	// walk was over (some node was skipped for it), else nil.
	Cancelled error
}

// Err returns nil when no node failed and the walk was not cancelled
// (deferred nodes are not failures); otherwise every failure, each wrapped
// with its node, joined with the context's error if it was cancelled.
func (r *Report[K]) Err() error {
	var errs []error
	if r.Cancelled != nil {
		errs = append(errs, r.Cancelled)
	}
	for _, f := range r.Failed {
		errs = append(errs, fmt.Errorf("%v: %w", f.Node, f.Err))
	}
	return errors.Join(errs...)
}

// PanicError is the failure recorded for a node whose WalkFunc panicked.
// The stack is kept for the log; the message does not include it.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// isClosed reports whether c is closed; a nil c never is.
func isClosed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Walk calls fn for every node of the graph in dependency order, at most
// parallelism at a time (less than 1 counts as 1). A node starts only when
// every node it depends on has completed; among nodes ready at the same
// time the smallest starts first.
//
// When fn fails for a node, or ctx is cancelled, Walk starts no new node,
// waits for the ones running to finish (it does not cancel them: cancelling
// ctx is the caller's choice), and returns. A node deferred with
// ErrDeferred is not a failure: its dependents are skipped and everything
// else goes on.
//
// The returned error is report.Err(), or a *CycleError, with no
// node run, when the graph has cycles. Walk never returns a nil report.
func (g *Graph[K]) Walk(ctx context.Context, parallelism int, fn WalkFunc[K], opts WalkOptions) (*Report[K], error) {
	rep := &Report[K]{}
	if c := g.Cycles(); c != nil {
		return rep, &CycleError[K]{Cycles: c}
	}
	if parallelism < 1 {
		parallelism = 1
	}
	before, after := g.deps, g.rdeps
	if opts.Reverse {
		before, after = g.rdeps, g.deps
	}
	// Copy what the walk needs so that the graph may be read, by fn too,
	// while it runs.
	waiting := make(map[K]int, len(before))
	next := make(map[K][]K, len(before))
	ready := &minHeap[K]{}
	for k, d := range before {
		waiting[k] = len(d)
		next[k] = sortedKeys(after[k])
		if len(d) == 0 {
			ready.push(k)
		}
	}

	type result struct {
		node K
		err  error
	}
	results := make(chan result)
	run := func(k K) {
		var err error
		defer func() {
			if v := recover(); v != nil {
				err = &PanicError{Value: v, Stack: debug.Stack()}
			}
			results <- result{node: k, err: err}
		}()
		err = fn(ctx, k)
	}

	done := make(map[K]bool, len(before)) // ran, or marked skipped
	// skipWaiting marks every node that waits for k, directly or not, as
	// skipped for why.
	skipWaiting := func(k K, why SkipReason) {
		var desc []K
		if opts.Reverse {
			desc = g.Ancestors(k)
		} else {
			desc = g.Descendants(k)
		}
		for _, n := range desc {
			if !done[n] {
				done[n] = true
				rep.Skipped = append(rep.Skipped, Skip[K]{Node: n, Reason: why})
			}
		}
	}
	var stop SkipReason // why no more nodes start; 0 while going
	inFlight := 0
	for {
		for stop == 0 && inFlight < parallelism && ready.Len() > 0 {
			if ctx.Err() != nil || isClosed(opts.Stop) {
				stop = SkipCancelled
				break
			}
			k := ready.pop()
			done[k] = true
			inFlight++
			go run(k)
		}
		if inFlight == 0 {
			break
		}
		var res result
		select {
		case res = <-results:
		case <-ctx.Done():
			if stop == 0 {
				stop = SkipCancelled
			}
			res = <-results
		}
		inFlight--
		switch {
		case res.err == nil:
			rep.Completed = append(rep.Completed, res.node)
			for _, n := range next[res.node] {
				waiting[n]--
				if waiting[n] == 0 {
					ready.push(n)
				}
			}
		case errors.Is(res.err, ErrDeferred):
			rep.Deferred = append(rep.Deferred, NodeError[K]{Node: res.node, Err: res.err})
			skipWaiting(res.node, SkipDeferred)
		default:
			rep.Failed = append(rep.Failed, NodeError[K]{Node: res.node, Err: res.err})
			if opts.KeepGoing {
				skipWaiting(res.node, SkipDependency)
			} else if stop == 0 {
				stop = SkipFailed
			}
		}
	}
	for _, k := range g.Nodes() {
		if !done[k] {
			rep.Skipped = append(rep.Skipped, Skip[K]{Node: k, Reason: stop})
			if stop == SkipCancelled {
				rep.Cancelled = ctx.Err()
			}
		}
	}
	slices.SortFunc(rep.Skipped, func(a, b Skip[K]) int { return cmp.Compare(a.Node, b.Node) })
	return rep, rep.Err()
}
