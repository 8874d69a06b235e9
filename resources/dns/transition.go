package dns

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// rrset is what the server has: the snapshot and journal entry format,
// and the input of the planning logic. It never holds a secret.
type rrset struct {
	Zone    string   `json:"zone"`
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Exists  bool     `json:"exists"`
	TTL     uint32   `json:"ttl,omitempty"`
	Records []string `json:"records,omitempty"`
	// CNAME: the name holds a CNAME (from the same answer). Not part of
	// what Restore puts back.
	CNAME bool `json:"cname,omitempty"`
	// Wrote, in a journal entry, is what the UPDATE after it was to leave
	// (the entry's own fields are the RRset before it). Restore undoes only
	// its own writes: anything else at the name is someone else's change.
	Wrote *rrset `json:"wrote,omitempty"`
	// At, in a journal entry, is when it was written, just before the
	// UPDATE: if the apply is killed before it records its result, the
	// next one takes the switch time and the waits from here (carry).
	At *time.Time `json:"at,omitempty"`
}

// private is what Apply keeps in the state (ApplyResponse.Private): when
// the records were last switched through a transition, and to what.
type private struct {
	SwitchedAt time.Time `json:"switched_at"`
	Records    []string  `json:"records,omitempty"`
}

func decodePrivate(b []byte) *private {
	if len(b) == 0 {
		return nil
	}
	var p private
	if err := json.Unmarshal(b, &p); err != nil || p.SwitchedAt.IsZero() {
		return nil
	}
	return &p
}

// resume is the Resume data of a wait: which step comes next.
type resume struct {
	Step string `json:"step"` // "switch" or "done"
	// Expect is the RRset the step before the wait left; an inline resume
	// that finds anything else was overtaken by someone else's change.
	Expect *rrset `json:"expect,omitempty"`
}

// decision is what a plan reaches for one RRset.
type decision struct {
	ttl     uint32
	records []string
	summary string
	pending string
}

// decide is the planning logic, pure: what the RRset should become given
// the configuration, what the server has, what the last apply recorded,
// and the time.
//
//   - A new RRset is created at ttl.
//   - Changed records without a transition (transition_ttl unset, or not
//     below ttl) are replaced at ttl in one update.
//   - Changed records with a transition are switched at transition_ttl; when
//     the live TTL is above it, Apply first lowers it and waits.
//   - Unchanged records switched less than transition_hold ago keep their
//     TTL: the raise to ttl is pending.
//   - Otherwise the TTL is made ttl.
//
// wait_after_change waits only after a change of existing records: a new
// RRset or a change of TTL alone leaves no cache holding old data.
func decide(s spec, cur rrset, prior *private, now time.Time) decision {
	d := decision{ttl: s.ttl, records: s.records}
	word := s.rtype
	if !cur.Exists {
		d.summary = fmt.Sprintf("create %s at TTL %d", count(len(s.records), word+" record"), s.ttl)
		return d
	}
	if slices.Equal(cur.Records, s.records) {
		if s.transition() && prior != nil && slices.Equal(prior.Records, s.records) {
			until := prior.SwitchedAt.Add(s.hold)
			if now.Before(until) {
				d.ttl = cur.TTL
				d.pending = fmt.Sprintf("TTL stays at %d until %s, then rises to %d", cur.TTL, until.UTC().Format("2006-01-02 15:04:05 MST"), s.ttl)
				return d
			}
		}
		switch {
		case cur.TTL < s.ttl:
			d.summary = fmt.Sprintf("raise TTL %d→%d", cur.TTL, s.ttl)
		case cur.TTL > s.ttl:
			d.summary = fmt.Sprintf("lower TTL %d→%d", cur.TTL, s.ttl)
		}
		return d
	}
	if !s.transition() {
		d.summary = fmt.Sprintf("replace %s in one update at TTL %d", word, s.ttl)
		if s.waitAfter {
			d.summary += fmt.Sprintf(", wait %s (the old TTL)", secs(cur.TTL))
		}
		return d
	}
	tt := *s.transitionTTL
	d.ttl = tt
	if cur.TTL > tt {
		d.summary = fmt.Sprintf("lower TTL %d→%d, wait %s, switch %s, hold %s", cur.TTL, tt, secs(cur.TTL), word, s.hold)
		if s.waitAfter {
			d.summary += fmt.Sprintf(", wait %s after the switch", secs(tt))
		}
	} else {
		d.summary = fmt.Sprintf("switch %s at TTL %d, hold %s", word, tt, s.hold)
		if s.waitAfter {
			d.summary += fmt.Sprintf(", wait %s after the switch", secs(cur.TTL))
		}
	}
	d.summary += fmt.Sprintf(", then raise TTL to %d", s.ttl)
	return d
}

func secs(n uint32) time.Duration { return time.Duration(n) * time.Second }

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
