package mailbox

import (
	"os"
	"path"
	"strconv"
	"time"
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

// SetMargins sets the dir record's margins (scan_skip.go) until the
// returned function is called.
func SetMargins(fine, coarse time.Duration) (reset func()) {
	f, c := fineMargin, coarseMargin
	fineMargin, coarseMargin = fine, coarse
	return func() { fineMargin, coarseMargin = f, c }
}

// DirRecordPath is where the dir record of a copy to destination is.
func DirRecordPath(destination string) string {
	return path.Join(storeFor(destination), dirRecordName)
}
