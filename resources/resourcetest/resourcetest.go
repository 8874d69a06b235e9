package resourcetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

// Case is one resource instance driven through its life.
type Case struct {
	Type resource.Type
	// Addr is the instance address given in requests; default "TYPE.test".
	Addr string
	// Create is the configuration of the first apply and Update of the
	// second; both must change the real state. Build them with Config.
	Create, Update cty.Value
	// Observe returns the real state of the object, read without the type
	// (e.g. a file's bytes, mode and owner). Restores must bring back
	// exactly the bytes it returned before.
	Observe func(t testing.TB) []byte
}

// Run drives c through: read, plan (a change), apply, re-read and re-plan
// (no change, and Current is what was planned); the same for Update;
// then Restore to the snapshot taken before the update (the rollback of the
// last apply), and Restore to the first snapshot twice (destroy, and its
// idempotence), checking Observe and a fresh Read after each.
//
// It is the "lifecycle" subtest of Conformance, which a type's tests
// should run instead.
func Run(t *testing.T, c Case) {
	t.Helper()
	if c.Addr == "" {
		c.Addr = c.Type.Name() + ".test"
	}
	d := &driver{t: t, c: c, log: Logger(t)}
	d.lifecycle()
}

type driver struct {
	t   *testing.T
	c   Case
	log hclog.Logger
	// faults, when set, is disarmed before every Restore: a restore goes
	// through hosts that no longer fail.
	faults *Faults
	settle func(testing.TB)
}

func (d *driver) read(ctx context.Context, config cty.Value) resource.ReadResponse {
	d.t.Helper()
	resp, err := d.c.Type.Read(ctx, resource.ReadRequest{Addr: d.c.Addr, Config: config, Logger: d.log})
	if err != nil {
		d.t.Fatalf("read: %v", err)
	}
	if !resp.Current.Type().Equals(d.c.Type.Schema().ImpliedType()) {
		d.t.Fatalf("read: Current is a %s, not the schema's type", resp.Current.Type().FriendlyName())
	}
	return resp
}

func (d *driver) plan(ctx context.Context, step string, config cty.Value, read resource.ReadResponse, wantChange bool) cty.Value {
	d.t.Helper()
	resp, err := d.c.Type.Plan(ctx, resource.PlanRequest{Addr: d.c.Addr, Config: config, Current: read.Current, Snapshot: read.Snapshot, Logger: d.log})
	if err != nil {
		d.t.Fatalf("plan %s: %v", step, err)
	}
	if changed := !resp.Planned.RawEquals(read.Current); changed != wantChange {
		d.t.Fatalf("plan %s: change %v, want %v (-current +planned):\n%s", step, changed, wantChange, cmp.Diff(read.Current.GoString(), resp.Planned.GoString()))
	}
	return resp.Planned
}

func (d *driver) apply(ctx context.Context, step string, config cty.Value, read resource.ReadResponse, planned cty.Value) [][]byte {
	d.t.Helper()
	j := &Journal{}
	resp, err := d.c.Type.Apply(ctx, resource.ApplyRequest{
		Addr: d.c.Addr, Config: config, Current: read.Current, Planned: planned, Snapshot: read.Snapshot,
		Journal: j, Progress: nopProgress{}, Logger: d.log,
	})
	if err != nil {
		d.t.Fatalf("apply %s: %v", step, err)
	}
	if resp.Wait != nil {
		d.t.Fatalf("apply %s: waits until %v (%s); Run does not drive waits", step, resp.Wait.Until, resp.Wait.Reason)
	}
	d.settleNow()
	return j.Entries()
}

func (d *driver) restore(ctx context.Context, step string, config cty.Value, snapshot []byte, journal [][]byte) {
	d.t.Helper()
	d.resetFaults()
	err := d.c.Type.Restore(ctx, resource.RestoreRequest{Addr: d.c.Addr, Config: config, Snapshot: snapshot, Journal: journal, Logger: d.log})
	if err != nil {
		d.t.Fatalf("%s: %v", step, err)
	}
	d.settleNow()
}

func (d *driver) sameValue(step string, want, got cty.Value) {
	d.t.Helper()
	if !want.RawEquals(got) {
		d.t.Errorf("%s (-want +got):\n%s", step, cmp.Diff(want.GoString(), got.GoString()))
	}
}

// reached checks that Current is what was planned. An attribute planned
// null was left to the real state (e.g. a new file's owner) and may be
// anything.
func (d *driver) reached(step string, planned, current cty.Value) {
	d.t.Helper()
	if planned.IsNull() || current.IsNull() || !planned.Type().IsObjectType() {
		d.sameValue(step, planned, current)
		return
	}
	for name := range planned.Type().AttributeTypes() {
		p := planned.GetAttr(name)
		if !p.IsNull() && !p.RawEquals(current.GetAttr(name)) {
			d.t.Errorf("%s: attribute %s is %s, planned %s", step, name, current.GetAttr(name).GoString(), p.GoString())
		}
	}
}

func (d *driver) sameBytes(step string, want, got []byte) {
	d.t.Helper()
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		d.t.Errorf("real state %s differs (-want +got):\n%s", step, diff)
	}
}

// Journal is a resource.Journal in memory.
type Journal struct {
	// FailAt, when above zero, makes the FailAt-th call of Record fail
	// with an error wrapping ErrInjected, recording nothing: the entry
	// never became durable, so Apply must not take the step it guards.
	FailAt int

	mu      sync.Mutex
	calls   int
	entries [][]byte
}

// Record implements resource.Journal.
func (j *Journal) Record(ctx context.Context, entry []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls++
	if j.calls == j.FailAt {
		return fmt.Errorf("record journal entry %d: %w", j.calls, ErrInjected)
	}
	j.entries = append(j.entries, append([]byte(nil), entry...))
	return nil
}

// Calls is the number of times Record was called, failed or not.
func (j *Journal) Calls() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.calls
}

// Entries returns the entries recorded, oldest first.
func (j *Journal) Entries() [][]byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([][]byte(nil), j.entries...)
}

type nopProgress struct{}

func (nopProgress) Total(int64, string) {}
func (nopProgress) Add(int64)           {}

// Config builds a configuration value of typ's schema from attrs, as the
// engine decodes one: attributes not given take their Default, or null.
func Config(t testing.TB, typ resource.Type, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	schema := typ.Schema()
	vals := map[string]cty.Value{}
	for name, a := range schema.Attributes {
		v, ok := attrs[name]
		switch {
		case ok:
		case a.Default != cty.NilVal:
			v = a.Default
		default:
			v = cty.NullVal(a.ValueType())
		}
		vals[name] = v
	}
	for name := range attrs {
		if _, ok := schema.Attributes[name]; !ok {
			t.Fatalf("%s has no attribute %q", typ.Name(), name)
		}
	}
	return cty.ObjectVal(vals)
}

// HostValue is the value of a host block, as HostRef attributes hold it.
func HostValue(t testing.TB, h resource.Host) cty.Value {
	t.Helper()
	v, err := gocty.ToCtyValue(h, resource.HostType)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Logger returns a logger writing to the test's log.
func Logger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// Pool is a connection pool for the test, closed when the test ends.
func Pool(t testing.TB) *pool.Pool {
	p := pool.New(hclog.NewNullLogger())
	t.Cleanup(func() { p.Close() })
	return p
}

// ReadPlan reads cfg with typ and plans it from what it read, failing the
// test on an error of either.
func ReadPlan(ctx context.Context, t testing.TB, typ resource.Type, cfg cty.Value) (resource.ReadResponse, resource.PlanResponse) {
	t.Helper()
	return ReadPlanLogged(ctx, t, typ, cfg, nil)
}

// ReadPlanLogged is ReadPlan with log in both requests.
func ReadPlanLogged(ctx context.Context, t testing.TB, typ resource.Type, cfg cty.Value, log hclog.Logger) (resource.ReadResponse, resource.PlanResponse) {
	t.Helper()
	read, err := typ.Read(ctx, resource.ReadRequest{Config: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := typ.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return read, plan
}
