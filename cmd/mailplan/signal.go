package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a run that has not started changing hosts gets,
// after an interrupt cancelled its context, to return by itself. After
// that it is abandoned: a read that cannot be interrupted (a file system
// that does not answer, a peer that never replies) must not keep it.
const stopGrace = 2 * time.Second

// interrupts turns SIGINT and SIGTERM into what a command sees:
//
//   - Until the command starts changing hosts (startChanges), the first
//     signal closes stop, cancels the context and, if the command has not
//     returned within stopGrace, abandons it (forced closes). Nothing on a
//     host has changed, so there is nothing to finish or undo.
//   - Once apply or destroy changes hosts, the first signal closes stop
//     (no new work starts; what was done is rolled back) and a rollback
//     goes on; the second cancels the context at once.
type interrupts struct {
	stderr io.Writer
	op     string
	cancel context.CancelFunc
	stop   chan struct{}
	forced chan struct{}
	sig    chan os.Signal

	mu          sync.Mutex
	received    int
	changing    bool
	done        bool // the command returned
	stopOnce    sync.Once
	abandonOnce sync.Once
}

func newInterrupts(op string, stderr io.Writer, cancel context.CancelFunc) *interrupts {
	in := &interrupts{
		stderr: stderr,
		op:     op,
		cancel: cancel,
		stop:   make(chan struct{}),
		forced: make(chan struct{}),
		sig:    make(chan os.Signal, 2),
	}
	signal.Notify(in.sig, os.Interrupt, syscall.SIGTERM)
	go in.loop()
	return in
}

// close stops listening for signals, once the command returned.
func (in *interrupts) close() {
	signal.Stop(in.sig)
	close(in.sig) // no more deliveries after Stop: this ends loop
	in.mu.Lock()
	in.done = true
	in.mu.Unlock()
}

// startChanges says that the command is about to change hosts. It returns
// false, and the command must not start, when an interrupt came first.
func (in *interrupts) startChanges() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.received > 0 {
		return false
	}
	in.changing = true
	return true
}

func (in *interrupts) loop() {
	for range in.sig {
		in.mu.Lock()
		in.received++
		n, changing := in.received, in.changing
		in.mu.Unlock()
		switch {
		case !changing && n == 1:
			fmt.Fprintln(in.stderr, "\nInterrupt received: stopping.")
			in.stopOnce.Do(func() { close(in.stop) })
			in.cancel()
			time.AfterFunc(stopGrace, in.abandon)
		case !changing:
			in.abandon()
		case n == 1:
			if in.op == "rollback" {
				fmt.Fprintln(in.stderr, "\nInterrupt received: the rollback goes on, so as not to leave the servers half restored. Press Ctrl-C again to stop at once.")
			} else {
				fmt.Fprintln(in.stderr, "\nInterrupt received: no new work starts; work in flight finishes, then what was done is rolled back. Press Ctrl-C again to stop at once.")
			}
			in.stopOnce.Do(func() { close(in.stop) })
		default:
			fmt.Fprintln(in.stderr, "\nTwo interrupts received: stopping at once. The state records what was done; run `mailplan rollback` to undo it, or `mailplan apply` to continue it.")
			in.cancel()
			return
		}
	}
}

// abandon gives up on a command that did not return after an interrupt,
// unless it has started changing hosts since.
func (in *interrupts) abandon() {
	in.mu.Lock()
	skip := in.changing || in.done
	in.mu.Unlock()
	if skip {
		return
	}
	in.abandonOnce.Do(func() {
		fmt.Fprintf(in.stderr, "mailplan did not stop within %s of the interrupt (it is waiting on a read that cannot be interrupted); exiting now. No host has been changed.\n", stopGrace)
		close(in.forced)
	})
}
