package dag

import "strings"

// CycleError reports a dependency cycle.
type CycleError struct {
	// Path is the cycle as a path that starts and ends with the same node,
	// each node depending on the next: [a b c a].
	Path []string
}

// Error renders the cycle as "dependency cycle: a → b → c → a".
func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Path, " → ")
}

// Cycle returns nil if the graph is acyclic, and otherwise one cycle as a
// path that starts and ends with the same node, e.g. [a b c a]. The cycle is
// the first one that a depth-first search meets when it scans nodes in
// insertion order and follows edges in the order they were added, so the
// report is the same on every run.
func (g *Graph) Cycle() []string {
	const (
		unseen uint8 = iota
		onPath
		done
	)
	type frame struct{ node, next int }
	n := len(g.names)
	state := make([]uint8, n)
	// depth[i] is node i's position on the stack while it is onPath.
	depth := make([]int, n)
	var stack []frame
	for root := range n {
		if state[root] != unseen {
			continue
		}
		state[root] = onPath
		depth[root] = 0
		stack = append(stack[:0], frame{node: root})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			deps := g.deps[top.node]
			if top.next == len(deps) {
				state[top.node] = done
				stack = stack[:len(stack)-1]
				continue
			}
			d := deps[top.next]
			top.next++
			switch state[d] {
			case unseen:
				state[d] = onPath
				depth[d] = len(stack)
				stack = append(stack, frame{node: d})
			case onPath:
				path := make([]string, 0, len(stack)-depth[d]+1)
				for _, f := range stack[depth[d]:] {
					path = append(path, g.names[f.node])
				}
				return append(path, g.names[d])
			}
		}
	}
	return nil
}
