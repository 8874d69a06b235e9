package dag

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// build makes a graph from "a>b" edges (a depends on b) and lone nodes "c".
func build(spec ...string) *Graph[string] {
	g := New[string]()
	for _, s := range spec {
		from, to, ok := cut(s)
		if !ok {
			g.Add(s)
			continue
		}
		g.Connect(from, to)
	}
	return g
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '>' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestGraphQueries(t *testing.T) {
	g := build("app>db", "app>cfg", "db>disk", "web>app", "lone")
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"nodes", g.Nodes(), []string{"app", "cfg", "db", "disk", "lone", "web"}},
		{"deps", g.Deps("app"), []string{"cfg", "db"}},
		{"deps of leaf", g.Deps("disk"), []string(nil)},
		{"deps of missing", g.Deps("nope"), []string(nil)},
		{"ancestors", g.Ancestors("web"), []string{"app", "cfg", "db", "disk"}},
		{"descendants", g.Descendants("disk"), []string{"app", "db", "web"}},
		{"descendants of root", g.Descendants("web"), []string(nil)},
		{"has", g.Has("lone"), true},
		{"has edge", g.HasEdge("web", "app"), true},
		{"no reverse edge", g.HasEdge("app", "web"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCyclesAndOrders(t *testing.T) {
	tests := []struct {
		name   string
		g      *Graph[string]
		cycles [][]string
		topo   []string
	}{
		{
			name: "empty",
			g:    build(),
			topo: []string{},
		},
		{
			name: "smallest ready first",
			g:    build("z", "m>c", "m>b", "a>m", "b"),
			topo: []string{"b", "c", "m", "a", "z"},
		},
		{
			name: "diamond",
			g:    build("top>l", "top>r", "l>bottom", "r>bottom"),
			topo: []string{"bottom", "l", "r", "top"},
		},
		{
			name:   "self loop",
			g:      build("a>a", "b>a"),
			cycles: [][]string{{"a"}},
		},
		{
			name:   "two components and a tail",
			g:      build("x>y", "y>z", "z>x", "b>a", "a>b", "tail>a", "z>c"),
			cycles: [][]string{{"a", "b"}, {"x", "y", "z"}},
		},
		{
			name:   "nested loops are one component",
			g:      build("a>b", "b>c", "c>a", "b>a", "c>d"),
			cycles: [][]string{{"a", "b", "c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.cycles, tt.g.Cycles()); diff != "" {
				t.Errorf("Cycles (-want +got):\n%s", diff)
			}
			topo, err := tt.g.TopoOrder()
			if tt.cycles != nil {
				var ce *CycleError[string]
				if !errors.As(err, &ce) {
					t.Fatalf("TopoOrder: error %v; want *CycleError", err)
				}
				if diff := cmp.Diff(tt.cycles, ce.Cycles); diff != "" {
					t.Errorf("CycleError.Cycles (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("TopoOrder: %v", err)
			}
			if diff := cmp.Diff(tt.topo, topo); diff != "" {
				t.Errorf("TopoOrder (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCycleFrom(t *testing.T) {
	tests := []struct {
		name string
		g    *Graph[string]
		from string
		want []string
	}{
		{"two nodes", build("a>b", "b>a"), "a", []string{"a", "b"}},
		{"follows the edges, not the sort", build("a>c", "c>b", "b>a"), "a", []string{"a", "c", "b"}},
		{"shortest of two loops", build("a>b", "b>c", "c>a", "b>a"), "a", []string{"a", "b"}},
		{"smallest dependency on a tie", build("a>c", "a>b", "b>a", "c>a"), "a", []string{"a", "b"}},
		{"self loop", build("a>a", "a>b", "b>a"), "a", []string{"a"}},
		{"on no cycle", build("t>a", "a>b", "b>a"), "t", nil},
		{"missing", build("a>b"), "x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.g.CycleFrom(tt.from)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCycleErrorMessage(t *testing.T) {
	_, err := build("a>a", "b>c", "c>b").TopoOrder()
	want := "dependency cycle: a depends on itself; b, c"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestCyclesLongChain(t *testing.T) {
	// Deep enough that a recursive Tarjan would be a risk in production
	// graphs of generated resources; the iterative one must not care.
	g := New[int]()
	const n = 200000
	for i := 1; i < n; i++ {
		g.Connect(i, i-1)
	}
	g.Connect(0, n-1)
	c := g.Cycles()
	if len(c) != 1 || len(c[0]) != n {
		t.Fatalf("got %d components, want one of %d nodes", len(c), n)
	}
}
