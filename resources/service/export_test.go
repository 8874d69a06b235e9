package service

import (
	"testing"
	"time"
)

// SetSettleTimeout shortens how long Apply waits for a status to agree,
// for the rest of the test.
func SetSettleTimeout(t *testing.T, d time.Duration) {
	old := settleTimeout
	settleTimeout = d
	t.Cleanup(func() { settleTimeout = old })
}

// SetCommandTimeout shortens how long a start or stop command may run,
// for the rest of the test.
func SetCommandTimeout(t *testing.T, d time.Duration) {
	old := commandTimeout
	commandTimeout = d
	t.Cleanup(func() { commandTimeout = old })
}
