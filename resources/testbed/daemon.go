package testbed

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is the life of a server the test bed started and reaps: its
// process, a channel closed once it is reaped, and a Close that stops it
// and removes its directory once.
type daemon struct {
	proc      Process
	exited    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// stop stops the server when it runs (see Process.Stop), also when it was
// restarted since by other means (found by its PID file, see
// Process.Current), and waits until the one the test bed started is
// reaped.
func (d *daemon) stop() error {
	var err error
	if cur, ok := d.proc.Current(); ok {
		err = cur.Stop(10 * time.Second)
	}
	<-d.exited
	return err
}

// closeDir stops the server and removes dir. Calling it again does nothing
// and returns the same error.
func (d *daemon) closeDir(dir string) error {
	d.closeOnce.Do(func() {
		d.closeErr = errors.Join(d.stop(), os.RemoveAll(dir))
	})
	return d.closeErr
}

// launch is how to start a server process in the foreground and know it
// serves.
type launch struct {
	// argv is the command; proc identifies the server (PID and StartTime
	// are filled in).
	argv []string
	proc Process
	// dir is the command's working directory; "" keeps this process's.
	dir string
	// logPath receives the command's output, appended; logMode is its
	// mode when it is created.
	logPath string
	logMode os.FileMode
	// ready is the positive marker: nil once the server serves.
	ready func() error
	// serving names what ready waits for, for the error ("serving on
	// 127.0.0.4:5300").
	serving string
	// timeout bounds the wait for ready.
	timeout time.Duration
	// portTaken reports whether the log since the start says the server
	// could not bind its port: the caller then tries another. nil for
	// never.
	portTaken func(log string) bool
}

// start starts l's process in its own session, records it in d, and
// waits until l.ready succeeds. On failure the server is stopped and the
// error holds its log since the start; retry is true when that log says
// the port was taken.
func (d *daemon) start(l launch) (retry bool, err error) {
	logf, err := os.OpenFile(l.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, l.logMode)
	if err != nil {
		return false, err
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, 2)
	cmd := exec.Command(l.argv[0], l.argv[1:]...)
	// Not the caller's stderr: a child holding it open makes `go test`
	// wait.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = l.dir
	// Its own session: a terminal's ^C or hangup reaches the caller (which
	// stops it), and it outlives a caller that leaves it running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start %s: %w", l.argv[0], err)
	}
	// Before Wait can reap it.
	startTime, stErr := procStartTime(cmd.Process.Pid)
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	d.exited = exited
	d.proc = l.proc
	d.proc.PID, d.proc.StartTime = cmd.Process.Pid, startTime
	name := l.proc.Kind
	if stErr != nil {
		_ = cmd.Process.Kill()
		<-exited
		return false, fmt.Errorf("%s start time: %w", name, stErr)
	}
	logSince := func() string {
		b, _ := os.ReadFile(l.logPath)
		if int(logStart) <= len(b) {
			b = b[logStart:]
		}
		return string(b)
	}
	portTaken := func(log string) bool { return l.portTaken != nil && l.portTaken(log) }
	deadline := time.Now().Add(l.timeout)
	for {
		err := l.ready()
		if err == nil {
			return false, nil
		}
		select {
		case <-exited:
			log := logSince()
			return portTaken(log), fmt.Errorf("%s exited (%v); its log:\n%s", name, waitErr, log)
		case <-time.After(50 * time.Millisecond):
		}
		if log := logSince(); portTaken(log) || time.Now().After(deadline) {
			stopErr := d.stop()
			return portTaken(log), errors.Join(fmt.Errorf("%s not %s: %v; its log:\n%s", name, l.serving, err, log), stopErr)
		}
	}
}

// onFreePort calls start with a free port (from free) until it succeeds,
// three times at most: another process may take the port between free and
// the server's bind. It gives up at once when start says retrying would
// not help (retry false).
func onFreePort(free func() (int, error), start func(port int) (retry bool, err error)) error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := free()
		if err != nil {
			return err
		}
		retry, err := start(port)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return lastErr
}

// server is what the test bed's servers have in common for a test's
// cleanup.
type server interface {
	stop() error
	Close() error
	// label names the server in messages ("named", "postfix old").
	label() string
	// logs are the log files shown when a test fails.
	logs() []serverLog
}

// serverLog is a log file shown when a test fails: its last 60 lines, or
// all of it.
type serverLog struct {
	title, path string
	all         bool
}

// startForTest starts a server for the test with start(opts); see
// forTest.
func startForTest[S server, O any](t testing.TB, start func(O) (S, error), opts O) S {
	t.Helper()
	s, err := start(opts)
	forTest(t, s, err)
	return s
}

// loopbackAddr is addr, an IPv4 address in 127.0.0.0/8, in its usual
// form; bed names the test bed in the error.
func loopbackAddr(bed, addr string) (string, error) {
	ip := net.ParseIP(addr).To4()
	if ip == nil || ip[0] != 127 {
		return "", fmt.Errorf("%s test bed: address %q is not in 127.0.0.0/8", bed, addr)
	}
	return ip.String(), nil
}

// forTest ends the test on err, from the function that started s (see
// skipOrFatal). Otherwise s is stopped and its files removed when the test
// ends, its logs shown when the test failed.
func forTest(t testing.TB, s server, err error) {
	t.Helper()
	if err != nil {
		skipOrFatal(t, err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stop %s: %v", s.label(), err)
		}
		if t.Failed() {
			for _, l := range s.logs() {
				n := 60
				if l.all {
					n = math.MaxInt
				}
				t.Logf("%s (%s):\n%s", l.title, l.path, TailFile(l.path, n))
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("%s: %v", s.label(), err)
		}
	})
}

// TailFile returns the last n lines of path, for logs shown on failure.
func TailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
