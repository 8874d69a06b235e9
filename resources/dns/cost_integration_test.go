package dns

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// TestCost measures what a plan and an apply of 500 records across 50
// zones cost against the local named, as the engine drives them (4 at
// once): wall time and DNS round trips per record. A plan is Read + Plan;
// an apply is the engine's re-read, Apply and read-back. Records are A
// records created (no plan-time checks) and MX records switched (one
// check of the in-zone target).
func TestCost(t *testing.T) {
	var zones []string
	for i := range 50 {
		zones = append(zones, fmt.Sprintf("zone%02d.example.", i))
	}
	n := testbed.Named(t, testbed.NamedOptions{Addr: "127.0.0.4", Zones: zones})
	pool := dnsclient.NewPool(nil, dnsclient.Options{})
	rec, mx := NewRecord(pool), NewMX(pool)
	k := n.Keys["hmac-sha256"]
	srv := serverValue(t, resource.DNSServer{Name: "primary", Address: n.Server(), TSIGKeyName: k.Name, TSIGAlgorithm: k.Algorithm, TSIGSecret: k.Secret})
	type inst struct {
		typ resource.Type
		cfg cty.Value
	}
	var insts []inst
	for _, z := range zones {
		insts = append(insts, inst{mx, resourcetest.Config(t, mx, map[string]cty.Value{"server": srv, "zone": cty.StringVal(z), "ttl": cty.NumberIntVal(3600),
			"exchanges": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(10), "host": cty.StringVal("mail.new." + z)})})})})
		for j := range 9 {
			insts = append(insts, inst{rec, resourcetest.Config(t, rec, map[string]cty.Value{"server": srv, "zone": cty.StringVal(z), "name": cty.StringVal(fmt.Sprintf("host%d", j)),
				"type": cty.StringVal("A"), "ttl": cty.NumberIntVal(300), "records": strs(fmt.Sprintf("192.0.2.%d", j+1))})})
		}
	}
	cl, err := pool.Get(mustServer(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type planned struct {
		read resource.ReadResponse
		plan resource.PlanResponse
	}
	results := make([]planned, len(insts))
	run := func(f func(i int) error) time.Duration {
		start := time.Now()
		sem := make(chan struct{}, 4)
		var wg sync.WaitGroup
		errs := make([]error, len(insts))
		for i := range insts {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				errs[i] = f(i)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	trips := cl.RoundTrips()
	planTime := run(func(i int) error {
		r, err := insts[i].typ.Read(ctx, resource.ReadRequest{Config: insts[i].cfg})
		if err != nil {
			return err
		}
		p, err := insts[i].typ.Plan(ctx, resource.PlanRequest{Config: insts[i].cfg, Current: r.Current, Snapshot: r.Snapshot})
		results[i] = planned{r, p}
		return err
	})
	planTrips := cl.RoundTrips() - trips
	trips = cl.RoundTrips()
	applyTime := run(func(i int) error {
		r, err := insts[i].typ.Read(ctx, resource.ReadRequest{Config: insts[i].cfg})
		if err != nil {
			return err
		}
		if _, err := insts[i].typ.Apply(ctx, resource.ApplyRequest{Config: insts[i].cfg, Current: r.Current, Planned: results[i].plan.Planned, Snapshot: r.Snapshot, Journal: &resourcetest.Journal{}}); err != nil {
			return err
		}
		_, err = insts[i].typ.Read(ctx, resource.ReadRequest{Config: insts[i].cfg})
		return err
	})
	applyTrips := cl.RoundTrips() - trips
	nrec := float64(len(insts))
	t.Logf("%d records in %d zones: plan %s (%.2f round trips per record), apply %s (%.2f round trips per record)",
		len(insts), len(zones), planTime.Round(time.Millisecond), float64(planTrips)/nrec, applyTime.Round(time.Millisecond), float64(applyTrips)/nrec)
	if planTrips != int64(len(insts)+len(zones)) || applyTrips != int64(3*len(insts)) {
		t.Errorf("round trips: plan %d, apply %d; want %d and %d", planTrips, applyTrips, len(insts)+len(zones), 3*len(insts))
	}
}
