package mailbox

// SetGoHook makes f run at the start of the work of every goroutine the
// package starts (see goHook) until the returned function is called.
func SetGoHook(f func(what string)) (reset func()) {
	goHook.Store(&f)
	return func() { goHook.Store(nil) }
}
