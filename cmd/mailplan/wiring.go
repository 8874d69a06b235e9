package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/render"
	"github.com/mailplan/mailplan/resources/all"
)

// newEngine wires the engine with every resource type and a connection
// pool; the returned func closes the connections.
func (c *cli) newEngine() (*engine.Engine, func()) {
	reg, p := all.Wire(c.logger.Named("transport"))
	e := &engine.Engine{
		Registry: reg,
		Hooks:    p,
		UI:       c.ui(),
		Logger:   c.logger,
	}
	return e, func() { _ = p.Close() }
}

// diags prints diagnostics; it reports whether there were errors.
func (c *cli) diags(d hcl.Diagnostics, files map[string]*hcl.File) bool {
	if len(d) == 0 {
		return false
	}
	render.Diagnostics(c.stderr, d, files, render.TextOptions{Color: c.color, Width: diagWidth(c.stderr)})
	return d.HasErrors()
}

// errorf prints an error that is not about a file.
func (c *cli) errorf(summary, format string, args ...any) {
	c.diags(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...)}}, nil)
}

// ui is the terminal (or CI log) as the engine's operations see it.
func (c *cli) ui() *terminalUI {
	return &terminalUI{c: c, w: c.stdout, tty: isTerminal(c.stdout)}
}

// terminalUI implements engine.UI: diagnostics on the standard error, the
// plan and progress lines in Terraform's manner on the standard output,
// confirmation on the standard input.
type terminalUI struct {
	c   *cli
	mu  sync.Mutex
	w   io.Writer
	tty bool // draw progress bars, not lines
}

var _ engine.UI = (*terminalUI)(nil)

func (u *terminalUI) Diagnostics(d hcl.Diagnostics, files map[string]*hcl.File) {
	u.c.diags(d, files)
}

func (u *terminalUI) Plan(p *engine.Plan) error {
	return render.PlanText(u.w, p, render.TextOptions{Color: u.c.color})
}

func (u *terminalUI) Rollback(p engine.RollbackPreview) {
	render.RollbackPlan(u.w, p.Operation, p.Started, p.Changes, p.Drifted)
}

func (u *terminalUI) Confirm(op string) (bool, error) {
	c := u.c
	if f, ok := c.stdin.(*os.File); !ok || !isTerminalFile(f) {
		hint := "run again with -auto-approve"
		if op == "apply" {
			hint += ", or apply a saved plan file"
		}
		return false, fmt.Errorf("%s asks for confirmation, and there is no terminal on standard input to ask on. Review what it will do and %s", op, hint)
	}
	switch op {
	case "rollback":
		fmt.Fprint(c.stdout, "\nDo you want to undo these changes?\n  mailplan will put back what was there before the last apply.\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ")
	case "destroy":
		fmt.Fprint(c.stdout, "\nDo you really want to destroy all resources?\n  mailplan will put back what was there before it first changed each one.\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ")
	default:
		fmt.Fprint(c.stdout, "\nDo you want to perform these actions?\n  mailplan will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	}
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	return strings.TrimSpace(line) == "yes", nil
}

// ConfirmChange implements engine.ConfirmUI: the question a resource
// asks just before it changes, on the terminal only; -auto-approve does
// not answer it, -force keeps it from being asked.
func (u *terminalUI) ConfirmChange(addr, prompt string) (bool, error) {
	c := u.c
	if f, ok := c.stdin.(*os.File); !ok || !isTerminalFile(f) {
		return false, errors.New("there is no terminal on standard input to ask on")
	}
	u.mu.Lock()
	fmt.Fprintf(u.w, "\n%s asks before it runs:\n  %s\n  Only 'yes' will be accepted to go on; anything else fails the apply, which is rolled back.\n\n  Enter a value: ", addr, prompt)
	u.mu.Unlock()
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	fmt.Fprintln(u.w)
	if err != nil && line == "" {
		return false, nil
	}
	return strings.TrimSpace(line) == "yes", nil
}

func (u *terminalUI) Proceed() bool { return u.c.startChanges() }

func (u *terminalUI) Say(text string) { fmt.Fprint(u.w, text) }

func (u *terminalUI) Notice(text string) { fmt.Fprint(u.c.stderr, text) }

func (u *terminalUI) Status(addr, msg string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fmt.Fprintf(u.w, "%s: %s\n", addr, msg)
}

func (u *terminalUI) Waiting(addr string, until time.Time, reason string) {
	u.Status(addr, fmt.Sprintf("Waiting %s, until %s (%s)", time.Until(until).Round(time.Second), until.Format("15:04:05 MST"), reason))
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for range t.C {
			left := time.Until(until).Round(time.Second)
			if left <= 0 {
				return
			}
			u.Status(addr, fmt.Sprintf("Still waiting, %s left", left))
		}
	}()
}

func (u *terminalUI) Progress(addr string) engine.Progress {
	return &progress{addr: addr, w: u.w, tty: u.tty, every: 5 * time.Second, last: time.Now()}
}

// varFlags collects -var and -var-file in command-line order.
type varFlags struct {
	list *[]engine.VarArg
	file bool
}

func (v varFlags) String() string { return "" }
func (v varFlags) Set(s string) error {
	*v.list = append(*v.list, engine.VarArg{File: v.file, Value: s})
	return nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// planFlags are the flags plan, apply and destroy share.
type planFlags struct {
	opts             engine.Options
	targets, exclude listFlag
	refresh          bool
	lockTimeout      lockTimeout
}

func (pf *planFlags) register(fs *flag.FlagSet) {
	fs.Var(varFlags{list: &pf.opts.Vars}, "var", "set a variable: NAME=VALUE (repeatable)")
	fs.Var(varFlags{list: &pf.opts.Vars, file: true}, "var-file", "read variables from an HCL file (repeatable)")
	fs.Var(&pf.targets, "target", "limit to this resource and what it depends on (repeatable)")
	fs.Var(&pf.exclude, "exclude", "leave out this resource and what depends on it (repeatable)")
	fs.BoolVar(&pf.refresh, "refresh", true, "read the real state of the servers first")
	fs.IntVar(&pf.opts.Parallelism, "parallelism", 4, "resources handled at once")
	lockTimeoutFlag(fs, &pf.lockTimeout)
}

// lockTimeout is -lock-timeout: how long to wait for another run's lock
// on a host, and, when given, on the state (without it a locked state
// fails at once).
type lockTimeout struct {
	d   time.Duration
	set bool
}

func (l *lockTimeout) String() string { return l.d.String() }
func (l *lockTimeout) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	l.d, l.set = d, true
	return nil
}

// lockTimeoutFlag registers -lock-timeout.
func lockTimeoutFlag(fs *flag.FlagSet, l *lockTimeout) {
	l.d = engine.DefaultLockTimeout
	fs.Var(l, "lock-timeout", "how long to wait for another run's lock: on the state (default: fail at once, naming the holder) and on a host (the edit lock of a Postfix instance's main.cf; default "+engine.DefaultLockTimeout.String()+")")
}

// apply sets the options' lock timeouts.
func (l *lockTimeout) apply(o *engine.Options) {
	d := l.d
	o.LockTimeout = &d
	if l.set {
		o.StateLockTimeout = l.d
	}
}

func (pf *planFlags) finish(c *cli, op string) engine.Options {
	o := pf.opts
	o.Dir = "."
	o.Targets = pf.targets
	o.Excludes = pf.exclude
	o.NoRefresh = !pf.refresh
	o.Stop = c.stop
	o.Operation = op
	pf.lockTimeout.apply(&o)
	return o
}

func newFlagSet(c *cli, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.BoolFunc("no-color", "no colour in output", func(string) error { c.color = false; return nil })
	return fs
}

// parseFlags parses a command's flags: -h prints the usage and ends the
// command (Done), a bad flag fails it.
func parseFlags(fs *flag.FlagSet, args []string) (st engine.Status, stop bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return engine.Done, false
	case errors.Is(err, flag.ErrHelp):
		return engine.Done, true
	}
	return engine.Failed, true
}
