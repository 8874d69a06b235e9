package dns

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// carried is what an apply killed part way through the RRset had done
// that the state does not know, from its journal entries: the switch it
// made (the TTL hold runs from it) and the wait it was in.
type carried struct {
	// private is the transition switch it made, nil for none.
	private *private
	// until is the end of the wait it was in (zero for none): for the
	// old TTL to run out after lowering it (step "switch"), or after the
	// switch with wait_after_change (step "done").
	until  time.Time
	step   string
	reason string
	// summary says, in the plan, what the apply carries on.
	summary string
}

// carry reads the entries of an interrupted apply. Only the newest entry
// whose write the server holds now counts: an entry whose UPDATE never
// went out (the kill came between the two) wrote nothing, and an RRset
// holding none of the writes was changed by someone else since, which
// the plan shows as it is.
//
// An entry is written just before its UPDATE is sent, and the UPDATE is
// one exchange, which lasts at most grace (the client's timeout): the
// times taken from the entries are moved that much later, so that a wait
// or a hold they start never ends early.
func carry(entries [][]byte, cur rrset, s spec, now time.Time, grace time.Duration) carried {
	var ca carried
	var e *rrset
	for i := len(entries) - 1; i >= 0; i-- {
		var x rrset
		if json.Unmarshal(entries[i], &x) == nil && x.Wrote != nil && toClient(cur).Equal(toClient(*x.Wrote)) {
			e = &x
			break
		}
	}
	if e == nil || !e.Exists {
		return ca // none, or a new RRset: no cache held old data
	}
	at := now // an entry from before entries had times: from now on
	if e.At != nil {
		at = *e.At
	}
	at = at.Add(grace).UTC()
	tt := s.transition() && e.Wrote.TTL == *s.transitionTTL
	stamp := at.Format("2006-01-02 15:04:05 MST")
	switch {
	case !slices.Equal(e.Records, e.Wrote.Records):
		if tt {
			ca.private = &private{SwitchedAt: at, Records: e.Wrote.Records}
			ca.summary = fmt.Sprintf("the interrupted apply switched the %s records at %s; the TTL hold runs from then", s.rtype, stamp)
		}
		if s.waitAfter {
			ca.until, ca.step = at.Add(secs(e.TTL)), "done"
			ca.reason = fmt.Sprintf("%s switched by the interrupted apply; waiting %s, the TTL before the switch, so that no cache holds the old records", s.rtype, secs(e.TTL))
			ca.summary = fmt.Sprintf("the interrupted apply switched the %s records at %s; wait until %s, the TTL before the switch", s.rtype, stamp, ca.until.Format("15:04:05 MST"))
		}
	case tt && e.TTL > e.Wrote.TTL && !slices.Equal(cur.Records, s.records):
		ca.until, ca.step = at.Add(secs(e.TTL)), "switch"
		ca.reason = fmt.Sprintf("TTL lowered %d→%d by the interrupted apply; the old TTL must run out before the %s switch", e.TTL, e.Wrote.TTL, s.rtype)
		ca.summary = fmt.Sprintf("the interrupted apply lowered the TTL %d→%d at %s: wait until %s", e.TTL, e.Wrote.TTL, stamp, ca.until.Format("15:04:05 MST"))
	}
	return ca
}

// carry reads an interrupted apply's entries with the grace of the
// client the UPDATEs went through.
func (c *core) carry(entries [][]byte, cur rrset, s spec) carried {
	if len(entries) == 0 {
		return carried{}
	}
	grace := dnsclient.DefaultTimeout
	if cl, err := c.client(s); err == nil {
		grace = cl.Timeout()
	}
	return carry(entries, cur, s, c.now(), grace)
}
