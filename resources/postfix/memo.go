package postfix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"
)

// paramMemo remembers, for one content of an instance's main.cf, what
// postconf said of the parameters Read asked about. What `postconf -n`
// prints depends on main.cf alone, so a Read that finds main.cf as it
// was need not run postconf again: the maps of one instance (three per
// domain in the shadow-copy module) are read before and after each apply
// with one postconf per parameter name, not one per map and read.
type paramMemo struct {
	mu   sync.Mutex
	sum  [sha256.Size]byte
	vals map[string]memoParam
}

type memoParam struct {
	p       param
	unknown bool
}

// effectiveOf is effective for the main.cf content mainCF just read: from
// the memo when postconf was asked about name for this content before;
// else postconf is run, and its answer kept when main.cf, read again, is
// still mainCF (so that postconf read that content too).
func (in instance) effectiveOf(ctx context.Context, mainCF []byte, name string) (param, bool, error) {
	m := &in.edits().memo
	sum := sha256.Sum256(mainCF)
	m.mu.Lock()
	if m.sum == sum {
		if v, ok := m.vals[name]; ok {
			m.mu.Unlock()
			return v.p, v.unknown, nil
		}
	}
	m.mu.Unlock()
	p, unknown, err := in.effective(ctx, name)
	if err != nil {
		return p, unknown, err
	}
	again, err := in.readMainCF(ctx)
	if err != nil || !bytes.Equal(again, mainCF) {
		return p, unknown, err
	}
	m.mu.Lock()
	if m.sum != sum || m.vals == nil {
		m.sum, m.vals = sum, map[string]memoParam{}
	}
	m.vals[name] = memoParam{p: p, unknown: unknown}
	m.mu.Unlock()
	return p, unknown, nil
}
