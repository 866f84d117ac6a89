package dag

import "slices"

// Graph is a dependency graph whose nodes keep their insertion order.
// Create one with New.
type Graph struct {
	names []string
	index map[string]int
	// deps[i] lists the nodes that node i depends on, in the order the
	// edges were added; rdeps[i] lists the nodes that depend on node i, in
	// the same order.
	deps  [][]int
	rdeps [][]int
	edges map[edge]struct{}
}

type edge struct{ from, to int }

// New returns an empty graph.
func New() *Graph {
	return &Graph{
		index: make(map[string]int),
		edges: make(map[edge]struct{}),
	}
}

// Add adds the node name if it is absent. A node that is already present
// keeps its first insertion index.
func (g *Graph) Add(name string) {
	g.add(name)
}

func (g *Graph) add(name string) int {
	if i, ok := g.index[name]; ok {
		return i
	}
	i := len(g.names)
	g.index[name] = i
	g.names = append(g.names, name)
	g.deps = append(g.deps, nil)
	g.rdeps = append(g.rdeps, nil)
	return i
}

// AddEdge records that from depends on to, adding either node if it is
// absent. A duplicate edge is ignored; an edge from a node to itself is a
// cycle of length one.
func (g *Graph) AddEdge(from, to string) {
	f, t := g.add(from), g.add(to)
	e := edge{f, t}
	if _, ok := g.edges[e]; ok {
		return
	}
	g.edges[e] = struct{}{}
	g.deps[f] = append(g.deps[f], t)
	g.rdeps[t] = append(g.rdeps[t], f)
}

// Len returns the number of nodes.
func (g *Graph) Len() int { return len(g.names) }

// Nodes returns the node names in insertion order.
func (g *Graph) Nodes() []string { return slices.Clone(g.names) }

// DependenciesOf returns the direct dependencies of name in the order their
// edges were added, or nil if name has none or is not in the graph.
func (g *Graph) DependenciesOf(name string) []string {
	i, ok := g.index[name]
	if !ok {
		return nil
	}
	return g.namesOf(g.deps[i])
}

// Dependents returns every node that depends on any of names, directly or
// transitively, excluding names themselves. The result is in Order order, or
// in insertion order if the graph is cyclic; it is nil if there are none.
// Names that are not in the graph are ignored.
func (g *Graph) Dependents(names ...string) []string {
	return g.ordered(g.reach(g.rdeps, names))
}

// Dependencies returns every node that any of names depends on, directly or
// transitively, excluding names themselves. The result is ordered as for
// Dependents.
func (g *Graph) Dependencies(names ...string) []string {
	return g.ordered(g.reach(g.deps, names))
}

// Subgraph returns a new graph holding the named nodes and all of their
// transitive dependencies, with the edges between them, in the original
// insertion order: what must run to start names. Names that are not in the
// graph are ignored.
func (g *Graph) Subgraph(names ...string) *Graph {
	keep := g.reach(g.deps, names)
	for _, name := range names {
		if i, ok := g.index[name]; ok {
			keep[i] = true
		}
	}
	sub := New()
	for i, name := range g.names {
		if keep[i] {
			sub.add(name)
		}
	}
	// keep is closed under dependencies, so every edge out of a kept node
	// ends at a kept node.
	for i, name := range g.names {
		if !keep[i] {
			continue
		}
		for _, d := range g.deps[i] {
			sub.AddEdge(name, g.names[d])
		}
	}
	return sub
}

// reach marks every node reachable from names along adj, not counting the
// starting nodes unless a path leads back to them.
func (g *Graph) reach(adj [][]int, names []string) []bool {
	seen := make([]bool, len(g.names))
	var stack []int
	for _, name := range names {
		if i, ok := g.index[name]; ok {
			stack = append(stack, i)
		}
	}
	start := slices.Clone(stack)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range adj[i] {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	for _, i := range start {
		seen[i] = false
	}
	return seen
}

// ordered returns the marked nodes in Order order, or in insertion order if
// the graph is cyclic.
func (g *Graph) ordered(marked []bool) []string {
	order, err := g.order()
	if err != nil {
		order = make([]int, len(g.names))
		for i := range order {
			order[i] = i
		}
	}
	var out []string
	for _, i := range order {
		if marked[i] {
			out = append(out, g.names[i])
		}
	}
	return out
}

func (g *Graph) namesOf(idx []int) []string {
	if len(idx) == 0 {
		return nil
	}
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = g.names[i]
	}
	return out
}
