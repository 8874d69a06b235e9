package mailbox

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// A panic on a goroutine nobody recovers ends the process: plan or apply
// would stop with a stack trace, an apply with its journal open and
// nothing rolled back. Every goroutine this package starts recovers into
// an error of the work it was doing, which Read or Apply returns and the
// engine reports for the resource (an apply then rolls back).

// panicError is a panic caught on one of the package's goroutines. The
// stack is logged, never part of the message.
type panicError struct {
	what  string
	value any
	stack []byte
}

func (e *panicError) Error() string {
	return fmt.Sprintf("internal error while %s: panic: %v (a bug in mailplan; please report it with the log)", e.what, e.value)
}

// recovered, deferred directly by a goroutine (or the function it runs),
// turns its panic into *errp.
func recovered(what string, errp *error) {
	if v := recover(); v != nil {
		*errp = &panicError{what: what, value: v, stack: debug.Stack()}
	}
}

// logPanic logs the stack of a panic that err carries.
func logPanic(log hclog.Logger, err error) {
	var pe *panicError
	if log != nil && errors.As(err, &pe) {
		log.Error("panic", "while", pe.what, "value", fmt.Sprint(pe.value), "stack", string(pe.stack))
	}
}

// goHook, set by tests only, is called at the start of the work of every
// goroutine the package starts, with what it is about to do ("list PATH",
// "copy PATH", "rename PATH", "close PATH"): a test makes it panic.
var goHook atomic.Pointer[func(what string)]

func hook(what string) {
	if f := goHook.Load(); f != nil {
		(*f)(what)
	}
}

// closeLater closes c on a goroutine of its own: nothing waits for it
// (over SFTP the close of a file only read is a round trip nothing
// depends on). A failure, or a panic, is logged.
func closeLater(c io.Closer, log hclog.Logger, p string) {
	go func() {
		var err error
		defer func() {
			if err != nil {
				logPanic(log, err)
				log.Debug("close", "path", p, "error", err)
			}
		}()
		defer recovered("closing "+p, &err)
		hook("close " + p)
		err = c.Close()
	}()
}
