package dns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// counted runs f with a round-trip counter and logs the count.
func counted(ctx context.Context, log hclog.Logger, op string, s spec, f func(context.Context) error) error {
	var n atomic.Int64
	err := f(dnsclient.WithCounter(ctx, &n))
	if log != nil {
		log.Debug("dns round trips", "op", op, "name", s.name, "type", s.rtype, "round_trips", n.Load())
	}
	return err
}

func (c *core) read(ctx context.Context, s spec) (rrset, error) {
	cl, err := c.client(s)
	if err != nil {
		return rrset{}, err
	}
	got, err := cl.Read(ctx, s.zone, s.name, s.rtype)
	if err != nil {
		return rrset{}, err
	}
	return rrset{Zone: s.zone, Name: s.name, Type: s.rtype, Exists: got.Exists(), TTL: got.TTL, Records: got.Records, CNAME: got.CNAME}, nil
}

// Read implements resource.Type: one query to the zone's server.
func (c *core) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	s, err := c.decode(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	var cur rrset
	err = counted(ctx, req.Logger, "read", s, func(ctx context.Context) error {
		cur, err = c.read(ctx, s)
		return err
	})
	if err != nil {
		return resource.ReadResponse{}, err
	}
	resp, err := resource.Absent(c.Schema(), cur)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	if cur.Exists {
		resp.Current = c.value(req.Config, s, cur.TTL, cur.Records)
	}
	return resp, nil
}

func decodeSnapshot(b []byte) (rrset, error) {
	var r rrset
	if len(b) == 0 {
		return r, errors.New("no snapshot")
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("bad snapshot: %w", err)
	}
	return r, nil
}

// live is what the server has, from the snapshot of the same Read as
// current, or from current itself.
func (c *core) live(s spec, current cty.Value, snapshot []byte) rrset {
	if r, err := decodeSnapshot(snapshot); err == nil && r.Name != "" {
		return r
	}
	r := rrset{Zone: s.zone, Name: s.name, Type: s.rtype}
	if current.IsNull() {
		return r
	}
	if cs, err := c.decode(current); err == nil {
		r.Exists, r.TTL, r.Records = len(cs.records) > 0, cs.ttl, cs.records
	}
	return r
}

// Plan implements resource.Type. It computes the change with decide, and
// checks what only the server can tell: a CNAME must be alone at its name
// (RFC 1034 §3.6.2; a server may silently ignore an update breaking that,
// RFC 2136 §3.4.2.2), and an MX target must not be a CNAME (RFC 2181
// §10.3). Those checks query the server; nothing is changed.
func (c *core) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	s, err := c.decode(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	current, _ := req.Current.UnmarkDeep()
	cur := c.live(s, current, req.Snapshot)
	if current.IsNull() {
		cur.Exists, cur.Records = false, nil
	}
	var prior *private
	if req.Prior != nil {
		prior = decodePrivate(req.Prior.Private)
	}
	now := c.now()
	ca := c.carry(req.Interrupted, cur, s)
	if ca.private != nil {
		prior = ca.private // newer than the state's
	}
	d := decide(s, cur, prior, now)
	if cur.TTL != d.ttl || !slices.Equal(cur.Records, d.records) {
		cl, err := c.client(s)
		if err != nil {
			return resource.PlanResponse{}, err
		}
		if err := c.checkSize(cl, s, cur, d); err != nil {
			return resource.PlanResponse{}, err
		}
	}
	if !slices.Equal(cur.Records, s.records) {
		if err := counted(ctx, req.Logger, "plan checks", s, func(ctx context.Context) error { return c.check(ctx, req.Config, s, cur) }); err != nil {
			return resource.PlanResponse{}, err
		}
	}
	resp := resource.PlanResponse{Planned: c.value(req.Config, s, d.ttl, d.records), Summary: d.summary, Pending: d.pending}
	waiting := now.Before(ca.until)
	if ca.private != nil || waiting {
		resp.Unfinished = true
		resp.Summary = joinSummary(ca.summary, d.summary)
	}
	return resp, nil
}

func joinSummary(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; then " + b
}

// check makes the plan-time checks that need the server.
func (c *core) check(ctx context.Context, cfg cty.Value, s spec, cur rrset) error {
	cl, err := c.client(s)
	if err != nil {
		return err
	}
	if s.rtype == "CNAME" {
		types, err := cl.Types(ctx, s.zone, s.name)
		if err != nil {
			return err
		}
		var others []string
		for _, t := range types {
			if t != "CNAME" && t != "NSEC" && t != "RRSIG" && t != "NSEC3" {
				others = append(others, t)
			}
		}
		if len(others) > 0 {
			return resource.Errorf("type", "CNAME next to other data",
				"%s already has %v records, and a CNAME cannot coexist with other data at the same name (RFC 1034 §3.6.2); a server may silently ignore such an update. Remove the other records first, or use another name.", s.name, others)
		}
	} else if cur.CNAME {
		return resource.Errorf("name", "CNAME next to other data",
			"%s is a CNAME, so it cannot also have %s records (RFC 1034 §3.6.2); a server may silently ignore such an update. Manage the CNAME instead, or remove it first.", s.name, s.rtype)
	}
	if s.rtype != "MX" {
		return nil
	}
	var errs resource.AttrErrors
	for i, r := range s.records {
		host := dnsclient.MXTarget(r)
		// Only targets the same server answers for can be checked: no
		// query ever goes elsewhere.
		if host == "" || !dnsclient.InZone(s.zone, host) {
			continue
		}
		t, err := cl.Read(ctx, s.zone, host, "CNAME")
		if err != nil {
			return err
		}
		if t.Exists() {
			j := c.form.index(cfg, s.rtype, r)
			if j < 0 {
				j = i
			}
			errs = append(errs, &resource.AttrError{Path: c.form.path(j), Summary: "MX target is a CNAME",
				Detail: fmt.Sprintf("The mail exchanger %s is a CNAME (to %s); an MX must name a host with A or AAAA records (RFC 2181 §10.3). Give the name the CNAME points to.", host, t.Records[0])})
		}
	}
	return errs.Err()
}

// Apply implements resource.Type. Each step is one UPDATE, journalled
// first with the RRset as it was. See decide for the steps; Apply works
// from what the server has now (Current was read just before) and what
// was planned, so a resumed apply simply takes the next step.
func (c *core) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	s, err := c.decode(req.Config)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	want, err := c.decode(req.Planned)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	current, _ := req.Current.UnmarkDeep()
	cur := c.live(s, current, req.Snapshot)
	if current.IsNull() {
		cur.Exists, cur.Records = false, nil
	}
	cl, err := c.client(s)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	var resp resource.ApplyResponse
	err = counted(ctx, req.Logger, "apply", s, func(ctx context.Context) error {
		resp, err = c.step(ctx, req, cl, s, want, cur)
		return err
	})
	return resp, err
}

func (c *core) step(ctx context.Context, req resource.ApplyRequest, cl *dnsclient.Client, s, want spec, cur rrset) (resource.ApplyResponse, error) {
	var resp resource.ApplyResponse
	if req.ResumeInline && len(req.Resume) > 0 {
		var r resume
		if json.Unmarshal(req.Resume, &r) == nil && r.Expect != nil && !toClient(cur).Equal(toClient(*r.Expect)) {
			return resp, fmt.Errorf("%s %s in zone %s changed while mailplan waited (someone else updated it): not overwriting their change; run plan again", s.name, s.rtype, s.zone)
		}
	}
	if len(req.Resume) == 0 {
		// Carry on what an interrupted apply started: record its switch
		// (the TTL hold runs from it) and finish the wait it was in.
		ca := c.carry(req.Interrupted, cur, s)
		if ca.private != nil {
			resp.Private, _ = json.Marshal(ca.private)
		}
		if c.now().Before(ca.until) {
			expect := cur
			rs, _ := json.Marshal(resume{Step: ca.step, Expect: &expect})
			resp.Wait = &resource.Wait{Until: ca.until, Resume: rs, Reason: ca.reason}
			return resp, nil
		}
	}
	written := func(ttl uint32, records []string) *rrset {
		return &rrset{Zone: cur.Zone, Name: cur.Name, Type: cur.Type, Exists: len(records) > 0, TTL: ttl, Records: records}
	}
	update := func(ttl uint32, records []string) error {
		at := c.now().UTC()
		entry, err := json.Marshal(rrset{Zone: cur.Zone, Name: cur.Name, Type: cur.Type, Exists: cur.Exists, TTL: cur.TTL, Records: cur.Records, Wrote: written(ttl, records), At: &at})
		if err != nil {
			return err
		}
		if err := req.Journal.Record(ctx, entry); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if req.Logger != nil {
			req.Logger.Debug("dns update", "zone", s.zone, "name", s.name, "type", s.rtype, "from_ttl", cur.TTL, "to_ttl", ttl, "records", len(records))
		}
		err = cl.Update(ctx, s.zone, toClient(cur), dnsclient.RRset{Name: s.name, Type: s.rtype, TTL: ttl, Records: records})
		return c.explainRefused(ctx, cl, s, records, err)
	}
	now := c.now()
	if cur.Exists && slices.Equal(cur.Records, want.records) {
		if cur.TTL == want.ttl {
			return resp, nil // e.g. resumed after wait_after_change
		}
		return resp, update(want.ttl, want.records)
	}
	tt := want.ttl
	transition := s.transition() && want.ttl == *s.transitionTTL
	if transition && cur.Exists && cur.TTL > tt {
		// Step 1: the same records at the low TTL. Caches may keep the
		// old answer for the old TTL (DOMAIN.md): the switch waits for it.
		if err := update(tt, cur.Records); err != nil {
			return resp, err
		}
		rs, _ := json.Marshal(resume{Step: "switch", Expect: written(tt, cur.Records)})
		resp.Wait = &resource.Wait{Until: now.Add(secs(cur.TTL)), Resume: rs,
			Reason: fmt.Sprintf("TTL lowered %d→%d; the old TTL must run out before the %s switch", cur.TTL, tt, s.rtype)}
		return resp, nil
	}
	if err := update(want.ttl, want.records); err != nil {
		return resp, err
	}
	if transition {
		resp.Private, _ = json.Marshal(private{SwitchedAt: now.UTC(), Records: want.records})
	}
	if s.waitAfter && cur.Exists {
		rs, _ := json.Marshal(resume{Step: "done", Expect: written(want.ttl, want.records)})
		resp.Wait = &resource.Wait{Until: now.Add(secs(cur.TTL)), Resume: rs,
			Reason: fmt.Sprintf("%s switched; waiting %s, the TTL before the switch, so that no cache holds the old records", s.rtype, secs(cur.TTL))}
	}
	return resp, nil
}

func toClient(r rrset) dnsclient.RRset {
	out := dnsclient.RRset{Name: r.Name, Type: r.Type}
	if r.Exists {
		out.TTL, out.Records = r.TTL, r.Records
	}
	return out
}

// Restore implements resource.Type. Every journal entry and the snapshot
// is a whole RRset, so replaying the journal newest-first ends at the
// snapshot whatever the entries: Restore goes there directly, with one
// read and at most one UPDATE whose prerequisite is what the server has
// now. Running it again finds the snapshot and sends nothing.
func (c *core) Restore(ctx context.Context, req resource.RestoreRequest) error {
	s, err := c.decode(req.Config)
	if err != nil {
		return err
	}
	target, err := decodeSnapshot(req.Snapshot)
	if err != nil {
		if len(req.Journal) == 0 {
			return fmt.Errorf("restore %s %s: %w", s.name, s.rtype, err)
		}
		// No snapshot: the oldest entry is what was there before.
		if target, err = decodeSnapshot(req.Journal[0]); err != nil {
			return fmt.Errorf("restore %s %s: journal: %w", s.name, s.rtype, err)
		}
	}
	if target.Name != "" {
		s.zone, s.name, s.rtype = target.Zone, target.Name, target.Type
	}
	return counted(ctx, req.Logger, "restore", s, func(ctx context.Context) error {
		cl, err := c.client(s)
		if err != nil {
			return err
		}
		cur, err := c.read(ctx, s)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if toClient(cur).Equal(toClient(target)) {
			return nil
		}
		// Undo only what this apply wrote: an RRset that is neither the
		// snapshot nor one of the journal's writes was changed by someone
		// else (an UPDATE that failed its prerequisite wrote nothing), and
		// putting the snapshot over it would destroy their change.
		if len(req.Journal) > 0 {
			ours := false
			for _, raw := range req.Journal {
				var e rrset
				if json.Unmarshal(raw, &e) == nil && e.Wrote != nil && toClient(cur).Equal(toClient(*e.Wrote)) {
					ours = true
				}
			}
			if !ours {
				return fmt.Errorf("restore %s %s in zone %s: it holds neither what mailplan wrote nor what was there before; someone else changed it, and mailplan leaves their change alone", s.name, s.rtype, s.zone)
			}
		}
		if req.Logger != nil {
			req.Logger.Debug("dns restore", "zone", s.zone, "name", s.name, "type", s.rtype, "exists", target.Exists, "ttl", target.TTL)
		}
		if err := cl.Update(ctx, s.zone, toClient(cur), toClient(target)); err != nil {
			return fmt.Errorf("restore: %w", c.explainRefused(ctx, cl, s, toClient(target).Records, err))
		}
		return nil
	})
}
