package dag_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/dag"
)

func TestOrder(t *testing.T) {
	tests := []struct {
		name        string
		g           *dag.Graph
		wantOrder   []string
		wantReverse []string
		wantLevels  [][]string
	}{
		{
			name:        "empty",
			g:           dag.New(),
			wantOrder:   nil,
			wantReverse: nil,
			wantLevels:  [][]string{},
		},
		{
			name:        "no edges keeps insertion order",
			g:           build(t, []string{"c", "a", "b"}),
			wantOrder:   []string{"c", "a", "b"},
			wantReverse: []string{"b", "a", "c"},
			wantLevels:  [][]string{{"c", "a", "b"}},
		},
		{
			name:        "chain",
			g:           build(t, []string{"a", "b", "c"}, "a>b", "b>c"),
			wantOrder:   []string{"c", "b", "a"},
			wantReverse: []string{"a", "b", "c"},
			wantLevels:  [][]string{{"c"}, {"b"}, {"a"}},
		},
		{
			// Ready at start: db (3), cache (4). db releases nothing alone
			// (api also needs cache); cache then releases api (1) and
			// worker (2); api goes before worker and releases web (0),
			// which then goes before worker.
			name:        "stack: lowest ready index first",
			g:           stack(t),
			wantOrder:   []string{"db", "cache", "api", "web", "worker"},
			wantReverse: []string{"worker", "web", "api", "cache", "db"},
			wantLevels:  [][]string{{"db", "cache"}, {"api", "worker"}, {"web"}},
		},
		{
			// Kahn with a FIFO queue would give b c x a; the min-heap puts
			// a as soon as it is ready, ahead of the older-but-later x.
			name:        "newly ready node with lower index overtakes",
			g:           build(t, []string{"a", "b", "x", "c"}, "a>b"),
			wantOrder:   []string{"b", "a", "x", "c"},
			wantReverse: []string{"c", "x", "a", "b"},
			wantLevels:  [][]string{{"b", "x", "c"}, {"a"}},
		},
		{
			name:        "level is one more than the deepest dependency",
			g:           build(t, []string{"top", "mid", "low", "base"}, "top>base", "top>mid", "mid>low", "low>base"),
			wantOrder:   []string{"base", "low", "mid", "top"},
			wantReverse: []string{"top", "mid", "low", "base"},
			wantLevels:  [][]string{{"base"}, {"low"}, {"mid"}, {"top"}},
		},
		{
			name:        "diamond",
			g:           build(t, []string{"app", "left", "right", "base"}, "app>left", "app>right", "left>base", "right>base"),
			wantOrder:   []string{"base", "left", "right", "app"},
			wantReverse: []string{"app", "right", "left", "base"},
			wantLevels:  [][]string{{"base"}, {"left", "right"}, {"app"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order, err := tt.g.Order()
			if err != nil {
				t.Fatalf("Order() error: %v", err)
			}
			if diff := cmp.Diff(tt.wantOrder, order); diff != "" {
				t.Errorf("Order() mismatch (-want +got):\n%s", diff)
			}
			reverse, err := tt.g.ReverseOrder()
			if err != nil {
				t.Fatalf("ReverseOrder() error: %v", err)
			}
			if diff := cmp.Diff(tt.wantReverse, reverse); diff != "" {
				t.Errorf("ReverseOrder() mismatch (-want +got):\n%s", diff)
			}
			levels, err := tt.g.Levels()
			if err != nil {
				t.Fatalf("Levels() error: %v", err)
			}
			if diff := cmp.Diff(tt.wantLevels, levels); diff != "" {
				t.Errorf("Levels() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOrderRespectsEdges checks the order invariant on the generated graph
// the benchmarks use.
func TestOrderRespectsEdges(t *testing.T) {
	g := shuffled(2000, 1)
	order, err := g.Order()
	if err != nil {
		t.Fatal(err)
	}
	pos := make(map[string]int)
	for i, name := range order {
		pos[name] = i
	}
	if diff := cmp.Diff(g.Len(), len(pos)); diff != "" {
		t.Fatalf("Order() length mismatch (-want +got):\n%s", diff)
	}
	var early []string
	for _, name := range g.Nodes() {
		for _, dep := range g.DependenciesOf(name) {
			if pos[dep] > pos[name] {
				early = append(early, fmt.Sprintf("%s at %d before its dependency %s at %d", name, pos[name], dep, pos[dep]))
			}
		}
	}
	if diff := cmp.Diff([]string(nil), early); diff != "" {
		t.Errorf("edge violations (-want +got):\n%s", diff)
	}
}

func TestOrderCycle(t *testing.T) {
	tests := []struct {
		name    string
		g       *dag.Graph
		wantErr string
	}{
		{
			name:    "1-cycle",
			g:       build(t, nil, "a>a"),
			wantErr: "dependency cycle: a → a",
		},
		{
			name:    "2-cycle",
			g:       build(t, nil, "a>b", "b>a"),
			wantErr: "dependency cycle: a → b → a",
		},
		{
			name:    "3-cycle",
			g:       build(t, nil, "a>b", "b>c", "c>a"),
			wantErr: "dependency cycle: a → b → c → a",
		},
		{
			name:    "cycle not involving the first node",
			g:       build(t, []string{"web", "db", "x", "y"}, "web>db", "x>y", "y>x"),
			wantErr: "dependency cycle: x → y → x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, call := range []struct {
				name string
				err  func() error
			}{
				{"Order", func() error { _, err := tt.g.Order(); return err }},
				{"ReverseOrder", func() error { _, err := tt.g.ReverseOrder(); return err }},
				{"Levels", func() error { _, err := tt.g.Levels(); return err }},
			} {
				err := call.err()
				var ce *dag.CycleError
				if !errors.As(err, &ce) {
					t.Fatalf("%s() error = %v, want *dag.CycleError", call.name, err)
				}
				if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
					t.Errorf("%s() error mismatch (-want +got):\n%s", call.name, diff)
				}
				if diff := cmp.Diff(tt.g.Cycle(), ce.Path); diff != "" {
					t.Errorf("%s() path differs from Cycle() (-want +got):\n%s", call.name, diff)
				}
			}
		})
	}
}

// TestOrderMatchesReference compares Order with the definition it
// implements, done the slow way: repeatedly take the lowest-index node whose
// dependencies have all been taken.
func TestOrderMatchesReference(t *testing.T) {
	for _, n := range []int{1, 2, 10, 100, 700} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			g := shuffled(n, uint64(n))
			nodes := g.Nodes()
			taken := make(map[string]bool)
			var want []string
			for len(want) < len(nodes) {
				for _, name := range nodes {
					if taken[name] {
						continue
					}
					ready := true
					for _, d := range g.DependenciesOf(name) {
						ready = ready && taken[d]
					}
					if ready {
						taken[name] = true
						want = append(want, name)
						break
					}
				}
			}
			got, err := g.Order()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Order() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
