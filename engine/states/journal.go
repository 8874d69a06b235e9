package states

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Journaler is implemented by backends that can make one small change
// durable cheaply, by appending to a log that Read replays and Write folds
// into the state. The apply journal uses it for every step when it can, so
// that a change is durable before it is made without rewriting the whole
// state each time.
type Journaler interface {
	// Append makes rec durable before returning. rec applies to the state
	// of the given lineage and serial, as last read or written.
	Append(ctx context.Context, rec *Record) error
}

// GroupJournaler is a Journaler whose appends can share one flush to
// disk: records appended at the same time by several goroutines (the
// instances an apply changes in parallel) are made durable by one fsync
// instead of one each. A record is still durable before its caller goes
// on: the caller waits in Sync, and only then does what the record
// announces.
type GroupJournaler interface {
	Journaler
	// AppendWrite writes rec to the journal, after every record written
	// before it, without waiting for it to be durable, and returns the
	// ticket that Sync takes.
	AppendWrite(ctx context.Context, rec *Record) (ticket uint64, err error)
	// Sync returns once the record of ticket, and every record written
	// before it, is durable: flushed by this call or by one that another
	// caller made after the record was written, or folded into a state
	// that Write made durable.
	Sync(ctx context.Context, ticket uint64) error
}

// Op is the kind of a journal record. Its values are written to the state's
// journal as they are: a new value is a new format, and an old one never
// changes.
type Op string

// The journal operations, in the order a run uses them.
const (
	// OpBegin starts a run: Apply becomes LastApply.
	OpBegin Op = "begin"
	// OpContinue lets a later apply take over an open run: LastApply runs
	// again, with the operation in Status and the start time in Started.
	OpContinue Op = "continue"
	// OpMoved moves the resource at Addr to To (a moved block).
	OpMoved Op = "moved"
	// OpChange appends Change to LastApply.Changes, before it is made.
	OpChange Op = "change"
	// OpEntry appends Entry to the journal of change Index.
	OpEntry Op = "entry"
	// OpDone marks change Index done with After reached, and sets (or,
	// with a nil Resource, removes) the resource at Addr when Addr is set.
	OpDone Op = "done"
	// OpRestoring marks change Index as being undone by a rollback.
	OpRestoring Op = "restoring"
	// OpRestored marks change Index undone, and sets (or removes) the
	// resource at Addr as for OpDone.
	OpRestored Op = "restored"
	// OpResource sets (or removes) the resource at Addr.
	OpResource Op = "resource"
	// OpStatus sets LastApply's Status and Finished.
	OpStatus Op = "status"
)

// Record is one step of an apply, as appended to a journal.
type Record struct {
	// Lineage and Serial name the state version the record applies to.
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
	// Op says what the record does, and which of the fields below it uses.
	Op Op `json:"op"`
	// Apply is the new LastApply (begin).
	Apply *Apply `json:"apply,omitempty"`
	// Change is appended to LastApply.Changes (change).
	Change *Change `json:"change,omitempty"`
	// Index is the change an entry or done record is about.
	Index int    `json:"index,omitempty"`
	Entry []byte `json:"entry,omitempty"`
	// After is the done change's reached value.
	After json.RawMessage `json:"after,omitempty"`
	// Addr and Resource set (or, nil, remove) a resource (done, resource).
	Addr     string    `json:"addr,omitempty"`
	Resource *Resource `json:"resource,omitempty"`
	// Status and Finished update LastApply (status). A continue record
	// keeps the continuing run's operation (OperationApply or
	// OperationDestroy) here.
	Status   string    `json:"status,omitempty"`
	Finished time.Time `json:"finished,omitempty"`
	// Started is when a continue record's apply started.
	Started time.Time `json:"started,omitempty"`
	// To is where a moved record moves the resource at Addr.
	To string `json:"to,omitempty"`
}

// Replay applies a journal record to the state.
func (s *State) Replay(rec *Record) error {
	if s.Resources == nil {
		s.Resources = map[string]*Resource{}
	}
	// A record that would leave the state inconsistent (one the state
	// file could not hold) is refused, so that Read reports it where it
	// is instead of a later write failing.
	setResource := func() error {
		switch {
		case rec.Addr == "":
		case rec.Resource == nil:
			delete(s.Resources, rec.Addr)
		case rec.Resource.Addr != rec.Addr:
			return fmt.Errorf("journal record %q sets resource %q to a record of %q", rec.Op, rec.Addr, rec.Resource.Addr)
		default:
			s.Resources[rec.Addr] = rec.Resource
		}
		return nil
	}
	change := func() (*Change, error) {
		if s.LastApply == nil || rec.Index < 0 || rec.Index >= len(s.LastApply.Changes) {
			return nil, fmt.Errorf("journal record %q names change %d, which the state does not have", rec.Op, rec.Index)
		}
		return s.LastApply.Changes[rec.Index], nil
	}
	switch rec.Op {
	case OpBegin:
		if rec.Apply != nil {
			for i, c := range rec.Apply.Changes {
				if c == nil {
					return fmt.Errorf("journal record \"begin\": change %d is null", i)
				}
			}
		}
		s.LastApply = rec.Apply
	case OpContinue:
		// A later apply takes over an interrupted one: same journal, more
		// changes.
		if s.LastApply == nil {
			return fmt.Errorf("journal record \"continue\" before \"begin\"")
		}
		s.LastApply.Status = StatusRunning
		s.LastApply.Operation = rec.Status
		s.LastApply.Continued = append(s.LastApply.Continued, rec.Started)
		s.LastApply.Finished = time.Time{}
	case OpChange:
		if s.LastApply == nil {
			return fmt.Errorf("journal record \"change\" before \"begin\"")
		}
		if rec.Change == nil {
			return fmt.Errorf("journal record \"change\" without a change")
		}
		s.LastApply.Changes = append(s.LastApply.Changes, rec.Change)
	case OpEntry:
		c, err := change()
		if err != nil {
			return err
		}
		c.Journal = append(c.Journal, rec.Entry)
	case OpDone:
		c, err := change()
		if err != nil {
			return err
		}
		c.Done = true
		c.After = rec.After
		return setResource()
	case OpRestoring:
		c, err := change()
		if err != nil {
			return err
		}
		c.Restoring = true
	case OpRestored:
		c, err := change()
		if err != nil {
			return err
		}
		c.Restored = true
		return setResource()
	case OpResource:
		return setResource()
	case OpMoved:
		return s.Move(rec.Addr, rec.To)
	case OpStatus:
		if s.LastApply == nil {
			return fmt.Errorf("journal record \"status\" before \"begin\"")
		}
		s.LastApply.Status = rec.Status
		s.LastApply.Finished = rec.Finished
	default:
		return fmt.Errorf("unknown journal record %q", rec.Op)
	}
	return nil
}

// Move gives the resource at from the address to, as a moved block or
// `mailplan state move` does: its record, the dependency lists that name
// it, and the last apply's journal (so that a rollback puts records back
// at the new address) all follow. Nothing on a host changes, so a
// rollback does not undo a move.
func (s *State) Move(from, to string) error {
	r, ok := s.Resources[from]
	if !ok {
		return fmt.Errorf("move %s to %s: the state has no %s", from, to, from)
	}
	if _, taken := s.Resources[to]; taken {
		return fmt.Errorf("move %s to %s: the state already has %s", from, to, to)
	}
	moved := *r
	moved.Addr = to
	delete(s.Resources, from)
	s.Resources[to] = &moved
	for addr, r := range s.Resources {
		if deps, changed := renameDep(r.Deps, from, to); changed {
			c := *r
			c.Deps = deps
			s.Resources[addr] = &c
		}
	}
	if s.LastApply == nil {
		return nil
	}
	for _, ch := range s.LastApply.Changes {
		if ch.Addr == from {
			ch.Addr = to
		}
		ch.Deps, _ = renameDep(ch.Deps, from, to)
		if ch.Prior != nil {
			p := *ch.Prior
			if p.Addr == from {
				p.Addr = to
			}
			p.Deps, _ = renameDep(p.Deps, from, to)
			ch.Prior = &p
		}
	}
	return nil
}

// renameDep returns deps with from replaced by to (a new slice when it
// changed).
func renameDep(deps []string, from, to string) ([]string, bool) {
	for i, d := range deps {
		if d == from {
			out := append([]string(nil), deps...)
			out[i] = to
			for j := i + 1; j < len(out); j++ {
				if out[j] == from {
					out[j] = to
				}
			}
			return out, true
		}
	}
	return deps, false
}
