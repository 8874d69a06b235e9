package service_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/service"
	"github.com/mailplan/mailplan/resources/testbed"
)

// windowConfig is a service_window over a test bed Postfix instance,
// driven by its postfix -c DIR commands.
func windowConfig(t *testing.T, typ *service.Window, h resource.Host, inst *testbed.PostfixInstance) cty.Value {
	return resourcetest.Config(t, typ, map[string]cty.Value{
		"host":           resourcetest.HostValue(t, h),
		"service":        cty.StringVal("postfix"),
		"manager":        cty.StringVal("command"),
		"start_command":  list("postfix", "-c", inst.ConfigDir, "start"),
		"stop_command":   list("postfix", "-c", inst.ConfigDir, "stop"),
		"status_command": list("postfix", "-c", inst.ConfigDir, "status"),
	})
}

// window runs one window over a real Postfix the way the engine does:
// Read, Plan, Apply (open), Close, through faults and journal; it
// returns the journal's entries and the first error.
func window(ctx context.Context, t *testing.T, typ *service.Window, cfg cty.Value, j *resourcetest.Journal) (resource.ReadResponse, error) {
	t.Helper()
	read, err := typ.Read(ctx, resource.ReadRequest{Addr: "service_window.test", Config: cfg, Logger: resourcetest.Logger(t)})
	if err != nil {
		return read, err
	}
	plan, err := typ.Plan(ctx, resource.PlanRequest{Addr: "service_window.test", Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
	if err != nil {
		return read, err
	}
	req := resource.ApplyRequest{Addr: "service_window.test", Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: j, Logger: resourcetest.Logger(t)}
	if _, err := typ.Apply(ctx, req); err != nil {
		return read, err
	}
	_, err = typ.Close(ctx, req)
	return read, err
}

// TestWindowPostfix holds a real Postfix stopped for the window, locally
// and over SSH: open stops it, close starts it again, a window over a
// stopped Postfix leaves it stopped, and Restore after a failure injected
// at every host operation and every journal point leaves Postfix as it
// was found. A plain Restore (destroy) never touches it.
func TestWindowPostfix(t *testing.T) {
	ctx := context.Background()
	for tname, h := range hosts(t) {
		t.Run(tname, func(t *testing.T) {
			inst := stoppedPostfix(t)
			observe := postfixState(inst)
			faults := resourcetest.NewFaults()
			typ := service.NewWindow(faults.Getter(resourcetest.Pool(t)))
			cfg := windowConfig(t, typ, h, inst)

			// Stopped before: the window keeps it stopped, and says so.
			read, err := typ.Read(ctx, resource.ReadRequest{Addr: "service_window.test", Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			plan, err := typ.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
			if err != nil {
				t.Fatal(err)
			}
			if want := "postfix (command) is stopped already; it stays stopped"; plan.Summary != want {
				t.Errorf("summary %q, want %q", plan.Summary, want)
			}
			if _, err := window(ctx, t, typ, cfg, &resourcetest.Journal{}); err != nil {
				t.Fatal(err)
			}
			if got := string(observe(t)); got != "stopped" {
				t.Fatalf("a window over a stopped Postfix left it %s", got)
			}

			inst.Start(t)
			j := &resourcetest.Journal{}
			faults.Reset()
			if _, err := window(ctx, t, typ, cfg, j); err != nil {
				t.Fatal(err)
			}
			ops := faults.Count()
			if got := string(observe(t)); got != "running" {
				t.Fatalf("after the window Postfix is %s", got)
			}
			if len(j.Entries()) != 2 {
				t.Errorf("journal %q, want an open and a close entry", j.Entries())
			}
			// Destroy: no journal, nothing to undo.
			if err := typ.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot}); err != nil {
				t.Fatal(err)
			}
			if got := string(observe(t)); got != "running" {
				t.Fatalf("destroy left Postfix %s", got)
			}

			check := func(what string, j *resourcetest.Journal, applyErr error) {
				t.Helper()
				if applyErr == nil {
					t.Fatalf("%s: no error", what)
				}
				if !errors.Is(applyErr, resourcetest.ErrInjected) {
					t.Errorf("%s: error %v does not wrap the injected one", what, applyErr)
				}
				faults.Reset()
				for i := 0; i < 2; i++ {
					if err := typ.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot, Journal: j.Entries(), Logger: resourcetest.Logger(t)}); err != nil {
						t.Fatalf("%s: restore %d: %v", what, i+1, err)
					}
					if got := string(observe(t)); got != "running" {
						t.Fatalf("%s: after restore %d Postfix is %s", what, i+1, got)
					}
				}
			}
			step := 1
			if tname != "local" {
				step = 3 // each operation is an SSH session
			}
			for n := 1; n <= ops; n += step {
				faults.FailAt(n, resourcetest.Before)
				j := &resourcetest.Journal{}
				_, err := window(ctx, t, typ, cfg, j)
				check(fmt.Sprintf("fault at operation %d of %d (%s)", n, ops, faults.Failed()), j, err)
			}
			for n := 1; n <= 2; n++ {
				faults.Reset()
				j := &resourcetest.Journal{FailAt: n}
				_, err := window(ctx, t, typ, cfg, j)
				check(fmt.Sprintf("journal fault at record %d", n), j, err)
			}
		})
	}
}
