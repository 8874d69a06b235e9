package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts run mailplan in a subprocess of this test
// binary, as a user would.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mailplan": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scenarios in testdata/script. Each asserts the
// exit code, the output, and that a refused or failed command changed
// nothing. Run one with -run TestScripts/NAME; keep the work directory
// with -testwork.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("MAILPLAN_LOG", "")
			examples, err := filepath.Abs("../../plans/examples")
			if err != nil {
				return err
			}
			env.Setenv("EXAMPLES", examples)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mode":       cmdMode,
			"exits":      cmdExits,
			"jsonstream": cmdJSONStream,
		},
	})
}

// cmdMode asserts a file's permission bits: mode FILE 0640.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode FILE OCTAL")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("mode: %v", err)
	}
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := uint64(st.Mode().Perm())
	if (got == want) == neg {
		ts.Fatalf("mode of %s is %s, want %s%s", args[0], fmt.Sprintf("%04o", got), map[bool]string{true: "not ", false: ""}[neg], args[1])
	}
}

// cmdExits runs a program and asserts its exit code, for the codes other
// than 0 and 1 that matter: exits 3 mailplan fmt -check. Its output is
// then matched by stdout and stderr as after exec.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exits")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
