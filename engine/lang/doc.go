// Package lang evaluates a loaded configuration: variables (with type
// constraints, validation and sensitivity), locals, hosts, DNS servers,
// resources with count and for_each, module calls and outputs, in the order
// their references require. It returns every resource instance with its
// decoded configuration and the addresses it depends on.
//
// It owns the function table (go-cty's standard library under Terraform's
// names, plus file, templatefile and regex_escape) and sensitive marks. It
// talks to no host and knows resource types only through their schemas in
// the registry.
package lang
