package dag

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// errBoom is the failure the tests inject.
var errBoom = errors.New("boom")

// outcome is a report with errors flattened to strings, so cases can be
// compared with cmp.
type outcome struct {
	Completed []string
	Deferred  []string
	Failed    map[string]string
	Skipped   map[string]SkipReason
	Cancelled bool
}

func flatten(r *Report[string]) outcome {
	o := outcome{Completed: r.Completed, Cancelled: r.Cancelled != nil}
	for _, d := range r.Deferred {
		o.Deferred = append(o.Deferred, d.Node)
	}
	for _, f := range r.Failed {
		if o.Failed == nil {
			o.Failed = map[string]string{}
		}
		o.Failed[f.Node] = f.Err.Error()
	}
	for _, s := range r.Skipped {
		if o.Skipped == nil {
			o.Skipped = map[string]SkipReason{}
		}
		o.Skipped[s.Node] = s.Reason
	}
	return o
}

func TestWalkSerial(t *testing.T) {
	// With parallelism 1 the completion order is fully determined, which
	// pins down "smallest ready first" and the effect of every outcome.
	tests := []struct {
		name    string
		g       *Graph[string]
		reverse bool
		// keepGoing sets WalkOptions.KeepGoing.
		keepGoing bool
		results   map[string]error
		want      outcome
		wantErr   string
	}{
		{
			name: "all succeed in order",
			g:    build("app>db", "app>cfg", "db>disk", "web>app", "lone"),
			want: outcome{Completed: []string{"cfg", "disk", "db", "app", "lone", "web"}},
		},
		{
			name:    "reverse",
			g:       build("app>db", "app>cfg", "db>disk", "web>app", "lone"),
			reverse: true,
			want:    outcome{Completed: []string{"lone", "web", "app", "cfg", "db", "disk"}},
		},
		{
			name:    "failure stops scheduling",
			g:       build("b>a", "c", "d"),
			results: map[string]error{"a": errBoom},
			want: outcome{
				Failed:  map[string]string{"a": "boom"},
				Skipped: map[string]SkipReason{"b": SkipFailed, "c": SkipFailed, "d": SkipFailed},
			},
			wantErr: "a: boom",
		},
		{
			name:    "deferred skips dependents only",
			g:       build("b>a", "c>b", "c>x", "x", "y"),
			results: map[string]error{"a": fmt.Errorf("waiting until noon: %w", ErrDeferred)},
			want: outcome{
				Completed: []string{"x", "y"},
				Deferred:  []string{"a"},
				Skipped:   map[string]SkipReason{"b": SkipDeferred, "c": SkipDeferred},
			},
		},
		{
			name:    "deferred in reverse skips dependencies",
			g:       build("b>a", "c>b", "z"),
			reverse: true,
			results: map[string]error{"b": ErrDeferred},
			want: outcome{
				Completed: []string{"c", "z"},
				Deferred:  []string{"b"},
				Skipped:   map[string]SkipReason{"a": SkipDeferred},
			},
		},
		{
			name:    "failure after a deferral keeps both reasons",
			g:       build("b>a", "c", "d"),
			results: map[string]error{"a": ErrDeferred, "c": errBoom},
			want: outcome{
				Deferred: []string{"a"},
				Failed:   map[string]string{"c": "boom"},
				Skipped:  map[string]SkipReason{"b": SkipDeferred, "d": SkipFailed},
			},
			wantErr: "c: boom",
		},
		{
			name:      "keep going skips only what waits for the failure",
			g:         build("b>a", "c>b", "c>x", "x", "y"),
			keepGoing: true,
			results:   map[string]error{"a": errBoom},
			want: outcome{
				Completed: []string{"x", "y"},
				Failed:    map[string]string{"a": "boom"},
				Skipped:   map[string]SkipReason{"b": SkipDependency, "c": SkipDependency},
			},
			wantErr: "a: boom",
		},
		{
			name:      "keep going in reverse skips dependencies",
			g:         build("b>a", "c>b", "z"),
			reverse:   true,
			keepGoing: true,
			results:   map[string]error{"b": errBoom},
			want: outcome{
				Completed: []string{"c", "z"},
				Failed:    map[string]string{"b": "boom"},
				Skipped:   map[string]SkipReason{"a": SkipDependency},
			},
			wantErr: "b: boom",
		},
		{
			name:    "panic is a failure",
			g:       build("a", "b"),
			results: map[string]error{"a": errPanic},
			want: outcome{
				Failed:  map[string]string{"a": "panic: kaboom"},
				Skipped: map[string]SkipReason{"b": SkipFailed},
			},
			wantErr: "a: panic: kaboom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := tt.g.Walk(context.Background(), 1, func(_ context.Context, k string) error {
				if tt.results[k] == errPanic {
					panic("kaboom")
				}
				return tt.results[k]
			}, WalkOptions{Reverse: tt.reverse, KeepGoing: tt.keepGoing})
			if diff := cmp.Diff(tt.want, flatten(rep)); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if got := errString(err); got != tt.wantErr {
				t.Errorf("error %q, want %q", got, tt.wantErr)
			}
		})
	}
}

var errPanic = errors.New("test: panic here")

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestWalkPanicKeepsStack(t *testing.T) {
	_, err := build("a").Walk(context.Background(), 1, func(context.Context, string) error { panic("x") }, WalkOptions{})
	var pe *PanicError
	if !errors.As(err, &pe) || len(pe.Stack) == 0 {
		t.Fatalf("got %v, want a *PanicError with a stack", err)
	}
}

func TestWalkCycle(t *testing.T) {
	called := false
	rep, err := build("a>b", "b>a", "c").Walk(context.Background(), 4, func(context.Context, string) error {
		called = true
		return nil
	}, WalkOptions{})
	var ce *CycleError[string]
	if !errors.As(err, &ce) || called || rep == nil {
		t.Fatalf("err %v, called %v, report %v; want *CycleError, nothing run, a report", err, called, rep)
	}
}

// wide builds n independent chains of length 3: cN.1 > cN.2 > cN.3.
func wide(n int) *Graph[string] {
	g := New[string]()
	for i := range n {
		g.Connect(fmt.Sprintf("c%02d.1", i), fmt.Sprintf("c%02d.2", i))
		g.Connect(fmt.Sprintf("c%02d.2", i), fmt.Sprintf("c%02d.3", i))
	}
	return g
}

func TestWalkParallelismAndOrder(t *testing.T) {
	for _, par := range []int{0, 1, 3, 8, 100} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			g := wide(20)
			var mu sync.Mutex
			finished := map[string]bool{}
			var inFlight, peak atomic.Int32
			rep, err := g.Walk(context.Background(), par, func(_ context.Context, k string) error {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				mu.Lock()
				for _, d := range g.Deps(k) {
					if !finished[d] {
						t.Errorf("%s started before its dependency %s finished", k, d)
					}
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
				mu.Lock()
				finished[k] = true
				mu.Unlock()
				return nil
			}, WalkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Completed) != len(g.Nodes()) {
				t.Errorf("completed %d of %d nodes", len(rep.Completed), len(g.Nodes()))
			}
			limit := int32(max(par, 1))
			if got := peak.Load(); got > limit {
				t.Errorf("%d in flight at once, limit %d", got, limit)
			}
			// 20 chains give room for the limit to be reached.
			if got := peak.Load(); par > 1 && got != min(limit, 20) {
				t.Errorf("peak %d in flight, want %d: the walk is not using its parallelism", got, min(limit, 20))
			}
		})
	}
}

func TestWalkFailureLetsInFlightFinish(t *testing.T) {
	// a fails while b and c run; they finish and are reported completed,
	// and nothing that was waiting starts.
	g := build("a", "b", "c", "d", "e>b")
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(3)
	rep, err := g.Walk(context.Background(), 3, func(_ context.Context, k string) error {
		started.Done()
		if k == "a" {
			started.Wait()
			defer close(release)
			return errBoom
		}
		<-release
		time.Sleep(5 * time.Millisecond)
		return nil
	}, WalkOptions{})
	if !errors.Is(err, errBoom) {
		t.Fatalf("err %v, want boom", err)
	}
	want := outcome{
		Completed: []string{"b", "c"},
		Failed:    map[string]string{"a": "boom"},
		Skipped:   map[string]SkipReason{"d": SkipFailed, "e": SkipFailed},
	}
	if diff := cmp.Diff(want, flatten(rep), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestWalkCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := build("a", "b", "c>a", "d>b", "e")
	// a cancels only once b has started, so that both are in flight when
	// the walk sees the cancellation (a cancel before b's start would skip
	// b: that is TestWalkCancelledBeforeStart's case).
	bStarted := make(chan struct{})
	rep, err := g.Walk(ctx, 2, func(ctx context.Context, k string) error {
		switch k {
		case "a":
			<-bStarted
			cancel()
		case "b":
			close(bStarted)
			// In-flight work is not interrupted by the walk; this one
			// ignores ctx and completes once the cancellation is made.
			<-ctx.Done()
		}
		return nil
	}, WalkOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	want := outcome{
		Completed: []string{"a", "b"},
		Skipped:   map[string]SkipReason{"c": SkipCancelled, "d": SkipCancelled, "e": SkipCancelled},
		Cancelled: true,
	}
	if diff := cmp.Diff(want, flatten(rep), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestWalkCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := build("a", "b>a").Walk(ctx, 4, func(context.Context, string) error {
		t.Error("a node ran under a cancelled context")
		return nil
	}, WalkOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	want := outcome{Skipped: map[string]SkipReason{"a": SkipCancelled, "b": SkipCancelled}, Cancelled: true}
	if diff := cmp.Diff(want, flatten(rep)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestWalkDeferredParallel(t *testing.T) {
	// A deferral while other chains run: every other chain completes.
	g := wide(10)
	rep, err := g.Walk(context.Background(), 4, func(_ context.Context, k string) error {
		if k == "c03.2" {
			return fmt.Errorf("ttl: %w", ErrDeferred)
		}
		time.Sleep(time.Millisecond)
		return nil
	}, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Completed) != 28 || len(rep.Deferred) != 1 {
		t.Errorf("completed %d, deferred %d; want 28 and 1", len(rep.Completed), len(rep.Deferred))
	}
	if diff := cmp.Diff([]Skip[string]{{"c03.1", SkipDeferred}}, rep.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if !errors.Is(rep.Deferred[0].Err, ErrDeferred) || rep.Deferred[0].Err.Error() != "ttl: deferred" {
		t.Errorf("deferred error %v, want the node's own error", rep.Deferred[0].Err)
	}
}

func TestWalkEmpty(t *testing.T) {
	rep, err := New[int]().Walk(context.Background(), 4, func(context.Context, int) error { return nil }, WalkOptions{})
	if err != nil || len(rep.Completed)+len(rep.Skipped) != 0 {
		t.Fatalf("got %+v, %v", rep, err)
	}
}

// TestWalkStop: a node that completes after Stop closed never lets a
// dependent start, whatever the goroutines' timing (ctx alone, cancelled
// from another goroutine, could be seen too late).
func TestWalkStop(t *testing.T) {
	for range 200 {
		stop := make(chan struct{})
		var ran []string
		rep, _ := build("b>a", "c>b", "d").Walk(context.Background(), 1, func(_ context.Context, k string) error {
			ran = append(ran, k)
			if k == "a" {
				close(stop)
			}
			return nil
		}, WalkOptions{Stop: stop})
		if diff := cmp.Diff([]string{"a"}, ran); diff != "" {
			t.Fatalf("nodes run after Stop (-want +got):\n%s", diff)
		}
		if got := flatten(rep); len(got.Completed) != 1 || got.Skipped["b"] != SkipCancelled || got.Skipped["c"] != SkipCancelled || got.Skipped["d"] != SkipCancelled {
			t.Fatalf("report %+v", got)
		}
	}
}
