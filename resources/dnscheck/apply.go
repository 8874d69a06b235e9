package dnscheck

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
)

// resume is the Resume data of a wait: when the gate started, so that
// the timeout runs from the first Apply.
type resume struct {
	Started time.Time `json:"started"`
}

// minWait is the shortest time between two looks: a wrong answer with
// TTL 0 (a cache entry about to expire, or a zone that does not let it be
// cached) is looked at again after it, not in a busy loop.
const minWait = time.Second

// ttlMargin is added to a TTL left before looking again: a cache counts
// TTLs in whole seconds, so the entry may live a fraction of a second
// past the TTL it announced.
const ttlMargin = 100 * time.Millisecond

// Apply implements resource.Type: it looks at every resolver until all
// answer as expected, and fails when the timeout (from the first Apply)
// has passed first. Between two looks it waits until the earliest moment
// a wrong answer still cached can expire (the lowest TTL left among
// them), at most interval and never past the timeout.
func (g *Gate) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	s, err := decode(req.Config)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	log := req.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	started := time.Now()
	if len(req.Resume) > 0 {
		var r resume
		if err := json.Unmarshal(req.Resume, &r); err != nil {
			return resource.ApplyResponse{}, fmt.Errorf("apply dns_check: bad resume data: %w", err)
		}
		if !r.Started.IsZero() {
			started = r.Started
		}
	}
	deadline := started.Add(s.timeout)
	if req.Progress != nil {
		req.Progress.Total(int64(len(s.resolvers)), "resolvers")
	}
	best := 0     // the most resolvers that passed at one look, for Progress
	lastLog := "" // the wrong answers last logged at Info
	for {
		xs := g.look(ctx, s)
		if err := ctx.Err(); err != nil {
			return resource.ApplyResponse{}, err
		}
		var wrong []seen
		for _, x := range xs {
			if !x.passes(s) {
				wrong = append(wrong, x)
			}
		}
		if ok := len(xs) - len(wrong); ok > best && req.Progress != nil {
			req.Progress.Add(int64(ok - best))
			best = ok
		}
		if len(wrong) == 0 {
			log.Info("every resolver answers as expected", "name", s.name, "type", s.rtype, "resolvers", len(xs))
			return resource.ApplyResponse{}, nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			return resource.ApplyResponse{}, s.timeoutError(wrong, len(xs))
		}
		wait, why := nextLook(s, wrong, deadline.Sub(now))
		state := summary(s, wrong)
		if state != lastLog {
			log.Info("waiting for resolvers", "name", s.name, "type", s.rtype, "wrong", state, "next_look", wait.Round(time.Millisecond), "because", why)
			lastLog = state
		} else {
			log.Debug("waiting for resolvers", "wrong", len(wrong), "next_look", wait.Round(time.Millisecond), "because", why)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return resource.ApplyResponse{}, ctx.Err()
		case <-timer.C:
		}
	}
}

// nextLook is how long to wait before the next look, and why: the lowest
// TTL left among the wrong answers (the earliest moment one of those
// caches can let go of its answer), capped by the interval and by left,
// the time to the deadline (a last look is made at the deadline).
func nextLook(s spec, wrong []seen, left time.Duration) (time.Duration, string) {
	wait, why := s.interval, fmt.Sprintf("interval %v", s.interval)
	for _, x := range wrong {
		if !x.usable(s) {
			continue // no TTL: a failure, looked at again after interval
		}
		d := max(time.Duration(x.Answer.TTL)*time.Second+ttlMargin, minWait)
		if d < wait {
			wait, why = d, fmt.Sprintf("the answer of %s expires from its cache (TTL %d s left)", x.Resolver, x.Answer.TTL)
		}
	}
	if left < wait {
		wait, why = left, "the timeout ends then; a last look"
	}
	return wait, why
}

// timeoutError names each resolver still wrong and what it answers.
func (s spec) timeoutError(wrong []seen, total int) error {
	var want string
	switch {
	case len(s.expect) == 0:
		want = fmt.Sprintf("no %s records (NXDOMAIN or NODATA)", s.rtype)
	case s.contains:
		want = "records including " + strings.Join(s.expect, ", ")
	default:
		want = strings.Join(s.expect, ", ")
	}
	parts := make([]string, len(wrong))
	for i, x := range wrong {
		parts[i] = x.Resolver + " " + x.describe(s)
	}
	return fmt.Errorf("after %v, %d of %d resolvers still do not answer %s %s with %s: %s",
		s.timeout, len(wrong), total, s.name, s.rtype, want, strings.Join(parts, "; "))
}

// Check implements resource.Checker: a gate that held at plan time is
// looked at again at apply time, in dependency order, and waited for
// like Apply when it no longer holds (a resolver whose cache refreshed
// from a server still serving the old records, say).
func (g *Gate) Check(ctx context.Context, req resource.ApplyRequest) error {
	_, err := g.Apply(ctx, req)
	return err
}
