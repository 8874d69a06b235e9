package resource

import (
	"context"
	"time"
)

// DefaultLockTimeout is how long a type waits for a lock another run holds
// on a host when the run sets none (mailplan -lock-timeout).
const DefaultLockTimeout = time.Minute

type lockTimeoutKey struct{}

// WithLockTimeout returns a context under which types wait up to d for a
// lock another run holds on a host (an edit lock of a shared file), before
// they give up naming the holder. The engine sets it from -lock-timeout
// for Apply and Restore.
func WithLockTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, lockTimeoutKey{}, d)
}

// LockTimeout is the wait WithLockTimeout set, else DefaultLockTimeout.
func LockTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(lockTimeoutKey{}).(time.Duration); ok && d >= 0 {
		return d
	}
	return DefaultLockTimeout
}
