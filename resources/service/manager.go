package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// Where detection looks. systemd is running when its runtime directory
// exists (sd_booted(3)); a SysV service has its script in /etc/init.d.
const (
	systemdDir = "/run/systemd/system"
	initDir    = "/etc/init.d"
)

// detectScript decides the manager in one round trip. Its arguments are
// the systemd directory and the init script's path, never interpolated
// into the script. It prints "systemd", "sysv" or nothing.
const detectScript = `if test -d "$1"; then echo systemd; elif test -f "$2" && command -v service >/dev/null 2>&1; then echo sysv; fi`

func detectArgv(service string) []string {
	return []string{"sh", "-c", detectScript, "sh", systemdDir, initDir + "/" + service}
}

// detect finds how service is managed on h.
func detect(ctx context.Context, h transport.Host, service string) (string, error) {
	argv := detectArgv(service)
	res, err := h.Run(ctx, argv, transport.RunOptions{})
	if err != nil {
		return "", fmt.Errorf("detect the manager of %s on %s: %w", service, h.Name(), err)
	}
	if err := res.Err(argv); err != nil {
		return "", fmt.Errorf("detect the manager of %s on %s: %w", service, h.Name(), err)
	}
	switch out := strings.TrimSpace(string(res.Stdout)); out {
	case Systemd, SysV:
		return out, nil
	case "":
		return "", resource.Errorf("manager", "Service manager not detected",
			`mailplan cannot tell how %s is started on %s: %s is not a directory, so systemd is not running, and there is no %s/%s or no "service" command on the PATH for SysV init. Set manager = "command" with start_command, stop_command and status_command (status exit 0 meaning running), or name the manager that the host uses.`,
			service, h.Name(), systemdDir, initDir, service)
	default:
		return "", fmt.Errorf("detect the manager of %s on %s: unexpected output %q", service, h.Name(), out)
	}
}

// effectiveManager is the configured manager, or the detected one.
func effectiveManager(ctx context.Context, h transport.Host, c config) (string, error) {
	if c.Manager != "" {
		return c.Manager, nil
	}
	return detect(ctx, h, c.Service)
}

// control is how one service is driven.
type control struct {
	service, manager    string
	start, stop, status []string
}

func controlFor(c config, mgr string) (control, error) {
	ctl := control{service: c.Service, manager: mgr}
	switch mgr {
	case Systemd:
		ctl.start = []string{"systemctl", "start", c.Service}
		ctl.stop = []string{"systemctl", "stop", c.Service}
		ctl.status = []string{"systemctl", "is-active", "--quiet", c.Service}
	case SysV:
		ctl.start = []string{"service", c.Service, "start"}
		ctl.stop = []string{"service", c.Service, "stop"}
		ctl.status = []string{"service", c.Service, "status"}
	case Command:
		ctl.start, ctl.stop, ctl.status = c.Start, c.Stop, c.Status
		for _, a := range []struct {
			name string
			argv []string
		}{{"start_command", c.Start}, {"stop_command", c.Stop}, {"status_command", c.Status}} {
			if len(a.argv) == 0 || a.argv[0] == "" {
				return ctl, resource.Errorf(a.name, "Missing "+a.name,
					`The service %s is managed with manager = "command", but %s is not given.`, c.Service, a.name)
			}
		}
	default:
		return ctl, resource.Errorf("manager", "Invalid service manager",
			`The manager %q is not one of "systemd", "sysv" or "command".`, mgr)
	}
	return ctl, nil
}

// check runs the status command: exit 0 is running, any other exit is
// stopped (LSB status codes 1-4 and systemctl is-active all mean "not
// running" one way or another).
func (ctl control) check(ctx context.Context, h transport.Host) (string, transport.Result, error) {
	res, err := h.Run(ctx, ctl.status, transport.RunOptions{})
	if err != nil {
		return "", res, fmt.Errorf("status of %s on %s: %w", ctl.service, h.Name(), err)
	}
	if res.ExitCode == 0 {
		return Running, res, nil
	}
	return Stopped, res, nil
}

// settleTimeout bounds how long reach waits for the status to agree after
// a start or stop; pollInterval is its first and pollMax its longest pause.
var (
	settleTimeout = 30 * time.Second
	// commandTimeout bounds the start or stop command itself. A daemon
	// that forks but keeps the command's standard output or error open
	// would otherwise hold it, and the SSH session, forever.
	commandTimeout = 3 * time.Minute
	pollInterval   = 100 * time.Millisecond
	pollMax        = time.Second
)

// reach brings the service to want, doing nothing when it is there
// already, and confirms it by polling the status.
func (ctl control) reach(ctx context.Context, h transport.Host, want string, log hclog.Logger) error {
	have, _, err := ctl.check(ctx, h)
	if err != nil {
		return err
	}
	if have == want {
		return nil
	}
	verb, argv := "start", ctl.start
	if want == Stopped {
		verb, argv = "stop", ctl.stop
	}
	if log != nil {
		log.Debug("service "+verb, "host", h.Name(), "service", ctl.service, "manager", ctl.manager)
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	res, err := h.Run(cctx, argv, transport.RunOptions{})
	timedOut := ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded)
	cancel()
	if timedOut {
		return fmt.Errorf("%s %s on %s: %s did not exit within %s. A daemon that goes into the background but keeps the command's standard output or error open holds the command until it exits: redirect them, e.g. [\"sh\", \"-c\", \"exec %s </dev/null >/dev/null 2>&1\"]",
			verb, ctl.service, h.Name(), strings.Join(argv, " "), commandTimeout, strings.Join(argv, " "))
	}
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w", verb, ctl.service, h.Name(), err)
	}
	if err := res.Err(argv); err != nil {
		// A stop racing a daemon already on its way down (an earlier
		// stop, killed before it saw the end) fails with "not running":
		// what counts is the state reached.
		if have, _, cerr := ctl.check(ctx, h); cerr == nil && have == want {
			return nil
		}
		return fmt.Errorf("%s %s on %s: %w", verb, ctl.service, h.Name(), err)
	}
	deadline := time.Now().Add(settleTimeout)
	pause := pollInterval
	for {
		have, st, err := ctl.check(ctx, h)
		if err != nil {
			return err
		}
		if have == want {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%s %s on %s (%s): still not %s after %s; %s printed: %s; %s exited %d: %s",
				verb, ctl.service, h.Name(), ctl.manager, want, settleTimeout,
				strings.Join(argv, " "), output(res), strings.Join(ctl.status, " "), st.ExitCode, output(st))
		}
		t := time.NewTimer(min(pause, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s on %s: waiting for it to be %s: %w", verb, ctl.service, h.Name(), want, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, pollMax)
	}
}

// output is what a command printed, shortened, for messages.
func output(r transport.Result) string {
	msg := strings.TrimSpace(string(r.Stdout) + "\n" + string(r.Stderr))
	if msg == "" {
		return "(nothing)"
	}
	if len(msg) > 1000 {
		msg = "…" + msg[len(msg)-1000:]
	}
	return msg
}
