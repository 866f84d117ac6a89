package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/config"
)

func (a *app) configDepsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "deps",
		Short: "Print the start order by level, with each service's dependencies",
		Long: `deps prints the start order: level 1 holds the services without dependencies, and
a service's level is one more than the highest level of its dependencies. The
services of one level may start in parallel. Each service shows what it waits for,
as DEPENDENCY (CONDITION); "implicit" marks a dependency that a ${svc.prop}
reference implies.

With -o json, stdout holds one object: the levels as arrays of names, and every
service, in file order, with its dependencies (an empty array when it has none):
  {"levels": [["db"], ["api", "worker"]],
   "services": {"db": [],
                "api": [{"service": "db", "condition": "healthy"}],
                "worker": [{"service": "db", "condition": "started", "implicit": true}]}}`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return a.configDeps() },
	}
}

// depJSON is one dependency in the JSON form of deps.
type depJSON struct {
	Service   string           `json:"service"`
	Condition config.Condition `json:"condition"`
	Implicit  bool             `json:"implicit,omitempty"`
}

func (a *app) configDeps() error {
	s, err := a.loadValid()
	if err != nil {
		return err
	}
	levels, err := s.Graph().Levels()
	if err != nil {
		return err // a valid stack has no cycle; this is a bug, not a usage error
	}
	if levels == nil {
		levels = [][]string{}
	}
	if a.json() {
		services := make(object, 0, len(s.Services))
		for _, svc := range s.Services {
			deps := make([]depJSON, 0, len(svc.Dependencies))
			for _, d := range svc.Dependencies {
				deps = append(deps, depJSON{Service: d.Service, Condition: d.Condition, Implicit: d.Implicit})
			}
			services = append(services, member{svc.Name, deps})
		}
		return a.writeJSON(object{{"levels", levels}, {"services", services}})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tSERVICE\tDEPENDS ON")
	for i, level := range levels {
		for _, name := range level {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", strconv.Itoa(i+1), name, dependsOn(s.Service(name)))
		}
	}
	return tw.Flush()
}

// dependsOn renders the dependencies of svc as "db (healthy), cache (started, implicit)".
func dependsOn(svc *config.Service) string {
	if len(svc.Dependencies) == 0 {
		return "-"
	}
	parts := make([]string, len(svc.Dependencies))
	for i, d := range svc.Dependencies {
		how := string(d.Condition)
		if d.Implicit {
			how += ", implicit"
		}
		parts[i] = fmt.Sprintf("%s (%s)", d.Service, how)
	}
	return strings.Join(parts, ", ")
}
