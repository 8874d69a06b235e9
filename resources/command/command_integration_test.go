package command_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/command"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
)

var localHost = resource.Host{Name: "here", Transport: "local"}

// hosts are the ways the tests reach this machine: directly, and over
// SSH as root through the test bed's sshd.
func hosts(t *testing.T) map[string]resource.Host {
	return map[string]resource.Host{"local": localHost, "ssh": testbed.SSHD(t).Host}
}

func list(s ...string) cty.Value {
	vs := make([]cty.Value, len(s))
	for i, e := range s {
		vs[i] = cty.StringVal(e)
	}
	return cty.ListVal(vs)
}

func config(t *testing.T, h resource.Host, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	attrs["host"] = resourcetest.HostValue(t, h)
	return resourcetest.Config(t, command.New(nil), attrs)
}

// markers observes which of the marker files exist.
func markers(paths ...string) func(testing.TB) []byte {
	return func(testing.TB) []byte {
		var b strings.Builder
		for _, p := range paths {
			_, err := os.Lstat(p)
			b.WriteString(filepath.Base(p))
			if err == nil {
				b.WriteString(" present\n")
			} else {
				b.WriteString(" absent\n")
			}
		}
		return []byte(b.String())
	}
}

// markerConfig is a command that creates a marker, checked by its
// presence and undone by removing it.
func markerConfig(t *testing.T, h resource.Host, marker string) cty.Value {
	return config(t, h, map[string]cty.Value{
		"command": list("touch", marker),
		"check":   list("test", "-e", marker),
		"undo":    list("rm", "-f", marker),
	})
}

// TestConformance runs the whole suite locally and over SSH, with a fault
// at every transport operation (before and after it) and journal point.
func TestConformance(t *testing.T) {
	for name, h := range hosts(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			suite := resourcetest.Suite{
				Create:  markerConfig(t, h, a),
				Update:  markerConfig(t, h, b),
				Observe: markers(a, b),
			}
			suite.Faults = resourcetest.NewFaults()
			suite.Type = command.New(suite.Faults.Getter(resourcetest.Pool(t)))
			suite.Modes = []resourcetest.Mode{resourcetest.Before, resourcetest.After}
			resourcetest.Conformance(t, suite)
		})
	}
}

func apply(t *testing.T, typ *command.Command, cfg cty.Value) (resource.ApplyResponse, [][]byte, error) {
	t.Helper()
	ctx := context.Background()
	read, plan := resourcetest.ReadPlan(ctx, t, typ, cfg)
	j := &resourcetest.Journal{}
	resp, err := typ.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot,
		Journal: j, Logger: resourcetest.Logger(t)})
	return resp, j.Entries(), err
}

// TestBehaviour: what an operator relies on, on both transports.
func TestBehaviour(t *testing.T) {
	ctx := context.Background()
	for name, h := range hosts(t) {
		t.Run(name, func(t *testing.T) {
			typ := command.New(resourcetest.Pool(t))
			dir := t.TempDir()

			t.Run("check passing plans nothing", func(t *testing.T) {
				cfg := config(t, h, map[string]cty.Value{"command": list("touch", filepath.Join(dir, "never")), "check": list("true")})
				read, plan := resourcetest.ReadPlan(ctx, t, typ, cfg)
				if read.Current.IsNull() || !plan.Planned.RawEquals(read.Current) {
					t.Fatalf("check exit 0: current %#v, planned %#v; want equal, not null", read.Current, plan.Planned)
				}
			})

			t.Run("without undo restore does nothing", func(t *testing.T) {
				m := filepath.Join(dir, "kept")
				cfg := config(t, h, map[string]cty.Value{"command": list("touch", m)})
				resp, journal, err := apply(t, typ, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Private) == 0 || len(journal) != 1 {
					t.Errorf("private %q, journal %q: want when it ran, and one entry", resp.Private, journal)
				}
				for _, req := range []resource.RestoreRequest{{Journal: journal}, {Private: resp.Private}} {
					req.Config = cfg
					if err := typ.Restore(ctx, req); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := os.Stat(m); err != nil {
					t.Errorf("the marker is gone: %v", err)
				}
			})

			t.Run("destroy runs undo", func(t *testing.T) {
				m := filepath.Join(dir, "destroyed")
				cfg := config(t, h, map[string]cty.Value{"command": list("touch", m), "undo": list("rm", m)})
				resp, _, err := apply(t, typ, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(m); err != nil {
					t.Fatalf("not created: %v", err)
				}
				if err := typ.Restore(ctx, resource.RestoreRequest{Config: cfg, Private: resp.Private}); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(m); !os.IsNotExist(err) {
					t.Errorf("undo did not remove the marker: %v", err)
				}
			})

			t.Run("failing command", func(t *testing.T) {
				cfg := config(t, h, map[string]cty.Value{"command": list("sh", "-c", "echo first; echo 'it went wrong' >&2; exit 3")})
				_, journal, err := apply(t, typ, cfg)
				if err == nil {
					t.Fatal("no error")
				}
				for _, want := range []string{h.Name, "exited 3", "it went wrong", `sh -c "echo first;`} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not hold %q", err, want)
					}
				}
				if len(journal) != 1 {
					t.Errorf("journal %q: the entry must be there before the command ran", journal)
				}
				_, _, err = apply(t, typ, config(t, h, map[string]cty.Value{"command": list("false")}))
				if err == nil || !strings.Contains(err.Error(), "`false` on host") || !strings.Contains(err.Error(), "exited 1 and printed nothing") {
					t.Errorf("false: %v", err)
				}
			})

			t.Run("timeout", func(t *testing.T) {
				cfg := config(t, h, map[string]cty.Value{"command": list("sleep", "5"), "timeout": cty.StringVal("500ms")})
				start := time.Now()
				_, _, err := apply(t, typ, cfg)
				if err == nil || !strings.Contains(err.Error(), "did not finish within the timeout of 500ms") {
					t.Fatalf("err = %v, want a timeout", err)
				}
				if el := time.Since(start); el > 10*time.Second {
					t.Errorf("took %v", el)
				}
			})

			t.Run("no shell", func(t *testing.T) {
				pwned := filepath.Join(dir, "pwned")
				// mkdir -p makes each part between slashes a directory,
				// literally; a shell would run the touches.
				odd := filepath.Join(dir, "a b; $(touch "+pwned+") `touch "+pwned+"` 'q' \"d\" * ~ >x")
				cfg := config(t, h, map[string]cty.Value{"command": list("mkdir", "-p", odd)})
				if _, _, err := apply(t, typ, cfg); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(odd); err != nil {
					t.Errorf("the argument was not passed literally: %v", err)
				}
				if _, err := os.Stat(pwned); !os.IsNotExist(err) {
					t.Errorf("a shell ran the argument: %s exists", pwned)
				}
			})

			t.Run("environment", func(t *testing.T) {
				out := filepath.Join(dir, "env")
				cfg := config(t, h, map[string]cty.Value{
					"command":     list("sh", "-c", `printf '%s|%s' "$GREETING" "$OTHER" >"$1"`, "sh", out),
					"environment": cty.MapVal(map[string]cty.Value{"GREETING": cty.StringVal("hello world; $(id) 'x'"), "OTHER": cty.StringVal("")}),
				})
				if _, _, err := apply(t, typ, cfg); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(out)
				if err != nil || string(got) != "hello world; $(id) 'x'|" {
					t.Errorf("environment seen: %q, %v", got, err)
				}
			})
		})
	}
}
