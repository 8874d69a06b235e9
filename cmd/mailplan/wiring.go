package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/render"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/all"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

// newEngine wires the engine with every resource type and a connection
// pool; the returned func closes the connections.
func (c *cli) newEngine() (*engine.Engine, func()) {
	p := pool.New(c.logger.Named("transport"))
	e := &engine.Engine{
		Registry: all.Registry(p),
		Hooks:    p,
		UI:       &terminalUI{w: c.stdout, tty: isTerminal(c.stdout)},
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
	lockTimeout      time.Duration
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

// lockTimeoutFlag registers -lock-timeout.
func lockTimeoutFlag(fs *flag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "lock-timeout", engine.DefaultLockTimeout, "how long to wait for another run's lock on a host (the edit lock of a Postfix instance's main.cf) before giving up")
}

func (pf *planFlags) finish(c *cli, op string) engine.Options {
	o := pf.opts
	o.Dir = "."
	o.Targets = pf.targets
	o.Excludes = pf.exclude
	o.NoRefresh = !pf.refresh
	o.Stop = c.stop
	o.Operation = op
	o.LockTimeout = &pf.lockTimeout
	return o
}

func newFlagSet(c *cli, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.BoolFunc("no-color", "no colour in output", func(string) error { c.color = false; return nil })
	return fs
}

// terminalUI prints progress lines in Terraform's manner.
type terminalUI struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool // draw progress bars, not lines
}

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

func (u *terminalUI) Progress(addr string) resource.Progress {
	return &progress{addr: addr, w: u.w, tty: u.tty, every: 5 * time.Second, last: time.Now()}
}

var _ = context.Background

// parseFlags parses a command's flags: -h prints the usage and exits 0, a
// bad flag exits 1.
func parseFlags(fs *flag.FlagSet, args []string) (code int, stop bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	}
	return 1, true
}
