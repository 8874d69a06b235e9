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
		{"dependents", g.Dependents("db"), []string{"app"}},
		{"ancestors", g.Ancestors("web"), []string{"app", "cfg", "db", "disk"}},
		{"descendants", g.Descendants("disk"), []string{"app", "db", "web"}},
		{"descendants of root", g.Descendants("web"), []string(nil)},
		{"edges", g.Edges(), []Edge[string]{{"app", "cfg"}, {"app", "db"}, {"db", "disk"}, {"web", "app"}}},
		{"len", g.Len(), 6},
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

func TestGraphEdit(t *testing.T) {
	g := build("a>b", "b>c", "a>c")
	g.Remove("b")
	g.Disconnect("a", "c")
	g.Connect("c", "a")
	if diff := cmp.Diff([]Edge[string]{{"c", "a"}}, g.Edges()); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "c"}, g.Nodes()); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
}

func TestSubgraphCloneReverse(t *testing.T) {
	g := build("app>db", "db>disk", "web>app", "x>disk")
	// -target app: app and everything it needs.
	keep := map[string]bool{"app": true}
	for _, k := range g.Ancestors("app") {
		keep[k] = true
	}
	sub := g.Subgraph(func(k string) bool { return keep[k] })
	if diff := cmp.Diff([]Edge[string]{{"app", "db"}, {"db", "disk"}}, sub.Edges()); diff != "" {
		t.Errorf("subgraph (-want +got):\n%s", diff)
	}
	c := g.Clone()
	c.Remove("web")
	if !g.Has("web") {
		t.Error("Clone shares state with the original")
	}
	r := g.Reverse()
	want := []Edge[string]{{"app", "web"}, {"db", "app"}, {"disk", "db"}, {"disk", "x"}}
	if diff := cmp.Diff(want, r.Edges()); diff != "" {
		t.Errorf("reverse (-want +got):\n%s", diff)
	}
}

func TestCyclesAndOrders(t *testing.T) {
	tests := []struct {
		name    string
		g       *Graph[string]
		cycles  [][]string
		topo    []string
		reverse []string
	}{
		{
			name: "empty",
			g:    build(),
			topo: []string{}, reverse: []string{},
		},
		{
			name:    "smallest ready first",
			g:       build("z", "m>c", "m>b", "a>m", "b"),
			topo:    []string{"b", "c", "m", "a", "z"},
			reverse: []string{"a", "m", "b", "c", "z"},
		},
		{
			name:    "diamond",
			g:       build("top>l", "top>r", "l>bottom", "r>bottom"),
			topo:    []string{"bottom", "l", "r", "top"},
			reverse: []string{"top", "l", "r", "bottom"},
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
			rev, rerr := tt.g.ReverseTopoOrder()
			if tt.cycles != nil {
				var ce *CycleError[string]
				if !errors.As(err, &ce) || !errors.As(rerr, &ce) {
					t.Fatalf("orders: errors %v, %v; want *CycleError", err, rerr)
				}
				if diff := cmp.Diff(tt.cycles, ce.Cycles); diff != "" {
					t.Errorf("CycleError.Cycles (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil || rerr != nil {
				t.Fatalf("orders: %v, %v", err, rerr)
			}
			if diff := cmp.Diff(tt.topo, topo); diff != "" {
				t.Errorf("TopoOrder (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.reverse, rev); diff != "" {
				t.Errorf("ReverseTopoOrder (-want +got):\n%s", diff)
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

func TestDOT(t *testing.T) {
	g := build("file.b>file.a", `odd"name`, "file.c")
	got := g.DOT(func(k string) string { return k })
	want := `digraph {
	"file.a"
	"file.b"
	"file.c"
	"odd\"name"
	"file.b" -> "file.a"
}
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DOT (-want +got):\n%s", diff)
	}
}
