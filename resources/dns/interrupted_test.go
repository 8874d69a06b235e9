package dns

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestCarry: what an apply killed part way through an RRset leaves for the
// next one, from its journal entries and what the server holds.
func TestCarry(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := now.Add(-10 * time.Second)
	const grace = 2 * time.Second
	u32 := func(n uint32) *uint32 { return &n }
	oldMX, newMX := []string{"10 mail.old.example.com."}, []string{"10 mail.new.example.com."}
	s := spec{zone: "example.com.", name: "example.com.", rtype: "MX", ttl: 86400, records: newMX, hold: time.Hour, transitionTTL: u32(300)}
	sWait := s
	sWait.waitAfter = true
	rr := func(ttl uint32, recs []string) rrset {
		return rrset{Zone: "example.com.", Name: "example.com.", Type: "MX", Exists: true, TTL: ttl, Records: recs}
	}
	entry := func(before, wrote rrset, when *time.Time) []byte {
		e := before
		e.Wrote, e.At = &wrote, when
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	lower := entry(rr(3600, oldMX), rr(300, oldMX), &at)
	later := at.Add(5 * time.Second)
	sw := entry(rr(300, oldMX), rr(300, newMX), &later)

	tests := []struct {
		name     string
		s        spec
		entries  [][]byte
		cur      rrset
		switched time.Time // zero: no private
		until    time.Time
		step     string
	}{
		{"nothing recorded", s, nil, rr(3600, oldMX), time.Time{}, time.Time{}, ""},
		{"lowered: the switch waits for the old TTL", s, [][]byte{lower}, rr(300, oldMX), time.Time{}, at.Add(grace + time.Hour), "switch"},
		{"lowering never sent", s, [][]byte{lower}, rr(3600, oldMX), time.Time{}, time.Time{}, ""},
		{"switched: the hold runs from the switch", s, [][]byte{lower, sw}, rr(300, newMX), later.Add(grace), time.Time{}, ""},
		{"switched with wait_after_change", sWait, [][]byte{lower, sw}, rr(300, newMX), later.Add(grace), later.Add(grace + 300*time.Second), "done"},
		{"switch never sent: still waiting after lowering", s, [][]byte{lower, sw}, rr(300, oldMX), time.Time{}, at.Add(grace + time.Hour), "switch"},
		{"someone else's change", s, [][]byte{lower, sw}, rr(600, []string{"10 other.example.com."}), time.Time{}, time.Time{}, ""},
		{"an entry without a time counts from now", s, [][]byte{entry(rr(300, oldMX), rr(300, newMX), nil)}, rr(300, newMX), now.Add(grace), time.Time{}, ""},
		{"a created RRset leaves nothing to carry", s, [][]byte{entry(rrset{Zone: "example.com.", Name: "example.com.", Type: "MX"}, rr(86400, newMX), &at)}, rr(86400, newMX), time.Time{}, time.Time{}, ""},
		{"garbage is ignored", s, [][]byte{[]byte("{"), lower}, rr(300, oldMX), time.Time{}, at.Add(grace + time.Hour), "switch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := carry(tc.entries, tc.cur, tc.s, now, grace)
			var sw time.Time
			if got.private != nil {
				sw = got.private.SwitchedAt
				if strings.Join(got.private.Records, ",") != strings.Join(tc.cur.Records, ",") {
					t.Errorf("private records %v, want %v", got.private.Records, tc.cur.Records)
				}
			}
			if !sw.Equal(tc.switched) {
				t.Errorf("switched at %v, want %v", sw, tc.switched)
			}
			if !got.until.Equal(tc.until) || got.step != tc.step {
				t.Errorf("wait until %v (step %q), want %v (%q)", got.until, got.step, tc.until, tc.step)
			}
			if (got.private != nil || !got.until.IsZero()) && got.summary == "" {
				t.Error("no summary for the plan")
			}
		})
	}
}
