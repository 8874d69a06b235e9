package mailbox

import (
	"context"
	"sync"
)

// bounded calls f(i) for i in 0..n-1 on at most width goroutines, in
// order, and returns when every call it started has returned. It hands
// out no more calls once stop is closed; a nil stop never closes, so that
// every call is made. f must recover its own panics (see recovered).
func bounded(n, width int, stop <-chan struct{}, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(width, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-stop:
			break feed
		}
	}
	close(next)
	wg.Wait()
}

// parallel runs f(0..n-1) with cfg.parallelism in flight and returns the
// first error, after which no new call starts. A call that panics fails
// with an error saying what (name) it was doing.
func (a *applier) parallel(ctx context.Context, n int, name func(int) string, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	bounded(n, a.cfg.parallelism, ctx.Done(), func(i int) {
		if err := call(ctx, i, name, f); err != nil {
			cancel(err)
		}
	})
	return context.Cause(ctx)
}

// call runs f(ctx, i) on a worker of parallel, its panic an error.
func call(ctx context.Context, i int, name func(int) string, f func(context.Context, int) error) (err error) {
	defer recovered(name(i), &err)
	hook(name(i))
	return f(ctx, i)
}

// listAll lists every one of paths, width at a time, whatever fails: each
// listing holds its own error.
func (l lister) listAll(ctx context.Context, paths []string) []listing {
	out := make([]listing, len(paths))
	bounded(len(paths), l.width, nil, func(i int) {
		p := paths[i]
		out[i] = listing{path: p}
		defer recovered("listing "+p, &out[i].err)
		hook("list " + p)
		if es, ok := l.tree[p]; ok {
			out[i] = listing{path: p, entries: es}
			return
		}
		es, err := l.h.ReadDir(ctx, p)
		out[i] = listing{path: p, entries: es, err: err}
	})
	return out
}
