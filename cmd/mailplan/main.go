package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/mailplan/mailplan/engine"
)

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: the collector works harder near it instead of
		// letting the heap double (a no-op plan of 50,000 resources peaked
		// at 579 MB without it, 420 MB with 400 MiB, at the same CPU). A
		// larger state still gets what it needs; GOMEMLIMIT overrides it.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// defaultMemoryLimit is the Go runtime's soft memory limit when
// GOMEMLIMIT is not set.
const defaultMemoryLimit = 384 << 20

// cli is what every command gets: the streams, global settings and
// signals.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	chdir          string
	color          bool
	logger         hclog.Logger
	// stop closes on the first interrupt; ctx is cancelled on the second,
	// or on the first before the command started changing hosts.
	stop <-chan struct{}
	ctx  context.Context
	// startChanges is called just before a command changes hosts; when it
	// returns false an interrupt came first, and the command must stop.
	startChanges func() bool
}

type command struct {
	name    string
	summary string
	run     func(c *cli, args []string) engine.Status
}

var commands []command

func init() {
	commands = []command{
		{"version", "Show the mailplan version", cmdVersion},
		{"init", "Prepare a plan directory: git modules, backend, state migration", cmdInit},
		{"validate", "Check the plan files, touching no host", cmdValidate},
		{"fmt", "Rewrite *.mp.hcl files in canonical form", cmdFmt},
		{"plan", "Show what apply would change", cmdPlan},
		{"apply", "Make the changes (rolls back on failure)", cmdApply},
		{"rollback", "Undo the most recent apply", cmdRollback},
		{"destroy", "Put back what was there before mailplan", cmdDestroy},
		{"graph", "Print the dependency graph in DOT", cmdGraph},
		{"show", "Show a saved plan or the state", cmdShow},
		{"output", "Show outputs from the state", cmdOutput},
		{"state", "Inspect or edit the state", cmdState},
		{"workspace", "List, make, select or delete workspaces", cmdWorkspace},
		{"history", "List past applies, destroys and rollbacks", cmdHistory},
		{"force-unlock", "Release a state lock a dead or stuck run holds", cmdForceUnlock},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, color: isTerminal(stdout)}
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("internal error", "panic", r, "stack", string(debug.Stack()))
			fmt.Fprintf(stderr, "\nError: Internal error\n\nmailplan hit a bug and stopped: %v\nNothing more was changed. Please report this, with MAILPLAN_LOG=debug output.\n", r)
			code = 1
		}
	}()
	c.logger = newLogger(stderr)

	// Global flags come before the command.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := strings.TrimLeft(args[0], "-")
		switch {
		case strings.HasPrefix(a, "chdir="):
			c.chdir = strings.TrimPrefix(a, "chdir=")
		case a == "chdir" && len(args) > 1:
			c.chdir = args[1]
			args = args[1:]
		case a == "no-color":
			c.color = false
		case a == "version" || a == "v":
			args = []string{"version"}
			continue
		case a == "help" || a == "h":
			usage(stdout)
			return 0
		default:
			fmt.Fprintf(stderr, "Error: unknown global flag %s\n\n", args[0])
			usage(stderr)
			return 1
		}
		args = args[1:]
	}
	if len(args) == 0 {
		usage(stderr)
		return 1
	}
	if c.chdir != "" {
		if err := os.Chdir(c.chdir); err != nil {
			fmt.Fprintf(stderr, "Error: -chdir: %s\n", err)
			return 1
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := newInterrupts(args[0], stderr, cancel)
	defer in.close()
	c.stop = in.stop
	c.ctx = ctx
	c.startChanges = in.startChanges

	for _, cmd := range commands {
		if cmd.name != args[0] {
			continue
		}
		// The command runs on its own goroutine so that an interrupt can
		// abandon it while it waits on a read that cannot be interrupted.
		result := make(chan int, 1)
		go func() { result <- runCommand(c, cmd, args[1:]) }()
		select {
		case code = <-result:
			return code
		case <-in.forced:
			return 1
		}
	}
	fmt.Fprintf(stderr, "Error: %q is not a mailplan command.\n\n", args[0])
	usage(stderr)
	return 1
}

// runCommand runs one command, turning a panic into an error message.
func runCommand(c *cli, cmd command, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("internal error", "panic", r, "stack", string(debug.Stack()))
			fmt.Fprintf(c.stderr, "\nError: Internal error\n\nmailplan hit a bug and stopped: %v\nNothing more was changed. Please report this, with MAILPLAN_LOG=debug output.\n", r)
			code = 1
		}
	}()
	return exitCode(cmd.run(c, args))
}

// exitCode is the one place a command's end becomes the process's exit
// code: 0 done, 1 failed (the error was shown), 2 a plan with changes
// (plan -detailed-exitcode), 3 files not formatted (fmt -check).
func exitCode(st engine.Status) int {
	switch st {
	case engine.Done:
		return 0
	case engine.Changes:
		return 2
	case engine.Unformatted:
		return 3
	}
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: mailplan [global options] COMMAND [options] [args]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nGlobal options:\n  -chdir=DIR   run in DIR (the plan directory)\n  -no-color    no colour in output")
}

func newLogger(stderr io.Writer) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("MAILPLAN_LOG"))
	if level == hclog.NoLevel {
		return hclog.NewNullLogger()
	}
	var out io.Writer = stderr
	if p := os.Getenv("MAILPLAN_LOG_PATH"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err == nil {
			out = f
		}
	}
	return hclog.New(&hclog.LoggerOptions{Name: "mailplan", Level: level, Output: out})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
