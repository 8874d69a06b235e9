package render

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/states"
)

// outputText is one output's value as `output` prints it: a string as it
// is (JSON with asJSON), anything else as JSON, a sensitive one hidden.
func outputText(o *states.Output, asJSON bool) (string, bool) {
	if o.Sensitive {
		return "(sensitive value)", true
	}
	v, err := exec.OutputValue(o)
	if err != nil {
		return "", false
	}
	if !asJSON && v.Type() == cty.String {
		return v.AsString(), true
	}
	b, _ := ctyjson.Marshal(v, v.Type())
	return string(b), true
}

// Output prints the output name of the state; when it cannot, it returns
// the error's summary and detail.
func Output(w io.Writer, outs map[string]*states.Output, name string, asJSON bool) (summary, detail string) {
	o, ok := outs[name]
	if ok && o.Sensitive && asJSON {
		return "Sensitive output", fmt.Sprintf("The output %q is sensitive, so its value is not kept in the state (mailplan never stores secrets); read it from its source.", name)
	}
	v, shown := "", false
	if ok {
		v, shown = outputText(o, asJSON)
	}
	if !shown {
		return "Output not found", fmt.Sprintf("The state has no output %q. Apply the plan that declares it first.", name)
	}
	fmt.Fprintln(w, v)
	return "", ""
}

// Outputs prints every output of the state, by name: NAME = VALUE, or
// with asJSON one JSON object (sensitive values left out).
func Outputs(w io.Writer, outs map[string]*states.Output, asJSON bool) {
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	sort.Strings(names)
	if asJSON {
		m := map[string]any{}
		for _, n := range names {
			o := outs[n]
			entry := map[string]any{"sensitive": o.Sensitive}
			if !o.Sensitive {
				entry["value"] = json.RawMessage(o.Value)
				entry["type"] = json.RawMessage(o.Type)
			}
			m[n] = entry
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Fprintln(w, string(b))
		return
	}
	for _, n := range names {
		v, _ := outputText(outs[n], false)
		if !outs[n].Sensitive && !strings.HasPrefix(v, "{") && !strings.HasPrefix(v, "[") {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(w, "%s = %s\n", n, v)
	}
}
