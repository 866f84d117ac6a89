package dag_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/dag"
)

func TestCycle(t *testing.T) {
	tests := []struct {
		name string
		g    *dag.Graph
		want []string
	}{
		{
			name: "empty",
			g:    dag.New(),
			want: nil,
		},
		{
			name: "acyclic",
			g:    stack(t),
			want: nil,
		},
		{
			name: "acyclic diamond is not a cycle",
			g:    build(t, nil, "app>left", "app>right", "left>base", "right>base"),
			want: nil,
		},
		{
			name: "1-cycle",
			g:    build(t, []string{"x", "a"}, "a>a"),
			want: []string{"a", "a"},
		},
		{
			name: "2-cycle",
			g:    build(t, nil, "a>b", "b>a"),
			want: []string{"a", "b", "a"},
		},
		{
			name: "3-cycle",
			g:    build(t, nil, "a>b", "b>c", "c>a"),
			want: []string{"a", "b", "c", "a"},
		},
		{
			name: "3-cycle entered from its second node",
			g:    build(t, []string{"b", "c", "a"}, "a>b", "b>c", "c>a"),
			want: []string{"b", "c", "a", "b"},
		},
		{
			name: "cycle reached from the first node does not include it",
			g:    build(t, []string{"web", "api", "db"}, "web>api", "api>db", "db>api"),
			want: []string{"api", "db", "api"},
		},
		{
			name: "cycle among later nodes only",
			g:    build(t, []string{"web", "db", "x", "y", "z"}, "web>db", "x>y", "y>z", "z>x"),
			want: []string{"x", "y", "z", "x"},
		},
		{
			name: "first cycle in edge order wins",
			g:    build(t, []string{"a", "b", "c"}, "a>c", "a>b", "b>a", "c>a"),
			want: []string{"a", "c", "a"},
		},
		{
			name: "first node in insertion order wins",
			g:    build(t, []string{"p", "q", "a", "b"}, "a>b", "b>a", "p>q", "q>p"),
			want: []string{"p", "q", "p"},
		},
		{
			name: "finished subtrees are not revisited as cycles",
			g:    build(t, []string{"a", "b", "c", "d"}, "a>c", "b>c", "b>d", "d>b"),
			want: []string{"b", "d", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.g.Cycle()); diff != "" {
				t.Errorf("Cycle() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCycleErrorMessage(t *testing.T) {
	err := &dag.CycleError{Path: []string{"a", "b", "c", "a"}}
	if diff := cmp.Diff("dependency cycle: a → b → c → a", err.Error()); diff != "" {
		t.Errorf("Error() mismatch (-want +got):\n%s", diff)
	}
}

// TestLongChain checks that nothing recurses: a 100,000-node chain closed
// into a cycle is reported, and ordered once it is open.
func TestLongChain(t *testing.T) {
	const n = 100_000
	name := func(i int) string { return fmt.Sprintf("n%06d", i) }
	g := dag.New()
	for i := range n - 1 {
		g.AddEdge(name(i), name(i+1))
	}
	order, err := g.Order()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{name(n - 1), name(0)}, []string{order[0], order[n-1]}); diff != "" {
		t.Errorf("Order() ends mismatch (-want +got):\n%s", diff)
	}
	levels, err := g.Levels()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(n, len(levels)); diff != "" {
		t.Errorf("len(Levels()) mismatch (-want +got):\n%s", diff)
	}

	g.AddEdge(name(n-1), name(0))
	cycle := g.Cycle()
	if diff := cmp.Diff(n+1, len(cycle)); diff != "" {
		t.Fatalf("len(Cycle()) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{name(0), name(1), name(0)}, []string{cycle[0], cycle[1], cycle[n]}); diff != "" {
		t.Errorf("Cycle() mismatch (-want +got):\n%s", diff)
	}
}
