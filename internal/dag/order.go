package dag

import "slices"

// Order returns the nodes in a stable topological order, dependencies first.
// Among nodes that are ready at the same time, the one inserted first comes
// first. If the graph has a cycle, Order returns a *CycleError.
func (g *Graph) Order() ([]string, error) {
	order, err := g.order()
	if err != nil {
		return nil, err
	}
	return g.namesOf(order), nil
}

// ReverseOrder returns exactly the reverse of Order: dependents first, the
// order in which to stop a stack.
func (g *Graph) ReverseOrder() ([]string, error) {
	order, err := g.Order()
	slices.Reverse(order)
	return order, err
}

// Levels groups the nodes by depth: level 0 holds the nodes without
// dependencies, and a node's level is one more than the highest level of its
// dependencies. Each level is in insertion order. If the graph has a cycle,
// Levels returns a *CycleError.
func (g *Graph) Levels() ([][]string, error) {
	order, err := g.order()
	if err != nil {
		return nil, err
	}
	level := make([]int, len(g.names))
	depth := 0
	for _, i := range order {
		l := 0
		for _, d := range g.deps[i] {
			l = max(l, level[d]+1)
		}
		level[i] = l
		depth = max(depth, l+1)
	}
	levels := make([][]string, depth)
	for i, name := range g.names {
		levels[level[i]] = append(levels[level[i]], name)
	}
	return levels, nil
}

// order is Kahn's algorithm with a min-heap on insertion index, so that the
// first-inserted ready node always goes next.
func (g *Graph) order() ([]int, error) {
	n := len(g.names)
	pending := make([]int, n)
	ready := make(indexHeap, 0, n)
	for i := range n {
		pending[i] = len(g.deps[i])
		if pending[i] == 0 {
			ready.push(i)
		}
	}
	order := make([]int, 0, n)
	for len(ready) > 0 {
		i := ready.pop()
		order = append(order, i)
		for _, d := range g.rdeps[i] {
			pending[d]--
			if pending[d] == 0 {
				ready.push(d)
			}
		}
	}
	if len(order) < n {
		return nil, &CycleError{Path: g.Cycle()}
	}
	return order, nil
}

// indexHeap is a binary min-heap of node indexes. It is written out rather
// than built on container/heap to avoid an interface call per comparison on
// large graphs.
type indexHeap []int

func (h *indexHeap) push(i int) {
	s := append(*h, i)
	j := len(s) - 1
	for j > 0 {
		p := (j - 1) / 2
		if s[p] <= i {
			break
		}
		s[j] = s[p]
		j = p
	}
	s[j] = i
	*h = s
}

// pop removes and returns the smallest index. It moves a hole down instead
// of swapping, which halves the writes on the hot path of Order.
func (h *indexHeap) pop() int {
	s := *h
	top := s[0]
	last := s[len(s)-1]
	s = s[:len(s)-1]
	n := len(s)
	j := 0
	for {
		m := 2*j + 1
		if m >= n {
			break
		}
		if r := m + 1; r < n && s[r] < s[m] {
			m = r
		}
		if last <= s[m] {
			break
		}
		s[j] = s[m]
		j = m
	}
	if n > 0 {
		s[j] = last
	}
	*h = s
	return top
}
