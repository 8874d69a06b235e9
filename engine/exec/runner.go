package exec

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
)

// HookRunner runs hook commands on hosts.
type HookRunner interface {
	// RunHook runs argv on the host and returns its combined output; a
	// non-zero exit is an error.
	RunHook(ctx context.Context, h resource.Host, argv []string) ([]byte, error)
}

// UI receives what a walk has to tell the user while it runs. Methods are
// called from several goroutines.
type UI interface {
	// Status reports a step of one resource, e.g. "Creating...".
	Status(addr, msg string)
	// Waiting reports an inline wait that starts now and ends at until.
	Waiting(addr string, until time.Time, reason string)
	// Progress returns a progress sink for a long apply, or nil.
	Progress(addr string) resource.Progress
}

// Runner runs walks. Its fields are set once and read concurrently.
type Runner struct {
	Registry *resource.Registry
	Hooks    HookRunner
	UI       UI
	Logger   hclog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sleep waits for d or until ctx ends; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Runner) logger() hclog.Logger {
	if r.Logger == nil {
		return hclog.NewNullLogger()
	}
	return r.Logger
}

type nopUI struct{}

func (nopUI) Status(string, string)             {}
func (nopUI) Waiting(string, time.Time, string) {}
func (nopUI) Progress(string) resource.Progress { return nil }

func (r *Runner) ui() UI {
	if r.UI == nil {
		return nopUI{}
	}
	return r.UI
}

// defaultParallelism is how many instances a walk works on at once when
// the options leave it unset.
const defaultParallelism = 4

// parallelism is n, or defaultParallelism when n is less than 1.
func parallelism(n int) int {
	if n < 1 {
		return defaultParallelism
	}
	return n
}
