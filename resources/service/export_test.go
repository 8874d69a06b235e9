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
