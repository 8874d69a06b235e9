package render

import (
	"bytes"
	"io"
	"maps"
	"slices"
	"strings"
)

// DOT writes a dependency graph in Graphviz's language, as `terraform
// graph` does: edges[n] lists what n depends on, and each edge points from
// the dependent to its dependency, laid out right to left. Nodes that
// appear only in edges are included. The output is sorted, so the same
// graph always prints the same way.
func DOT(w io.Writer, nodes []string, edges map[string][]string) error {
	all := map[string]bool{}
	for _, n := range nodes {
		all[n] = true
	}
	for from, tos := range edges {
		all[from] = true
		for _, to := range tos {
			all[to] = true
		}
	}
	var buf bytes.Buffer
	buf.WriteString("digraph mailplan {\n\trankdir = \"RL\"\n")
	for _, n := range slices.Sorted(maps.Keys(all)) {
		buf.WriteString("\t" + dotID(n) + "\n")
	}
	for _, from := range slices.Sorted(maps.Keys(edges)) {
		tos := slices.Clone(edges[from])
		slices.Sort(tos)
		for _, to := range slices.Compact(tos) {
			buf.WriteString("\t" + dotID(from) + " -> " + dotID(to) + "\n")
		}
	}
	buf.WriteString("}\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// dotID quotes a node name as a DOT string.
func dotID(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
