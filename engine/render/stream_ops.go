package render

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/plans"
)

// PlanMessages are the messages of a plan: a planned_change for each
// change the text plan shows (in its order), then each adoption, a wait
// for each resource whose persisted wait is not over, the change_summary,
// and the outputs when there are any.
func PlanMessages(p *plans.Plan) []Message {
	var out []Message
	changes := slices.Clone(p.Changes)
	slices.SortStableFunc(changes, compareChanges)
	for _, c := range changes {
		action := streamAction(c)
		if action == "" {
			continue
		}
		addr := changeAddr(c)
		sc := &StreamChange{Resource: ResourceOf(addr), Action: action, Reason: c.Reason, Summary: c.Summary, Pending: c.Pending}
		if c.PreviousAddr != "" {
			r := ResourceOf(c.PreviousAddr)
			sc.PreviousResource = &r
		}
		if c.TakesOver != "" {
			r := ResourceOf(c.TakesOver)
			sc.TakesOver = &r
		}
		out = append(out, Message{Type: MsgPlannedChange, Message: addr + ": Plan to " + action, Change: sc})
	}
	for _, a := range p.Adopt {
		out = append(out, Message{Type: MsgPlannedChange, Message: a + ": Plan to adopt",
			Change: &StreamChange{Resource: ResourceOf(a), Action: "adopt"}})
	}
	waiting := slices.Clone(p.Waiting)
	sort.Slice(waiting, func(i, j int) bool { return waiting[i].Addr < waiting[j].Addr })
	for _, w := range waiting {
		out = append(out, WaitMessage(w.Addr, w.Until, w.Reason, false))
	}
	add, change, remove := p.Counts()
	text := fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", add, change, remove)
	if !p.HasChanges() {
		text = "No changes. Your servers match the plan."
	}
	out = append(out, Message{Type: MsgChangeSummary, Message: text,
		Changes: &StreamSummary{Add: add, Change: change, Remove: remove, Operation: "plan"}})
	if len(p.Outputs) > 0 {
		outs := map[string]StreamOutput{}
		for name, o := range p.Outputs {
			outs[name] = StreamOutput{Sensitive: o.Sensitive, Action: outputAction(o.Action)}
		}
		out = append(out, Message{Type: MsgOutputs, Message: outputsText(len(outs)), Outputs: outs})
	}
	return out
}

// streamAction is a change's action in a planned_change, or "" for a
// change the text plan does not show (a no-op).
func streamAction(c *plans.Change) string {
	switch {
	case c.Action != plans.NoOp:
		return string(c.Action)
	case c.TakesOver != "":
		return "takeover"
	case c.PreviousAddr != "":
		return "move"
	}
	return ""
}

func outputAction(a plans.Action) string {
	if a == plans.NoOp {
		return "noop"
	}
	return string(a)
}

func outputsText(n int) string {
	return fmt.Sprintf("Outputs: %d", n)
}

// OutputsMessage is the root outputs after an apply, their values from
// the plan it carried out. A sensitive output, or one with a sensitive
// part, has neither type nor value and counts as sensitive; one whose
// value is not known has neither either.
func OutputsMessage(p *plans.Plan) (Message, error) {
	outs := map[string]StreamOutput{}
	for name, o := range p.Outputs {
		if o.Action == plans.Delete {
			continue
		}
		so := StreamOutput{Sensitive: o.Sensitive || (o.After != cty.NilVal && o.After.ContainsMarked())}
		if !so.Sensitive && o.After != cty.NilVal && o.After.IsWhollyKnown() {
			v := o.After
			val, err := ctyjson.Marshal(v, v.Type())
			if err != nil {
				return Message{}, fmt.Errorf("output %s: %w", name, err)
			}
			ty, err := ctyjson.MarshalType(v.Type())
			if err != nil {
				return Message{}, fmt.Errorf("output %s: %w", name, err)
			}
			so.Value, so.Type = json.RawMessage(val), json.RawMessage(ty)
		}
		outs[name] = so
	}
	return Message{Type: MsgOutputs, Message: outputsText(len(outs)), Outputs: outs}, nil
}

// SummaryMessage is the change_summary of an apply, destroy or rollback
// that finished.
func SummaryMessage(op string, rep *exec.ApplyReport) Message {
	s := &StreamSummary{Add: rep.Added, Change: rep.Changed, Remove: rep.Destroyed, Operation: op}
	text := fmt.Sprintf("Apply complete! Resources: %d added, %d changed, %d destroyed.", rep.Added, rep.Changed, rep.Destroyed)
	switch op {
	case "destroy":
		text = fmt.Sprintf("Destroy complete! Resources: %d destroyed.", rep.Destroyed)
	case "rollback":
		s.Restore = len(rep.RolledBack)
		text = fmt.Sprintf("Rollback complete! Resources: %d restored.", s.Restore)
	}
	return Message{Type: MsgChangeSummary, Message: text, Changes: s}
}

// RollbackPlanMessage is what a rollback is about to undo; changes are
// "ADDR (ACTION)", newest first, as exec.Pending gives them.
func RollbackPlanMessage(op string, started time.Time, changes, drifted []string) Message {
	rb := &StreamRollback{Operation: op, Started: started.UTC().Format(time.RFC3339), Changes: []StreamChange{}, Drifted: []StreamResource{}}
	for _, c := range changes {
		addr, action := c, ""
		if i := strings.LastIndex(c, " ("); i > 0 && strings.HasSuffix(c, ")") {
			addr, action = c[:i], c[i+2:len(c)-1]
		}
		rb.Changes = append(rb.Changes, StreamChange{Resource: ResourceOf(addr), Action: action})
	}
	for _, d := range drifted {
		rb.Drifted = append(rb.Drifted, ResourceOf(d))
	}
	text := fmt.Sprintf("Rollback of the %s started %s: %d to undo", op, rb.Started, len(changes))
	return Message{Type: MsgRollbackPlan, Message: text, RollbackDetail: rb}
}

// HookMessage is a resource's step: apply_start, apply_progress,
// apply_complete or apply_errored with its action, or rollback_start,
// rollback_complete or rollback_errored. elapsed is left out of a start;
// errText is what failed, when known.
func HookMessage(typ, addr, action string, elapsed time.Duration, errText string) Message {
	h := &StreamHook{Resource: ResourceOf(addr), Action: action, Error: errText}
	secs := int64(elapsed.Round(time.Second) / time.Second)
	m := Message{Type: typ, Hook: h}
	if typ != MsgApplyStart && typ != MsgRollbackStart {
		h.ElapsedSeconds = &secs
	}
	w := hookWords(action)
	switch typ {
	case MsgApplyStart:
		m.Message = fmt.Sprintf("%s: %s...", addr, w.ing)
	case MsgApplyProgress:
		m.Message = fmt.Sprintf("%s: Still %s... [%ds elapsed]", addr, strings.ToLower(w.ing), secs)
	case MsgApplyComplete:
		m.Message = fmt.Sprintf("%s: %s complete after %ds", addr, w.noun, secs)
	case MsgApplyErrored:
		m.Level, m.Message = LevelError, fmt.Sprintf("%s: %s errored after %ds", addr, w.noun, secs)
	case MsgRollbackStart:
		m.Message = addr + ": Rolling back..."
	case MsgRollbackComplete:
		m.Message = fmt.Sprintf("%s: Rollback complete after %ds", addr, secs)
	case MsgRollbackErrored:
		m.Level, m.Message = LevelError, fmt.Sprintf("%s: Rollback errored after %ds", addr, secs)
	}
	if errText != "" && m.Level == LevelError {
		m.Message += ": " + errText
	}
	return m
}

type words struct{ ing, noun string }

func hookWords(action string) words {
	switch plans.Action(action) {
	case plans.Create:
		return words{"Creating", "Creation"}
	case plans.Delete:
		return words{"Destroying", "Destruction"}
	case plans.Replace:
		return words{"Replacing", "Replacement"}
	case plans.Resume:
		return words{"Resuming", "Modifications"}
	}
	return words{"Modifying", "Modifications"}
}
