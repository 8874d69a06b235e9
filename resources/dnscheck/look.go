package dnscheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// seen is one resolver's answer at one look.
type seen struct {
	// Resolver is the entry of resolvers, as written.
	Resolver string `json:"resolver"`
	// Answer is set when the resolver answered (any response code).
	Answer *dnsclient.Answer `json:"answer,omitempty"`
	// Failure is why it did not answer: "timeout", "unreachable" or
	// "error"; Error says more.
	Failure string `json:"failure,omitempty"`
	Error   string `json:"error,omitempty"`
}

// snapshot is what Read saw, for Plan's summary. Restore needs nothing
// from it: the gate changes nothing.
type snapshot struct {
	// At is when the look was made: the TTLs left count from then.
	At   time.Time `json:"at"`
	Seen []seen    `json:"seen"`
}

// look asks every resolver once, all at the same time.
func (g *Gate) look(ctx context.Context, s spec) []seen {
	out := make([]seen, len(s.resolvers))
	var wg sync.WaitGroup
	for i, r := range s.resolvers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = g.ask(ctx, s, r)
		}()
	}
	wg.Wait()
	return out
}

func (g *Gate) ask(ctx context.Context, s spec, r resolver) seen {
	a, err := dnsclient.Ask(ctx, r.addr, s.name, s.rtype, dnsclient.AskOptions{Recursion: s.recursion, TCP: s.tcp, Timeout: g.queryTimeout})
	if err == nil {
		return seen{Resolver: r.label, Answer: &a}
	}
	out := seen{Resolver: r.label, Failure: "error", Error: err.Error()}
	var de *dnsclient.Error
	if errors.As(err, &de) {
		switch de.Kind {
		case dnsclient.Timeout:
			out.Failure, out.Error = "timeout", fmt.Sprintf("no answer at %s within %v (timeout)", r.addr, g.queryTimeout)
		case dnsclient.Unreachable:
			out.Failure, out.Error = "unreachable", fmt.Sprintf("nothing listens at %s (connection refused)", r.addr)
		}
	}
	return out
}

// usable reports whether the answer tells what the name holds: a
// NOERROR or NXDOMAIN, authoritative when asked without recursion.
func (x seen) usable(s spec) bool {
	return x.Answer != nil && x.Answer.Answered() && (s.recursion || x.Answer.Authoritative)
}

// passes reports whether the resolver answers as s expects.
func (x seen) passes(s spec) bool {
	if !x.usable(s) {
		return false
	}
	got := x.Answer.Records
	if !s.contains {
		return slices.Equal(got, s.expect)
	}
	for _, e := range s.expect {
		if !slices.Contains(got, e) {
			return false
		}
	}
	return true
}

// shown is the resolver's entry in answers: its records, or a marker.
func (x seen) shown(s spec) []string {
	switch {
	case x.Answer == nil:
		return []string{"(" + x.Failure + ")"}
	case !x.Answer.Answered():
		return []string{"(" + x.Answer.Rcode + ")"}
	case !x.usable(s):
		return []string{"(not authoritative)"}
	}
	return x.Answer.Records
}

// describe says what the resolver answers, for summaries, logs and
// errors: "answers 10 mail.old.example.com. (TTL 3412 s left)".
func (x seen) describe(s spec) string {
	switch {
	case x.Answer == nil:
		return "did not answer: " + x.Error
	case !x.Answer.Answered():
		return "answers " + x.Answer.Rcode
	case !x.usable(s):
		return "answers without authority (AA clear): it does not serve the name; with recursion = false, list the zone's authoritative servers"
	case x.passes(s):
		return "answers the expected records"
	}
	a := x.Answer
	switch {
	case a.Rcode == "NXDOMAIN":
		return fmt.Sprintf("answers NXDOMAIN (TTL %d s left)", a.TTL)
	case len(a.Records) == 0:
		return fmt.Sprintf("answers no %s records (NODATA, TTL %d s left)", s.rtype, a.TTL)
	}
	return fmt.Sprintf("answers %s (TTL %d s left)", strings.Join(a.Records, ", "), a.TTL)
}

// answers is the value of the answers attribute.
func answers(s spec, xs []seen) map[string][]string {
	m := map[string][]string{}
	for _, x := range xs {
		m[x.Resolver] = x.shown(s)
	}
	return m
}

// Read implements resource.Type: one query to each resolver. A resolver
// that does not answer is not an error of Read: it is what the plan
// shows.
func (g *Gate) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	s, err := decode(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	at := time.Now()
	xs := g.look(ctx, s)
	if err := ctx.Err(); err != nil {
		return resource.ReadResponse{}, err
	}
	snap, err := json.Marshal(snapshot{At: at.UTC(), Seen: xs})
	if err != nil {
		return resource.ReadResponse{}, err
	}
	return resource.ReadResponse{Current: s.value(req.Config, answers(s, xs)), Snapshot: snap}, nil
}

// planned is what the gate waits for: each resolver that passes keeps
// its answer, each other answers expect.
func planned(s spec, xs []seen) map[string][]string {
	m := map[string][]string{}
	for _, r := range s.resolvers {
		m[r.label] = s.expect
	}
	for _, x := range xs {
		if x.passes(s) {
			m[x.Resolver] = x.shown(s)
		}
	}
	return m
}

// Plan implements resource.Type: every resolver answering as expected.
// When all already do, the gate is no change (and is still checked at
// apply time); otherwise the summary says what each answers now.
func (g *Gate) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	s, err := decode(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	var snap snapshot
	if len(req.Snapshot) > 0 {
		if err := json.Unmarshal(req.Snapshot, &snap); err != nil {
			return resource.PlanResponse{}, fmt.Errorf("plan dns_check: bad snapshot: %w", err)
		}
	}
	resp := resource.PlanResponse{Planned: s.value(req.Config, planned(s, snap.Seen))}
	for _, x := range snap.Seen {
		if !x.passes(s) {
			resp.Summary = summary(s, snap.Seen)
			break
		}
	}
	return resp, nil
}

// summary is one clause per resolver: "9.9.9.9 answers 10
// mail.old.example.com. (TTL 3412 s left); 1.1.1.1 answers the expected
// records".
func summary(s spec, xs []seen) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.Resolver + " " + x.describe(s)
	}
	return strings.Join(parts, "; ")
}

// Fingerprint implements resource.Fingerprinter: what the resolvers
// answer never makes a saved plan stale; apply waits for whatever they
// answer when it runs.
func (*Gate) Fingerprint(current cty.Value) []byte { return []byte("dns_check") }

// Restore implements resource.Type: the gate changed nothing.
func (*Gate) Restore(ctx context.Context, req resource.RestoreRequest) error { return nil }
