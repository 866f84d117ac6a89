package dag_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/graph-network-harness/harness/internal/dag"
)

// generate returns an acyclic graph of n nodes in which each node depends on
// up to three earlier nodes, chosen by a fixed-seed PCG so every run builds
// the same graph.
func generate(n int) *dag.Graph {
	r := rand.New(rand.NewPCG(1, 2))
	names := make([]string, n)
	g := dag.New()
	for i := range n {
		names[i] = fmt.Sprintf("svc-%05d", i)
		g.Add(names[i])
		if i == 0 {
			continue
		}
		for range r.IntN(4) {
			g.AddEdge(names[i], names[r.IntN(i)])
		}
	}
	return g
}

// shuffled is like generate but inserts the nodes in a random order, so that
// insertion order is not already a topological order and ties matter.
func shuffled(n int, seed uint64) *dag.Graph {
	r := rand.New(rand.NewPCG(seed, 7))
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("svc-%05d", i)
	}
	g := dag.New()
	for _, i := range r.Perm(n) {
		g.Add(names[i])
	}
	for i := 1; i < n; i++ {
		for range r.IntN(4) {
			g.AddEdge(names[i], names[r.IntN(i)])
		}
	}
	return g
}

func BenchmarkOrder10k(b *testing.B) {
	g := generate(10_000)
	for b.Loop() {
		if _, err := g.Order(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCycle10k(b *testing.B) {
	g := generate(10_000)
	for b.Loop() {
		if c := g.Cycle(); c != nil {
			b.Fatal(c)
		}
	}
}

func BenchmarkLevels10k(b *testing.B) {
	g := generate(10_000)
	for b.Loop() {
		if _, err := g.Levels(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorSort10k is the floor to compare the others against: sorting
// 10,000 ints.
func BenchmarkFloorSort10k(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]int, 10_000)
	for i := range src {
		src[i] = r.Int()
	}
	ints := make([]int, len(src))
	for b.Loop() {
		copy(ints, src)
		sort.Ints(ints)
	}
}
