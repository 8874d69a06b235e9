package render

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/plans"
)

// PlanJSON returns p in the shape of `terraform show -json` (docs/cli.md):
// format_version, resource_changes and output_changes, plus
// mailplan_waiting when resources are waiting. Sensitive parts of values are
// null, with before_sensitive/after_sensitive marking where they were;
// unknown parts are null too, marked in after_unknown.
func PlanJSON(p *plans.Plan) ([]byte, error) {
	doc, err := planDoc(p)
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// planDoc is the document PlanJSON marshals.
func planDoc(p *plans.Plan) (*jsonPlan, error) {
	doc := &jsonPlan{
		FormatVersion:   "1.0",
		ResourceChanges: []jsonResourceChange{},
		OutputChanges:   map[string]jsonChange{},
	}
	changes := slices.Clone(p.Changes)
	slices.SortStableFunc(changes, compareChanges)
	for _, c := range changes {
		addr := changeAddr(c)
		ch, err := jsonChangeOf(c.Action, c.Before, c.After, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", addr, err)
		}
		rc := jsonResourceChange{
			Address:       addr,
			ModuleAddress: c.Module,
			Mode:          "managed",
			Type:          c.Type,
			Name:          c.Name,
			Index:         jsonIndex(c.Key),
			Change:        ch,
			Reason:        c.Reason,
			Summary:       c.Summary,
			Pending:       c.Pending,
		}
		if w := c.AfterWait; w != nil {
			rc.AfterWait = &jsonWaiting{Address: w.Addr, Until: w.Until.Format(time.RFC3339), Reason: w.Reason}
		}
		rc.PreviousAddress = c.PreviousAddr
		if c.TakesOver != "" {
			rc.TakesOver = &jsonTakeover{Address: c.TakesOver, What: c.TakesOverWhat}
		}
		doc.ResourceChanges = append(doc.ResourceChanges, rc)
	}
	for name, o := range p.Outputs {
		ch, err := jsonChangeOf(o.Action, o.Before, o.After, o.Sensitive)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		doc.OutputChanges[name] = ch
	}
	doc.Adopt = p.Adopt
	for _, w := range p.Waiting {
		doc.Waiting = append(doc.Waiting, jsonWaiting{Address: w.Addr, Until: w.Until.Format(time.RFC3339), Reason: w.Reason})
	}
	return doc, nil
}

// jsonPlan is the plan document. PlanJSON fills format_version, the
// changes and mailplan's additions; ShowPlanJSON the rest, in Terraform's
// order.
type jsonPlan struct {
	FormatVersion   string                  `json:"format_version"`
	MailplanVersion string                  `json:"mailplan_version,omitempty"`
	Variables       map[string]jsonVariable `json:"variables,omitempty"`
	PlannedValues   *jsonValues             `json:"planned_values,omitempty"`
	ResourceChanges []jsonResourceChange    `json:"resource_changes"`
	OutputChanges   map[string]jsonChange   `json:"output_changes"`
	PriorState      map[string]any          `json:"prior_state,omitempty"`
	Configuration   *jsonConfig             `json:"configuration,omitempty"`
	Waiting         []jsonWaiting           `json:"mailplan_waiting,omitempty"`
	Adopt           []string                `json:"mailplan_adopt,omitempty"`
}

type jsonResourceChange struct {
	Address       string     `json:"address"`
	ModuleAddress string     `json:"module_address,omitempty"`
	Mode          string     `json:"mode"`
	Type          string     `json:"type"`
	Name          string     `json:"name"`
	Index         any        `json:"index,omitempty"`
	Change        jsonChange `json:"change"`
	// Reason, summary and pending are mailplan's additions, as
	// Terraform adds action_reason.
	Reason  string `json:"action_reason,omitempty"`
	Summary string `json:"mailplan_summary,omitempty"`
	Pending string `json:"mailplan_pending,omitempty"`
	// AfterWait is the persisted wait of a dependency that holds this
	// change back.
	AfterWait *jsonWaiting `json:"mailplan_after_wait,omitempty"`
	// PreviousAddress is where a moved block moved the instance from, as
	// Terraform names it.
	PreviousAddress string `json:"previous_address,omitempty"`
	// TakesOver is the instance no longer configured whose record this
	// one inherits (the same part of a host).
	TakesOver *jsonTakeover `json:"mailplan_takes_over,omitempty"`
}

type jsonTakeover struct {
	Address string `json:"address"`
	What    string `json:"what"`
}

type jsonChange struct {
	Actions         []string        `json:"actions"`
	Before          json.RawMessage `json:"before"`
	After           json.RawMessage `json:"after"`
	AfterUnknown    any             `json:"after_unknown"`
	BeforeSensitive any             `json:"before_sensitive"`
	AfterSensitive  any             `json:"after_sensitive"`
}

type jsonWaiting struct {
	Address string `json:"address"`
	Until   string `json:"until"`
	Reason  string `json:"reason,omitempty"`
}

func jsonActions(a plans.Action) []string {
	switch a {
	case plans.Create:
		return []string{"create"}
	case plans.Update, plans.Resume:
		return []string{"update"}
	case plans.Delete:
		return []string{"delete"}
	case plans.Replace:
		return []string{"delete", "create"}
	case plans.Forget:
		return []string{"forget"}
	}
	return []string{"no-op"}
}

// jsonIndex is a count index as a number and a for_each key as a string.
func jsonIndex(key string) any {
	if key == "" {
		return nil
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(key, "["), "]")
	if n, err := strconv.Atoi(inner); err == nil {
		return n
	}
	if s, err := strconv.Unquote(inner); err == nil {
		return s
	}
	return inner
}

func jsonChangeOf(a plans.Action, before, after cty.Value, wholeSensitive bool) (jsonChange, error) {
	if wholeSensitive {
		before, after = before.Mark(sensitive), after.Mark(sensitive)
	}
	b, err := jsonValue(before)
	if err != nil {
		return jsonChange{}, fmt.Errorf("before: %w", err)
	}
	af, err := jsonValue(after)
	if err != nil {
		return jsonChange{}, fmt.Errorf("after: %w", err)
	}
	return jsonChange{
		Actions:         jsonActions(a),
		Before:          b,
		After:           af,
		AfterUnknown:    shape(after, func(v cty.Value) bool { return !v.IsKnown() }),
		BeforeSensitive: shape(before, hasSensitive),
		AfterSensitive:  shape(after, hasSensitive),
	}, nil
}

func hasSensitive(v cty.Value) bool {
	return v.HasMark(sensitive)
}

// jsonValue encodes v with its sensitive and unknown parts replaced by null.
func jsonValue(v cty.Value) (json.RawMessage, error) {
	if isNull(v) && v.Type() == cty.NilType {
		return json.RawMessage("null"), nil
	}
	clean := hidden(v)
	out, err := ctyjson.Marshal(clean, clean.Type())
	if err != nil {
		return nil, err
	}
	return out, nil
}

// shape mirrors v's structure the way Terraform's *_sensitive and
// after_unknown fields do: true where pred holds for a whole value; for
// objects and maps an object holding only the keys where something holds;
// for lists, sets and tuples an array with an entry per element; false for
// other values.
func shape(v cty.Value, pred func(cty.Value) bool) any {
	if v.Type() == cty.NilType {
		return false
	}
	if pred(v) {
		return true
	}
	u, _ := v.Unmark()
	ty := u.Type()
	switch {
	case u.IsNull() || !u.IsKnown() || ty.IsPrimitiveType():
		return false
	case ty.IsObjectType() || ty.IsMapType():
		out := map[string]any{}
		for it := u.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if s := shape(e, pred); s != false {
				out[k.AsString()] = s
			}
		}
		return out
	case isSequence(ty):
		out := []any{}
		for it := u.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, shape(e, pred))
		}
		return out
	}
	return false
}

// hidden returns v unmarked with its sensitive and unknown parts null.
func hidden(v cty.Value) cty.Value {
	u, s := unmark(v)
	ty := u.Type()
	if s || !u.IsKnown() {
		return cty.NullVal(ty)
	}
	if u.IsNull() || ty.IsPrimitiveType() {
		return u
	}
	switch {
	case ty.IsObjectType():
		attrs := map[string]cty.Value{}
		for name := range ty.AttributeTypes() {
			attrs[name] = hidden(u.GetAttr(name))
		}
		return cty.ObjectVal(attrs)
	case ty.IsMapType():
		if u.LengthInt() == 0 {
			return cty.MapValEmpty(ty.ElementType())
		}
		elems := map[string]cty.Value{}
		for it := u.ElementIterator(); it.Next(); {
			k, e := it.Element()
			elems[k.AsString()] = hidden(e)
		}
		return cty.MapVal(elems)
	case ty.IsListType(), ty.IsSetType(), ty.IsTupleType():
		var elems []cty.Value
		for it := u.ElementIterator(); it.Next(); {
			_, e := it.Element()
			elems = append(elems, hidden(e))
		}
		switch {
		case ty.IsTupleType():
			return cty.TupleVal(elems)
		case len(elems) == 0 && ty.IsListType():
			return cty.ListValEmpty(ty.ElementType())
		case len(elems) == 0:
			return cty.SetValEmpty(ty.ElementType())
		case ty.IsListType():
			return cty.ListVal(elems)
		}
		return cty.SetVal(elems)
	}
	return u
}
