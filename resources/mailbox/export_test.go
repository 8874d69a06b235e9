package mailbox

import (
	"os"
	"strconv"
)

// MAILPLAN_TEST_STREAM_MIN sets streamMin for a whole run of the tests
// (and the children TestSIGKILL starts): 1 makes every batch of a copy
// over SSH come over tar streams.
func init() {
	if n, err := strconv.Atoi(os.Getenv("MAILPLAN_TEST_STREAM_MIN")); err == nil {
		streamMin = n
	}
}

// SetGoHook makes f run at the start of the work of every goroutine the
// package starts (see goHook) until the returned function is called.
func SetGoHook(f func(what string)) (reset func()) {
	goHook.Store(&f)
	return func() { goHook.Store(nil) }
}
