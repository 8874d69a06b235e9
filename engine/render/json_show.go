package render

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// ShowInput is what the document of `show -json PLANFILE` is made from.
type ShowInput struct {
	Plan *plans.Plan
	// Prior is the state the plan was made against.
	Prior *states.State
	// Module is the root module, for configuration.
	Module *configs.Module
	// Registry has the types' schemas: the constant value of a sensitive
	// attribute is left out of configuration.
	Registry *resource.Registry
	// Version is mailplan's version, without the leading "v".
	Version string
}

// ShowPlanJSON is the full plan document in the shape of `terraform show
// -json PLANFILE`: PlanJSON's resource_changes and output_changes, with
// mailplan_version, the root variables, planned_values, prior_state (as
// StateJSON prints the state) and configuration. Sensitive values are
// null or left out, as in PlanJSON and StateJSON: a sensitive variable's
// value, a sensitive output's, a sensitive attribute's never appear.
func ShowPlanJSON(in ShowInput) ([]byte, error) {
	doc, err := planDoc(in.Plan)
	if err != nil {
		return nil, err
	}
	doc.MailplanVersion = in.Version
	doc.Variables = variablesJSON(in.Plan.Basis)
	if doc.PlannedValues, err = plannedValues(in.Plan); err != nil {
		return nil, err
	}
	if in.Prior != nil {
		doc.PriorState = StateJSON(in.Prior)
	}
	if in.Module != nil {
		doc.Configuration = &jsonConfig{RootModule: configModule(in.Module, in.Registry, in.Plan)}
	}
	return json.Marshal(doc)
}

// jsonVariable is a root variable's value; a sensitive one has none.
type jsonVariable struct {
	Value     json.RawMessage `json:"value"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

// variablesJSON are the plan's root variables from its basis, which keeps
// the values of the others as JSON ({"value":…,"type":…}) and of the
// sensitive ones only a salted hash.
func variablesJSON(b plans.Basis) map[string]jsonVariable {
	out := map[string]jsonVariable{}
	for name, j := range b.Variables {
		var typed struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal([]byte(j), &typed); err != nil || typed.Value == nil {
			typed.Value = json.RawMessage("null")
		}
		out[name] = jsonVariable{Value: typed.Value}
	}
	for name := range b.SensitiveVariables {
		out[name] = jsonVariable{Value: json.RawMessage("null"), Sensitive: true}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// jsonValues is planned_values: what the state holds after the apply.
type jsonValues struct {
	Outputs    map[string]jsonOutputValue `json:"outputs,omitempty"`
	RootModule jsonModuleValues           `json:"root_module"`
}

type jsonOutputValue struct {
	Sensitive bool            `json:"sensitive"`
	Value     json.RawMessage `json:"value,omitempty"`
}

type jsonModuleValues struct {
	Address      string              `json:"address,omitempty"`
	Resources    []jsonResourceValue `json:"resources"`
	ChildModules []*jsonModuleValues `json:"child_modules,omitempty"`
}

type jsonResourceValue struct {
	Address         string          `json:"address"`
	Mode            string          `json:"mode"`
	Type            string          `json:"type"`
	Name            string          `json:"name"`
	Index           any             `json:"index,omitempty"`
	Values          json.RawMessage `json:"values"`
	SensitiveValues any             `json:"sensitive_values"`
}

// plannedValues are the instances the plan leaves in the state (every
// change but a delete or a forget) with their planned values, and the
// outputs. As in StateJSON, each module instance is one entry of the root
// module's child_modules.
func plannedValues(p *plans.Plan) (*jsonValues, error) {
	out := &jsonValues{RootModule: jsonModuleValues{Resources: []jsonResourceValue{}}}
	changes := slices.Clone(p.Changes)
	slices.SortStableFunc(changes, compareChanges)
	mods := map[string]*jsonModuleValues{}
	for _, c := range changes {
		if c.Action == plans.Delete || c.Action == plans.Forget || isNull(c.After) {
			continue
		}
		addr := changeAddr(c)
		v, err := jsonValue(c.After)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", addr, err)
		}
		sens := shape(c.After, hasSensitive)
		if sens == false {
			sens = map[string]any{}
		}
		rv := jsonResourceValue{Address: addr, Mode: "managed", Type: c.Type, Name: c.Name, Index: jsonIndex(c.Key), Values: v, SensitiveValues: sens}
		if c.Module == "" {
			out.RootModule.Resources = append(out.RootModule.Resources, rv)
			continue
		}
		m := mods[c.Module]
		if m == nil {
			m = &jsonModuleValues{Address: c.Module, Resources: []jsonResourceValue{}}
			mods[c.Module] = m
			out.RootModule.ChildModules = append(out.RootModule.ChildModules, m)
		}
		m.Resources = append(m.Resources, rv)
	}
	sort.Slice(out.RootModule.ChildModules, func(i, j int) bool {
		return out.RootModule.ChildModules[i].Address < out.RootModule.ChildModules[j].Address
	})
	for name, o := range p.Outputs {
		if o.Action == plans.Delete {
			continue
		}
		if out.Outputs == nil {
			out.Outputs = map[string]jsonOutputValue{}
		}
		ov := jsonOutputValue{Sensitive: o.Sensitive || hasSensitiveDeep(o.After)}
		if !ov.Sensitive && o.After.Type() != cty.NilType && o.After.IsWhollyKnown() {
			v, err := jsonValue(o.After)
			if err != nil {
				return nil, fmt.Errorf("output %s: %w", name, err)
			}
			ov.Value = v
		}
		out.Outputs[name] = ov
	}
	return out, nil
}

func hasSensitiveDeep(v cty.Value) bool {
	return v != cty.NilVal && v.HasMarkDeep(sensitive)
}
