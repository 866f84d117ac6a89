package orchestrator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/dag"
)

// Observed is what is known of a service before a plan: whether an instance runs, and the
// configuration hash it was started from.
type Observed struct {
	Running    bool
	ConfigHash string
}

// Verb is what a plan does with one service.
type Verb string

// The verbs of a plan.
const (
	VerbStart    Verb = "start"    // nothing runs: start it
	VerbKeep     Verb = "keep"     // it runs from the same configuration: leave it alone
	VerbRecreate Verb = "recreate" // it runs from another configuration: stop it, start it again
	VerbStop     Verb = "stop"     // it runs: stop it
)

// Action is one step of a plan.
type Action struct {
	Service string
	Verb    Verb
	Reason  string
}

// Plan is what Start or Stop will do, in the order it will be done (services of one level
// run in parallel). It is computed without side effects.
type Plan struct {
	Actions []Action
	graph   *dag.Graph
}

// String renders the plan one action per line, for humans and golden tests.
func (p Plan) String() string {
	var b strings.Builder
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "%-8s %s (%s)\n", a.Verb, a.Service, a.Reason)
	}
	return b.String()
}

// PlanStart plans the start of the named services (all when none) and everything they need,
// dependencies first. hash gives the configuration hash a service would be started from.
func PlanStart(s *config.Stack, names []string, observed map[string]Observed, hash func(*config.Service) string) (Plan, error) {
	g, err := subgraph(s, names, false)
	if err != nil {
		return Plan{}, err
	}
	order, err := g.Order()
	if err != nil {
		return Plan{}, err
	}
	p := Plan{graph: g}
	for _, name := range order {
		o := observed[name]
		want := hash(s.Service(name))
		switch {
		case !o.Running:
			p.Actions = append(p.Actions, Action{name, VerbStart, "not running"})
		case o.ConfigHash != want:
			p.Actions = append(p.Actions, Action{name, VerbRecreate, "configuration changed"})
		default:
			p.Actions = append(p.Actions, Action{name, VerbKeep, "running, unchanged"})
		}
	}
	return p, nil
}

// PlanStop plans the stop of the named services (all when none) and of every service that
// depends on them, dependents first. Services that do not run are left out.
func PlanStop(s *config.Stack, names []string, observed map[string]Observed) (Plan, error) {
	g, err := subgraph(s, names, true)
	if err != nil {
		return Plan{}, err
	}
	order, err := g.ReverseOrder()
	if err != nil {
		return Plan{}, err
	}
	p := Plan{graph: g}
	for _, name := range order {
		if observed[name].Running {
			p.Actions = append(p.Actions, Action{name, VerbStop, "running"})
		}
	}
	return p, nil
}

// subgraph is the part of the stack's graph a command acts on: the named services (all when
// none) with their dependencies, or with their dependents for a stop.
func subgraph(s *config.Stack, names []string, dependents bool) (*dag.Graph, error) {
	full := s.Graph()
	if len(names) == 0 {
		return full, nil
	}
	for _, n := range names {
		if s.Service(n) == nil {
			return nil, fmt.Errorf("%w: %q", ErrUnknownService, n)
		}
	}
	if !dependents {
		return full.Subgraph(names...), nil
	}
	keep := append(append([]string(nil), names...), full.Dependents(names...)...)
	g := dag.New()
	for _, n := range full.Nodes() {
		if slices.Contains(keep, n) {
			g.Add(n)
		}
	}
	for _, n := range g.Nodes() {
		for _, d := range full.DependenciesOf(n) {
			if slices.Contains(keep, d) {
				g.AddEdge(n, d)
			}
		}
	}
	return g, nil
}
