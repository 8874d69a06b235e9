package engine

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/states/statefile"
)

// Graph is a dependency graph for `graph`: an edge from a node to each
// node it waits for.
type Graph struct {
	Nodes []string
	Edges map[string][]string
}

// GraphTypes are the graphs Graph draws.
var GraphTypes = []string{"plan", "apply", "rollback"}

// Graph draws the graph of typ without touching a host: "plan", the
// configuration's dependencies; "apply", the order apply walks them in,
// with the instances only the state has (apply destroys them) as
// "ADDR (destroy)", dependents destroyed first; "rollback", the
// configuration's dependencies the other way round.
func (e *Engine) Graph(ctx context.Context, opts Options, typ string) (*Graph, map[string]*hcl.File, hcl.Diagnostics) {
	opts.ValidateOnly = true
	s, diags := e.Load(opts)
	if diags.HasErrors() {
		return nil, s.Files(), diags
	}
	g := &Graph{Edges: map[string][]string{}}
	for _, addr := range s.Config.Addrs() {
		g.Nodes = append(g.Nodes, addr)
		for _, d := range s.Config.Instances[addr].Deps {
			if typ == "rollback" {
				g.Edges[d] = append(g.Edges[d], addr)
			} else {
				g.Edges[addr] = append(g.Edges[addr], d)
			}
		}
	}
	if typ != "apply" {
		return g, s.Files(), diags
	}
	// The state of the session already loaded: the configuration is not
	// parsed twice, and nothing is locked.
	if d := s.openState(ctx, false); d.HasErrors() {
		return nil, s.Files(), append(diags, d...)
	}
	gone := func(addr string) bool {
		_, inState := s.State.Resources[addr]
		_, inConfig := s.Config.Instances[addr]
		return inState && !inConfig
	}
	for _, addr := range sortedResourceAddrs(s.State) {
		if !gone(addr) {
			continue
		}
		node := addr + " (destroy)"
		g.Nodes = append(g.Nodes, node)
		for _, dep := range s.State.Resources[addr].Deps {
			if gone(dep) {
				dn := dep + " (destroy)"
				g.Edges[dn] = append(g.Edges[dn], node)
			}
		}
	}
	return g, s.Files(), diags
}

// ReadPlanFile reads a plan saved by `plan -out`, for `show`.
func ReadPlanFile(path string) (*plans.File, error) { return plans.ReadFile(path) }

// Pull is the state as mailplan sees it, for `state pull`: the file with
// the journal of an unfinished apply replayed.
func (s *Session) Pull() ([]byte, error) { return statefile.Encode(s.State) }

// StatePush replaces the state with data, for `state push`: it must be a
// valid state file, and of the same lineage and a newer serial unless
// force. It returns the pushed lineage and resource count.
func (e *Engine) StatePush(ctx context.Context, opts Options, data []byte, force bool) (lineage string, n int, diags hcl.Diagnostics) {
	s, diags := e.OpenState(ctx, opts, true)
	if diags.HasErrors() {
		return "", 0, diags
	}
	defer s.Close()
	ns, err := statefile.Decode(data)
	if err != nil {
		return "", 0, errorDiag("Invalid state file", err.Error())
	}
	if err := s.Backend.Push(ctx, ns, force); err != nil {
		return "", 0, errorDiag("State push refused", err.Error())
	}
	return ns.Lineage, len(ns.Resources), nil
}

// StateRemove forgets the given resource instances, for `state rm`:
// nothing on a host changes. It removes all or, when one is not in the
// state, none.
func (e *Engine) StateRemove(ctx context.Context, opts Options, addrs []string) hcl.Diagnostics {
	s, diags := e.OpenState(ctx, opts, true)
	if diags.HasErrors() {
		return diags
	}
	defer s.Close()
	for _, a := range addrs {
		if _, ok := s.State.Resources[a]; !ok {
			return errorDiag("No such resource", fmt.Sprintf("The state has no resource %s; nothing was removed.", a))
		}
	}
	for _, a := range addrs {
		delete(s.State.Resources, a)
	}
	if err := s.Backend.Write(ctx, s.State); err != nil {
		return errorDiag("Cannot write the state", err.Error())
	}
	return nil
}

// firstSummary is the first error's summary and detail, for a hint.
func firstSummary(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			if d.Detail != "" {
				return d.Summary + ": " + d.Detail
			}
			return d.Summary
		}
	}
	return ""
}
