package exec

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/states"
)

func (r *Runner) runHooks(ctx context.Context, it *item, when string) error {
	if it.inst == nil {
		return nil
	}
	for _, h := range it.inst.Hooks {
		if h.When != when {
			continue
		}
		if r.Hooks == nil {
			return fmt.Errorf("%s hook: no hook runner", when)
		}
		r.event(it.addr, Event{Text: fmt.Sprintf("Running %s hook on %s: %v", when, h.Host.String(), h.Command)})
		out, err := r.Hooks.RunHook(ctx, h.Host, h.Command)
		if err != nil {
			return fmt.Errorf("%s hook %v on %s (%s) failed: %w", when, h.Command, h.Host.String(), h.DeclRange.String(), err)
		}
		r.logger().Named("hook").Debug("hook ran", "addr", it.addr, "when", when, "output", string(out))
	}
	return nil
}

func cloneResource(r *states.Resource) *states.Resource {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

func encodeOutputs(ctx context.Context, outs map[string]*lang.OutputValue) map[string]*states.Output {
	m := map[string]*states.Output{}
	for name, o := range outs {
		so := &states.Output{Sensitive: o.Sensitive}
		if o.Sensitive || lang.IsSensitive(o.Value) {
			so.Digest = outputDigest(ctx, o.Value)
		} else {
			u, _ := o.Value.UnmarkDeep()
			if b, err := ctyjson.Marshal(u, u.Type()); err == nil {
				so.Value = b
			}
			if tb, err := ctyjson.MarshalType(u.Type()); err == nil {
				so.Type = tb
			}
		}
		m[name] = so
	}
	return m
}

func decodeOutput(o *states.Output) (cty.Value, error) {
	if len(o.Value) == 0 || len(o.Type) == 0 {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	t, err := ctyjson.UnmarshalType(o.Type)
	if err != nil {
		return cty.NilVal, err
	}
	return ctyjson.Unmarshal(o.Value, t)
}

// OutputValue decodes a stored output for `mailplan output`.
func OutputValue(o *states.Output) (cty.Value, error) { return decodeOutput(o) }
