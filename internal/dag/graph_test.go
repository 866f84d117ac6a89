package dag_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/dag"
)

// build returns a graph with nodes added in the given order and then the
// edges, each written "from>to" (from depends on to).
func build(t testing.TB, nodes []string, edges ...string) *dag.Graph {
	t.Helper()
	g := dag.New()
	for _, n := range nodes {
		g.Add(n)
	}
	for _, e := range edges {
		from, to, ok := strings.Cut(e, ">")
		if !ok {
			t.Fatalf("bad edge %q", e)
		}
		g.AddEdge(from, to)
	}
	return g
}

// stack is a small service stack used across the tests, in YAML order:
//
//	web → api → db
//	      api → cache
//	worker → cache
var stackNodes = []string{"web", "api", "worker", "db", "cache"}

func stack(t testing.TB) *dag.Graph {
	return build(t, stackNodes, "web>api", "api>db", "api>cache", "worker>cache")
}

func TestGraphBuild(t *testing.T) {
	tests := []struct {
		name      string
		build     func() *dag.Graph
		wantNodes []string
		wantDeps  map[string][]string
	}{
		{
			name:      "empty",
			build:     dag.New,
			wantNodes: nil,
			wantDeps:  map[string][]string{"x": nil},
		},
		{
			name: "add keeps first insertion index",
			build: func() *dag.Graph {
				g := dag.New()
				g.Add("b")
				g.Add("a")
				g.Add("b")
				return g
			},
			wantNodes: []string{"b", "a"},
			wantDeps:  map[string][]string{"a": nil, "b": nil},
		},
		{
			name: "add edge adds missing nodes from then to",
			build: func() *dag.Graph {
				g := dag.New()
				g.Add("z")
				g.AddEdge("web", "api")
				g.AddEdge("api", "z")
				return g
			},
			wantNodes: []string{"z", "web", "api"},
			wantDeps:  map[string][]string{"web": {"api"}, "api": {"z"}, "z": nil},
		},
		{
			name: "dependencies in edge order, duplicates ignored",
			build: func() *dag.Graph {
				g := dag.New()
				g.AddEdge("a", "c")
				g.AddEdge("a", "b")
				g.AddEdge("a", "c")
				g.AddEdge("a", "d")
				return g
			},
			wantNodes: []string{"a", "c", "b", "d"},
			wantDeps:  map[string][]string{"a": {"c", "b", "d"}, "b": nil},
		},
		{
			name: "self edge",
			build: func() *dag.Graph {
				g := dag.New()
				g.AddEdge("a", "a")
				g.AddEdge("a", "a")
				return g
			},
			wantNodes: []string{"a"},
			wantDeps:  map[string][]string{"a": {"a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.build()
			if diff := cmp.Diff(len(tt.wantNodes), g.Len()); diff != "" {
				t.Errorf("Len() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNodes, g.Nodes()); diff != "" {
				t.Errorf("Nodes() mismatch (-want +got):\n%s", diff)
			}
			got := make(map[string][]string)
			for name := range tt.wantDeps {
				got[name] = g.DependenciesOf(name)
			}
			if diff := cmp.Diff(tt.wantDeps, got); diff != "" {
				t.Errorf("DependenciesOf mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodesIsACopy(t *testing.T) {
	g := build(t, []string{"a", "b"}, "a>b")
	g.Nodes()[0] = "x"
	g.DependenciesOf("a")[0] = "x"
	if diff := cmp.Diff([]string{"a", "b"}, g.Nodes()); diff != "" {
		t.Errorf("Nodes() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b"}, g.DependenciesOf("a")); diff != "" {
		t.Errorf("DependenciesOf mismatch (-want +got):\n%s", diff)
	}
}

func TestTransitive(t *testing.T) {
	// Order of stack: db cache api web worker.
	cyclic := build(t, []string{"x", "a", "b", "c"}, "x>b", "a>b", "b>c", "c>b")
	tests := []struct {
		name             string
		g                *dag.Graph
		names            []string
		wantDependents   []string
		wantDependencies []string
	}{
		{
			name:             "leaf",
			g:                stack(t),
			names:            []string{"db"},
			wantDependents:   []string{"api", "web"},
			wantDependencies: nil,
		},
		{
			name:             "shared dependency",
			g:                stack(t),
			names:            []string{"cache"},
			wantDependents:   []string{"api", "web", "worker"},
			wantDependencies: nil,
		},
		{
			name:             "middle",
			g:                stack(t),
			names:            []string{"api"},
			wantDependents:   []string{"web"},
			wantDependencies: []string{"db", "cache"},
		},
		{
			name:             "top",
			g:                stack(t),
			names:            []string{"web"},
			wantDependents:   nil,
			wantDependencies: []string{"db", "cache", "api"},
		},
		{
			name:             "several names, names excluded",
			g:                stack(t),
			names:            []string{"web", "api", "worker"},
			wantDependents:   nil,
			wantDependencies: []string{"db", "cache"},
		},
		{
			name:             "in Order order, not insertion order",
			g:                stack(t),
			names:            []string{"db", "cache"},
			wantDependents:   []string{"api", "web", "worker"},
			wantDependencies: nil,
		},
		{
			name:             "unknown names ignored",
			g:                stack(t),
			names:            []string{"nope", "db"},
			wantDependents:   []string{"api", "web"},
			wantDependencies: nil,
		},
		{
			name:             "none",
			g:                stack(t),
			names:            nil,
			wantDependents:   nil,
			wantDependencies: nil,
		},
		{
			name:             "cyclic graph uses insertion order",
			g:                cyclic,
			names:            []string{"c"},
			wantDependents:   []string{"x", "a", "b"},
			wantDependencies: []string{"b"},
		},
		{
			name:             "a name inside a cycle is still excluded",
			g:                cyclic,
			names:            []string{"b"},
			wantDependents:   []string{"x", "a", "c"},
			wantDependencies: []string{"c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.wantDependents, tt.g.Dependents(tt.names...)); diff != "" {
				t.Errorf("Dependents(%q) mismatch (-want +got):\n%s", tt.names, diff)
			}
			if diff := cmp.Diff(tt.wantDependencies, tt.g.Dependencies(tt.names...)); diff != "" {
				t.Errorf("Dependencies(%q) mismatch (-want +got):\n%s", tt.names, diff)
			}
		})
	}
}

func TestSubgraph(t *testing.T) {
	tests := []struct {
		name      string
		names     []string
		wantNodes []string
		wantDeps  map[string][]string
	}{
		{
			name:      "top pulls in everything it needs",
			names:     []string{"web"},
			wantNodes: []string{"web", "api", "db", "cache"},
			wantDeps:  map[string][]string{"web": {"api"}, "api": {"db", "cache"}, "db": nil, "cache": nil},
		},
		{
			name:      "insertion order kept across several names",
			names:     []string{"worker", "db"},
			wantNodes: []string{"worker", "db", "cache"},
			wantDeps:  map[string][]string{"worker": {"cache"}, "db": nil, "cache": nil},
		},
		{
			name:      "leaf alone",
			names:     []string{"cache"},
			wantNodes: []string{"cache"},
			wantDeps:  map[string][]string{"cache": nil},
		},
		{
			name:      "unknown ignored",
			names:     []string{"nope"},
			wantNodes: nil,
			wantDeps:  map[string][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := stack(t)
			sub := g.Subgraph(tt.names...)
			if diff := cmp.Diff(tt.wantNodes, sub.Nodes()); diff != "" {
				t.Errorf("Nodes() mismatch (-want +got):\n%s", diff)
			}
			got := make(map[string][]string)
			for _, name := range sub.Nodes() {
				got[name] = sub.DependenciesOf(name)
			}
			if diff := cmp.Diff(tt.wantDeps, got); diff != "" {
				t.Errorf("DependenciesOf mismatch (-want +got):\n%s", diff)
			}
			// The subgraph is independent of the original.
			sub.AddEdge("cache", "new")
			if diff := cmp.Diff(stackNodes, g.Nodes()); diff != "" {
				t.Errorf("original changed (-want +got):\n%s", diff)
			}
		})
	}
}
