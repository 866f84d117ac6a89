package orchestrator_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/orchestrator"
)

var update = flag.Bool("update", false, "rewrite testdata/*.plan")

const planStack = `version: "1.0"
services:
  db: {type: process, binary: db}
  cache: {type: process, binary: cache}
  api: {type: process, binary: api, dependencies: [db, cache]}
  web: {type: process, binary: web, dependencies: [api]}
  worker: {type: process, binary: worker, dependencies: [db]}
`

func TestPlanGolden(t *testing.T) {
	stack, err := config.Parse(filepath.Join(t.TempDir(), "services.yaml"), []byte(planStack), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hash := func(svc *config.Service) string { return "h-" + svc.Name }
	observed := map[string]orchestrator.Observed{
		"db":    {Running: true, ConfigHash: "h-db"},  // unchanged
		"cache": {Running: true, ConfigHash: "stale"}, // changed
		"web":   {Running: true, ConfigHash: "h-web"},
	}
	tests := []struct {
		name string
		plan func() (orchestrator.Plan, error)
	}{
		{"start-all", func() (orchestrator.Plan, error) { return orchestrator.PlanStart(stack, nil, observed, hash) }},
		{"start-api", func() (orchestrator.Plan, error) {
			return orchestrator.PlanStart(stack, []string{"api"}, observed, hash)
		}},
		{"stop-all", func() (orchestrator.Plan, error) { return orchestrator.PlanStop(stack, nil, observed) }},
		{"stop-db", func() (orchestrator.Plan, error) { return orchestrator.PlanStop(stack, []string{"db"}, observed) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.plan()
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", tt.name+".plan")
			if *update {
				if err := os.WriteFile(file, []byte(p.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), p.String()); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := orchestrator.PlanStart(stack, []string{"nope"}, observed, hash); err == nil {
		t.Error("planning an unknown service succeeded")
	}
}
