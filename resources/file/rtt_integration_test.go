package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
)

// TestRoundTripsOverSSH times what the engine asks of the file type for
// one file over SSH, one step after another, and says how many round
// trips that is: every chunk of bytes is delayed MAILPLAN_RTT_DELAY_MS
// (10) each way (testbed.LatencyProxy), and a step's time divided by the time of one
// SFTP request (an lstat) is its round trips. It is off by default
// (MAILPLAN_RTT=1 runs it): it takes seconds and measures, not checks.
func TestRoundTripsOverSSH(t *testing.T) {
	if os.Getenv("MAILPLAN_RTT") == "" {
		t.Skip("MAILPLAN_RTT not set")
	}
	srv := testbed.SSHD(t)
	host := srv.Host
	delay := 10 * time.Millisecond
	if ms, err := strconv.Atoi(os.Getenv("MAILPLAN_RTT_DELAY_MS")); err == nil {
		delay = time.Duration(ms) * time.Millisecond
	}
	if delay > 0 {
		host = testbed.LatencyProxy(t, host, delay)
	}
	f := newFile(t)
	ctx := context.Background()
	dir := t.TempDir()
	h, err := resourcetest.Pool(t).Get(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	rounds := 5
	if n, err := strconv.Atoi(os.Getenv("MAILPLAN_RTT_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	// Connect both first: a handshake is no step's.
	if _, err := h.Stat(ctx, dir); err != nil {
		t.Fatal(err)
	}
	warm := config(t, f, host, map[string]cty.Value{"path": cty.StringVal(filepath.Join(dir, "warm")), "content": cty.StringVal("")})
	if _, err := f.Read(ctx, resource.ReadRequest{Addr: "file.warm", Config: warm}); err != nil {
		t.Fatal(err)
	}
	// One round trip: an lstat of the directory.
	rt := timeIt(rounds, func(int) {
		if _, err := h.Stat(ctx, dir); err != nil {
			t.Fatal(err)
		}
	})
	rt /= time.Duration(rounds)
	cfgOf := func(i int, content string) cty.Value {
		return config(t, f, host, map[string]cty.Value{"path": cty.StringVal(filepath.Join(dir, fmt.Sprintf("f%d", i))), "content": cty.StringVal(content)})
	}
	// What an apply of a change does: read again right before it, apply,
	// read back unless Apply said what it reached.
	apply := func(cfg cty.Value) {
		read, err := f.Read(ctx, resource.ReadRequest{Addr: "file.f", Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := f.Plan(ctx, resource.PlanRequest{Addr: "file.f", Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
		if err != nil {
			t.Fatal(err)
		}
		j := &memJournal{}
		reread, err := f.Read(ctx, resource.ReadRequest{Addr: "file.f", Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ar, err := f.Apply(ctx, resource.ApplyRequest{Addr: "file.f", Config: cfg, Current: reread.Current, Planned: plan.Planned, Snapshot: reread.Snapshot, Journal: j})
		if err != nil {
			t.Fatal(err)
		}
		applyTime += time.Since(start)
		if ar.Reached == cty.NilVal {
			start := time.Now()
			if _, err := f.Read(ctx, resource.ReadRequest{Addr: "file.f", Config: cfg}); err != nil {
				t.Fatal(err)
			}
			readBackTime += time.Since(start)
			readBacks++
		}
	}
	readTime := func(cfg cty.Value) time.Duration {
		start := time.Now()
		if _, err := f.Read(ctx, resource.ReadRequest{Addr: "file.f", Config: cfg}); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	// Create: the plan's read of nothing, then the apply.
	var readNew time.Duration
	create := timeIt(rounds, func(i int) {
		readNew += readTime(cfgOf(i, "new\n"))
		apply(cfgOf(i, "new\n"))
	})
	createApply, createBack, createBacks := applyTime, readBackTime, readBacks
	applyTime, readBackTime, readBacks = 0, 0, 0
	// Update: a file there, with other content.
	var readOld time.Duration
	update := timeIt(rounds, func(i int) {
		readOld += readTime(cfgOf(i, "changed\n"))
		apply(cfgOf(i, "changed\n"))
	})
	per := func(d time.Duration) string {
		return fmt.Sprintf("%6.1f ms = %4.1f round trips", float64(d)/float64(rounds)/1e6, float64(d)/float64(rounds)/float64(rt))
	}
	t.Logf("one SFTP lstat: %.1f ms", float64(rt)/1e6)
	t.Logf("read, no file:         %s", per(readNew))
	t.Logf("read, file there:      %s", per(readOld))
	t.Logf("apply create (Apply):  %s", per(createApply))
	t.Logf("apply update (Apply):  %s", per(applyTime))
	if n := createBacks + readBacks; n > 0 {
		t.Logf("read back after apply: %s (%d of %d applies; per read back)", per((createBack+readBackTime)*time.Duration(rounds)/time.Duration(n)), n, 2*rounds)
	} else {
		t.Logf("read back after apply: none (Apply said what it reached)")
	}
	t.Logf("whole create (plan read + reread + Apply + read back): %s", per(create))
	t.Logf("whole update (plan read + reread + Apply + read back): %s", per(update))
	opsOverSSH(t, host, dir)
}

// opsOverSSH lists the transport operations of each step for one file
// (transport.Host calls, each one SFTP request or a few: WriteFile is a
// dozen, ReadFile three or four), as the engine makes them.
func opsOverSSH(t *testing.T, host resource.Host, dir string) {
	ctx := context.Background()
	faults := &resourcetest.Faults{}
	f := newFileThrough(t, faults)
	cfgOf := func(content string) cty.Value {
		return config(t, f, host, map[string]cty.Value{"path": cty.StringVal(filepath.Join(dir, "ops")), "content": cty.StringVal(content)})
	}
	step := func(name string, fn func()) {
		faults.Reset()
		fn()
		ops := faults.Ops()
		kinds := map[string]int{}
		for _, o := range ops {
			kinds[strings.Fields(o)[0]]++
		}
		t.Logf("ops %-22s %2d %v", name+":", len(ops), kinds)
	}
	for _, content := range []string{"new\n", "changed\n"} {
		cfg := cfgOf(content)
		var read resource.ReadResponse
		var plan resource.PlanResponse
		step("plan read ("+strings.TrimSpace(content)+")", func() {
			var err error
			if read, err = f.Read(ctx, resource.ReadRequest{Addr: "file.ops", Config: cfg}); err != nil {
				t.Fatal(err)
			}
			if plan, err = f.Plan(ctx, resource.PlanRequest{Addr: "file.ops", Config: cfg, Current: read.Current, Snapshot: read.Snapshot}); err != nil {
				t.Fatal(err)
			}
		})
		var ar resource.ApplyResponse
		step("apply ("+strings.TrimSpace(content)+")", func() {
			reread, err := f.Read(ctx, resource.ReadRequest{Addr: "file.ops", Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			if ar, err = f.Apply(ctx, resource.ApplyRequest{Addr: "file.ops", Config: cfg, Current: reread.Current, Planned: plan.Planned, Snapshot: reread.Snapshot, Journal: &memJournal{}}); err != nil {
				t.Fatal(err)
			}
			if ar.Reached == cty.NilVal {
				if _, err := f.Read(ctx, resource.ReadRequest{Addr: "file.ops", Config: cfg}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

var applyTime, readBackTime time.Duration
var readBacks int

func timeIt(n int, f func(i int)) time.Duration {
	start := time.Now()
	for i := range n {
		f(i)
	}
	return time.Since(start)
}

type memJournal struct{ entries [][]byte }

func (j *memJournal) Record(_ context.Context, e []byte) error {
	j.entries = append(j.entries, append([]byte(nil), e...))
	return nil
}
