// Package lang evaluates a loaded configuration. Evaluate takes the root
// configs.Module, the registry and the root variables' values (a string
// from -var or the environment is parsed with ParseVariableValue), and
// evaluates
// every module instance's variables (type constraints, validation,
// sensitivity), locals, hosts, DNS servers, resources with count and
// for_each, module calls and outputs. Within a module the blocks form an
// engine/dag graph of their references, evaluated in its topological order;
// a cycle, a reference to something undeclared and a self-reference are
// diagnostics. The Result holds every resource instance by address with its
// configuration decoded to the type's schema (defaults applied, sensitive
// parts marked), its hooks and lifecycle settings, and the addresses it
// depends on; the outputs; and every moved and removed block, checked
// against what the configuration still declares.
//
// It owns the function table (Functions: go-cty's standard library under
// Terraform's names, plus file, fileexists, templatefile, regex_escape,
// can and try), the Sensitive mark (IsSensitive, StripSensitive), the
// limits on instance counts (MaxInstances, MaxTotalInstances), and
// AttrDiagnostics, which points a resource type's AttrError at the
// attribute's source. It calls a type's Validator, but talks to no host and
// knows resource types only through the registry.
package lang
