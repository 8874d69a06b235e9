package render

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/states"
)

// ValidateJSON is the result of `validate -json`: valid, the counts, and
// each diagnostic with its source range and, when files has its file, the
// source snippet (DiagnosticJSON).
func ValidateJSON(diags hcl.Diagnostics, files map[string]*hcl.File) map[string]any {
	list := []JSONDiagnostic{}
	errs, warns := 0, 0
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			warns++
		} else {
			errs++
		}
		list = append(list, DiagnosticJSON(d, files))
	}
	return map[string]any{"format_version": "1.0", "valid": errs == 0, "error_count": errs, "warning_count": warns, "diagnostics": list}
}

// StateJSON is the state in the shape of `terraform show -json`: values of
// the root module and of each module instance, sensitive ones left out.
func StateJSON(st *states.State) map[string]any {
	type module struct {
		Address   string           `json:"address,omitempty"`
		Resources []map[string]any `json:"resources"`
	}
	mods := map[string]*module{}
	for _, addr := range SortedAddrs(st) {
		r := st.Resources[addr]
		ri, diags := addrs.ParseResourceInstance(addr)
		if diags.HasErrors() {
			continue
		}
		var values map[string]json.RawMessage
		_ = json.Unmarshal(r.Result, &values)
		sens := map[string]bool{}
		for _, p := range r.Sensitive {
			sens[p] = true
			delete(values, p)
		}
		entry := map[string]any{
			"address":          addr,
			"mode":             "managed",
			"type":             ri.Resource.Type,
			"name":             ri.Resource.Name,
			"values":           values,
			"sensitive_values": sens,
		}
		if r.Wait != nil {
			// mailplan's own: a step an apply left waiting (as `show` prints it).
			entry["mailplan_waiting"] = map[string]any{"until": r.Wait.Until.UTC().Format(time.RFC3339), "reason": r.Wait.Reason}
		}
		switch k := ri.Key.(type) {
		case addrs.IntKey:
			entry["index"] = int(k)
		case addrs.StringKey:
			entry["index"] = string(k)
		}
		ma := ri.Module.String()
		if mods[ma] == nil {
			mods[ma] = &module{Address: ma, Resources: []map[string]any{}}
		}
		mods[ma].Resources = append(mods[ma].Resources, entry)
	}
	root := mods[""]
	if root == nil {
		root = &module{Resources: []map[string]any{}}
	}
	var children []*module
	for a, m := range mods {
		if a != "" {
			children = append(children, m)
		}
	}
	sort.Slice(children, func(i, j int) bool { return children[i].Address < children[j].Address })
	rootMap := map[string]any{"resources": root.Resources}
	if len(children) > 0 {
		rootMap["child_modules"] = children
	}
	outs := map[string]any{}
	for name, o := range st.Outputs {
		e := map[string]any{"sensitive": o.Sensitive}
		if !o.Sensitive && len(o.Value) > 0 {
			e["value"] = json.RawMessage(o.Value)
			e["type"] = json.RawMessage(o.Type)
		}
		outs[name] = e
	}
	return map[string]any{
		"format_version": "1.0",
		"values":         map[string]any{"outputs": outs, "root_module": rootMap},
	}
}

// SortedAddrs are the addresses of the state's resources, sorted.
func SortedAddrs(st *states.State) []string {
	out := make([]string, 0, len(st.Resources))
	for a := range st.Resources {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Resource prints one resource of the state as `show` and `state show` do:
// its result attributes, sensitive ones hidden, and its wait.
func Resource(w io.Writer, r *states.Resource) {
	fmt.Fprintf(w, "# %s:\n", r.Addr)
	fmt.Fprintf(w, "resource %q %q {\n", r.Type, lastName(r.Addr))
	var m map[string]json.RawMessage
	_ = json.Unmarshal(r.Result, &m)
	keys := make([]string, 0, len(m))
	width := 0
	for k := range m {
		keys = append(keys, k)
		if len(k) > width {
			width = len(k)
		}
	}
	sort.Strings(keys)
	sens := map[string]bool{}
	for _, s := range r.Sensitive {
		sens[s] = true
	}
	for _, k := range keys {
		v := string(m[k])
		if sens[k] {
			v = "(sensitive value)"
		}
		if v == "null" {
			continue
		}
		fmt.Fprintf(w, "    %-*s = %s\n", width, k, v)
	}
	fmt.Fprintln(w, "}")
	if r.Wait != nil {
		fmt.Fprintf(w, "# waiting until %s: %s\n", r.Wait.Until.Local().Format("2006-01-02 15:04:05 MST"), r.Wait.Reason)
	}
	fmt.Fprintln(w)
}

func lastName(addr string) string {
	s := addr
	if i := strings.LastIndex(s, "["); i > 0 && strings.HasSuffix(s, "]") {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "."); i >= 0 {
		return s[i+1:]
	}
	return s
}
