package dns

import (
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// TestPrerequisiteGuard: a record changed with nsupdate between the read
// and the apply fails the apply with the typed error and is not
// overwritten.
func TestPrerequisiteGuard(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	ctx := context.Background()
	cfg := resourcetest.Config(t, b.record, map[string]cty.Value{
		"server": b.server(t, "hmac-sha512"), "zone": cty.StringVal("example.com."), "name": cty.StringVal("imap"),
		"type": cty.StringVal("A"), "ttl": cty.NumberIntVal(300), "records": strs("127.0.0.3"),
	})
	log := resourcetest.Logger(t)
	read, plan := resourcetest.ReadPlanLogged(ctx, t, b.record, cfg, log)
	b.n.NSUpdate(t, "hmac-sha256", "update delete imap.example.com. A\nupdate add imap.example.com. 3600 A 127.0.0.9")
	journal := &resourcetest.Journal{}
	_, err := b.record.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: journal, Logger: log})
	if !dnsclient.IsChanged(err) {
		t.Fatalf("apply after a change behind our back: %v, want a changed-since-read error", err)
	}
	t.Log(err)
	if _, rdata := b.n.Dig(t, "imap.example.com.", "A"); len(rdata) != 1 || rdata[0] != "127.0.0.9" {
		t.Errorf("the other change was overwritten: %v", rdata)
	}
	// The rollback that follows a failed apply must not put the snapshot
	// over their change either: the UPDATE wrote nothing.
	err = b.record.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot, Journal: journal.Entries(), Logger: log})
	if err == nil {
		t.Error("restore over someone else's change succeeded; want it refused")
	}
	if _, rdata := b.n.Dig(t, "imap.example.com.", "A"); len(rdata) != 1 || rdata[0] != "127.0.0.9" {
		t.Errorf("the rollback overwrote the other change: %v", rdata)
	}
}

// TestPlanChecks: the rules only the server can tell are plan errors.
func TestPlanChecks(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	b.n.SetRRset(t, "webmail.example.com.", "CNAME", 3600, "imap.example.com.")
	srv := b.server(t, "hmac-sha256")
	mxTo := func(host string) cty.Value {
		return resourcetest.Config(t, b.mx, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."), "ttl": cty.NumberIntVal(300),
			"exchanges": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(10), "host": cty.StringVal(host)})})})
	}
	rec := func(name, rtype string, records ...string) cty.Value {
		return resourcetest.Config(t, b.record, map[string]cty.Value{"server": srv, "zone": cty.StringVal("example.com."), "name": cty.StringVal(name),
			"type": cty.StringVal(rtype), "ttl": cty.NumberIntVal(300), "records": strs(records...)})
	}
	tests := []struct {
		name string
		typ  resource.Type
		cfg  cty.Value
		want string // summary; "" means no error
	}{
		{"CNAME where an A is", b.record, rec("imap", "CNAME", "mail.new.example.com."), "CNAME next to other data"},
		{"A where a CNAME is", b.record, rec("webmail", "A", "127.0.0.3"), "CNAME next to other data"},
		{"CNAME replacing a CNAME", b.record, rec("webmail", "CNAME", "smtp.example.com."), ""},
		{"MX to a CNAME", b.mx, mxTo("webmail.example.com."), "MX target is a CNAME"},
		{"dns_record MX to a CNAME", b.record, rec("@", "MX", "10 webmail.example.com."), "MX target is a CNAME"},
		{"MX to a host", b.mx, mxTo("mail.new.example.com."), ""},
		{"MX to another zone: not checked", b.mx, mxTo("mx.example.net."), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			read, err := tc.typ.Read(ctx, resource.ReadRequest{Config: tc.cfg})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tc.typ.Plan(ctx, resource.PlanRequest{Config: tc.cfg, Current: read.Current, Snapshot: read.Snapshot})
			got := ""
			if err != nil {
				got = err.Error()
				switch e := err.(type) {
				case *resource.AttrError:
					got = e.Summary
				case resource.AttrErrors:
					got = e[0].Summary
				}
			}
			if got != tc.want {
				t.Errorf("plan error %q, want %q (%v)", got, tc.want, err)
			}
		})
	}
}

// TestNotAuthoritativeRead: a zone the server does not serve cannot be
// read, with an error naming the block and the record.
func TestNotAuthoritativeRead(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	cfg := resourcetest.Config(t, b.record, map[string]cty.Value{"server": b.server(t, "hmac-sha256"), "zone": cty.StringVal("example.org."),
		"type": cty.StringVal("A"), "ttl": cty.NumberIntVal(300), "records": strs("127.0.0.3")})
	_, err := b.record.Read(context.Background(), resource.ReadRequest{Config: cfg})
	if !dnsclient.IsNotAuthoritative(err) || !strings.Contains(err.Error(), `dns_server "primary"`) || !strings.Contains(err.Error(), "example.org.") {
		t.Fatalf("read of a zone not served: %v", err)
	}
	t.Log(err)
}

// A change by someone else while mailplan waits inline between two steps
// of a transition stops the apply: the next step never overwrites it.
func TestChangeDuringInlineWait(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	ctx := context.Background()
	b.n.SetRRset(t, "smtp.example.com.", "A", 5, "127.0.0.2")
	cfg := resourcetest.Config(t, b.record, map[string]cty.Value{
		"server": b.server(t, "hmac-sha256"), "zone": cty.StringVal("example.com."), "name": cty.StringVal("smtp"),
		"type": cty.StringVal("A"), "ttl": cty.NumberIntVal(300), "records": strs("127.0.0.3"),
		"transition_ttl": cty.NumberIntVal(2),
	})
	log := resourcetest.Logger(t)
	read, plan := resourcetest.ReadPlanLogged(ctx, t, b.record, cfg, log)
	journal := &resourcetest.Journal{}
	first, err := b.record.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: journal, Logger: log})
	if err != nil || first.Wait == nil {
		t.Fatalf("step 1: %v, wait %v", err, first.Wait)
	}
	b.n.SetRRset(t, "smtp.example.com.", "A", 2, "127.0.0.9")
	again, err := b.record.Read(ctx, resource.ReadRequest{Config: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.record.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: again.Current, Planned: plan.Planned, Snapshot: again.Snapshot,
		Journal: journal, Resume: first.Wait.Resume, ResumeInline: true, Logger: log})
	if err == nil || !strings.Contains(err.Error(), "changed while mailplan waited") {
		t.Fatalf("resume after someone else's change: %v", err)
	}
	if _, rdata := b.n.Dig(t, "smtp.example.com.", "A"); len(rdata) != 1 || rdata[0] != "127.0.0.9" {
		t.Errorf("their change was overwritten: %v", rdata)
	}
}
