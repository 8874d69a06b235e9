package dag

import (
	"cmp"
	"container/heap"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Graph is a directed graph whose edges mean "depends on". The zero value is
// not ready for use; call New.
type Graph[K cmp.Ordered] struct {
	// deps[k] is the set of nodes k depends on; rdeps[k] the set of nodes
	// that depend on k. Every node has an entry in both.
	deps  map[K]map[K]struct{}
	rdeps map[K]map[K]struct{}
}

// New returns an empty graph.
func New[K cmp.Ordered]() *Graph[K] {
	return &Graph[K]{deps: map[K]map[K]struct{}{}, rdeps: map[K]map[K]struct{}{}}
}

// Add adds the node k; adding a node twice is a no-op.
func (g *Graph[K]) Add(k K) {
	if _, ok := g.deps[k]; ok {
		return
	}
	g.deps[k] = map[K]struct{}{}
	g.rdeps[k] = map[K]struct{}{}
}

// Connect records that from depends on to, adding either node if missing.
// from == to makes a self-loop, which Cycles reports.
func (g *Graph[K]) Connect(from, to K) {
	g.Add(from)
	g.Add(to)
	g.deps[from][to] = struct{}{}
	g.rdeps[to][from] = struct{}{}
}

// Has reports whether k is a node of the graph.
func (g *Graph[K]) Has(k K) bool {
	_, ok := g.deps[k]
	return ok
}

// HasEdge reports whether from depends directly on to.
func (g *Graph[K]) HasEdge(from, to K) bool {
	_, ok := g.deps[from][to]
	return ok
}

// Nodes returns every node, sorted.
func (g *Graph[K]) Nodes() []K { return sortedKeys(g.deps) }

// Deps returns the nodes k depends on directly, sorted; nil when k has none
// or is not in the graph.
func (g *Graph[K]) Deps(k K) []K { return sortedKeys(g.deps[k]) }

// Ancestors returns every node k depends on, directly or transitively,
// sorted. k itself is not included, even when it lies on a cycle.
func (g *Graph[K]) Ancestors(k K) []K { return reach(g.deps, k) }

// Descendants returns every node that depends on k, directly or
// transitively, sorted. k itself is not included.
func (g *Graph[K]) Descendants(k K) []K { return reach(g.rdeps, k) }

func reach[K cmp.Ordered](adj map[K]map[K]struct{}, k K) []K {
	seen := map[K]struct{}{k: {}}
	stack := []K{k}
	var out []K
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for m := range adj[n] {
			if _, ok := seen[m]; ok {
				continue
			}
			seen[m] = struct{}{}
			out = append(out, m)
			stack = append(stack, m)
		}
	}
	slices.Sort(out)
	return out
}

// Cycles returns every strongly connected component of more than one node,
// and every node that depends on itself, as a list of components. Each
// component is sorted, and the components are sorted by their first node.
// A graph without cycles returns nil.
func (g *Graph[K]) Cycles() [][]K {
	// Tarjan's algorithm, iterative so that long chains cannot overflow the
	// goroutine stack. Nodes and successors are visited in sorted order only
	// to keep the work reproducible; the result is sorted afterwards anyway.
	type frame struct {
		node K
		succ []K
		next int
	}
	index := map[K]int{}
	low := map[K]int{}
	onStack := map[K]bool{}
	var stack []K
	var out [][]K
	n := 0
	for _, root := range g.Nodes() {
		if _, ok := index[root]; ok {
			continue
		}
		index[root], low[root] = n, n
		n++
		stack = append(stack, root)
		onStack[root] = true
		call := []frame{{node: root, succ: g.Deps(root)}}
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.next < len(f.succ) {
				w := f.succ[f.next]
				f.next++
				if _, ok := index[w]; !ok {
					index[w], low[w] = n, n
					n++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{node: w, succ: g.Deps(w)})
				} else if onStack[w] {
					low[f.node] = min(low[f.node], index[w])
				}
				continue
			}
			v := f.node
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].node
				low[p] = min(low[p], low[v])
			}
			if low[v] != index[v] {
				continue
			}
			var comp []K
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 || g.HasEdge(v, v) {
				slices.Sort(comp)
				out = append(out, comp)
			}
		}
	}
	slices.SortFunc(out, func(a, b []K) int { return cmp.Compare(a[0], b[0]) })
	return out
}

// CycleFrom returns a shortest cycle through k: the nodes on it, starting
// with k, each depending on the next and the last on k. Among cycles of the
// same length it takes the one through the smallest dependencies. It
// returns nil when k lies on no cycle, and just k when k depends on
// itself. A message that must show how a component of Cycles loops
// follows CycleFrom of its first node.
func (g *Graph[K]) CycleFrom(k K) []K {
	if g.HasEdge(k, k) {
		return []K{k}
	}
	// Breadth first from k along "depends on" edges, until an edge leads
	// back to k.
	parent := map[K]K{}
	queue := []K{k}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, d := range g.Deps(n) {
			if d == k {
				var out []K
				for m := n; m != k; m = parent[m] {
					out = append(out, m)
				}
				out = append(out, k)
				slices.Reverse(out)
				return out
			}
			if _, ok := parent[d]; !ok {
				parent[d] = n
				queue = append(queue, d)
			}
		}
	}
	return nil
}

// CycleError is returned when an order is asked of a graph with cycles.
type CycleError[K cmp.Ordered] struct {
	// Cycles is what Graph.Cycles returned.
	Cycles [][]K
}

func (e *CycleError[K]) Error() string {
	parts := make([]string, len(e.Cycles))
	for i, c := range e.Cycles {
		names := make([]string, len(c))
		for j, k := range c {
			names[j] = fmt.Sprint(k)
		}
		if len(c) == 1 {
			parts[i] = names[0] + " depends on itself"
		} else {
			parts[i] = strings.Join(names, ", ")
		}
	}
	return "dependency cycle: " + strings.Join(parts, "; ")
}

// TopoOrder returns every node after all the nodes it depends on. Among the
// nodes that are ready at the same time the smallest comes first, so the
// order is the same on every run. A graph with cycles returns a
// *CycleError.
func (g *Graph[K]) TopoOrder() ([]K, error) {
	if c := g.Cycles(); c != nil {
		return nil, &CycleError[K]{Cycles: c}
	}
	waiting := make(map[K]int, len(g.deps))
	ready := &minHeap[K]{}
	for k, d := range g.deps {
		waiting[k] = len(d)
		if len(d) == 0 {
			ready.push(k)
		}
	}
	out := make([]K, 0, len(g.deps))
	for ready.Len() > 0 {
		k := ready.pop()
		out = append(out, k)
		for n := range g.rdeps[k] {
			waiting[n]--
			if waiting[n] == 0 {
				ready.push(n)
			}
		}
	}
	return out, nil
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}

// minHeap is a priority queue of keys, smallest first.
type minHeap[K cmp.Ordered] []K

func (h minHeap[K]) Len() int           { return len(h) }
func (h minHeap[K]) Less(i, j int) bool { return h[i] < h[j] }
func (h minHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap[K]) Push(x any)        { *h = append(*h, x.(K)) }
func (h *minHeap[K]) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
func (h *minHeap[K]) push(k K) { heap.Push(h, k) }
func (h *minHeap[K]) pop() K   { return heap.Pop(h).(K) }
