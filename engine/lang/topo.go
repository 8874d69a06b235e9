package lang

import "sort"

// topo orders the nodes so that every node comes after the nodes it refers
// to, smallest key first among equals. It also returns each cycle found, as
// the keys on it in order.
func topo[N any](nodes map[nodeKey]N, edges map[nodeKey][]nodeKey) ([]nodeKey, [][]nodeKey) {
	keys := make([]nodeKey, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	const (
		white = iota
		grey
		black
	)
	color := map[nodeKey]int{}
	var order []nodeKey
	var cycles [][]nodeKey
	var stack []nodeKey
	var visit func(k nodeKey)
	visit = func(k nodeKey) {
		color[k] = grey
		stack = append(stack, k)
		deps := append([]nodeKey(nil), edges[k]...)
		sort.Slice(deps, func(i, j int) bool { return deps[i] < deps[j] })
		for _, d := range deps {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				// d is on the stack: the cycle is from d to k.
				for i := len(stack) - 1; i >= 0; i-- {
					if stack[i] == d {
						cyc := append([]nodeKey(nil), stack[i:]...)
						cycles = append(cycles, cyc)
						break
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[k] = black
		order = append(order, k)
	}
	for _, k := range keys {
		if color[k] == white {
			visit(k)
		}
	}
	return order, cycles
}
