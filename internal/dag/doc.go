// Package dag is the dependency graph of a service stack: it orders services
// for starting and stopping, reports dependency cycles, and walks the graph in
// parallel.
//
// Nodes are named by strings and remember their insertion order, which is the
// order of the services in services.yaml. An edge from a to b means "a depends
// on b": b must start before a, and a must stop before b.
//
// Invariants:
//
//   - Every result is deterministic. Where the graph leaves a choice open, the
//     node inserted first wins: Order is Kahn's algorithm with a min-heap on
//     insertion index, Levels lists each level in insertion order, and Cycle
//     reports the cycle a depth-first search meets first when it scans nodes in
//     insertion order and follows edges in the order they were added. YAML
//     order therefore breaks every tie, and a plan rendered twice is identical.
//   - Edges are a set: adding one twice keeps the first. A self-edge is a
//     cycle of length one.
//   - Nothing recurses over the graph, so a 10,000-node chain is as safe as a
//     three-node stack.
//
// Concurrency: a Graph is not safe for concurrent mutation. Build it in one
// goroutine; once it is built and no longer changed, any number of goroutines
// may read it (Order, Cycle, Walk, ...) at the same time. Walk is safe to call
// concurrently; it owns every goroutine it starts and returns only after all
// of them have returned.
package dag
