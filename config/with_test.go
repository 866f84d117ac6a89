package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
)

const withBase = `version: "1.0"
name: shop
services:
  db:
    type: process
    binary: sleep
    args: ["60"]
    ports: [5432]
    health_check: {tcp: {port: 5432}}
`

func TestWithService(t *testing.T) {
	base, err := config.Parse("/srv/shop/services.yaml", []byte(withBase), config.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	url, err := config.ParseTemplate("postgres://${db.addr}/shop")
	if err != nil {
		t.Fatal(err)
	}
	api := config.Service{
		Name: "api", Type: config.TypeProcess, Binary: "sleep",
		Args:  []config.Template{config.Literal("60")},
		Env:   config.Env{}.With("DATABASE_URL", url),
		Ports: []config.Port{{Target: 8080}},
	}
	s, err := base.WithService(api)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Service("api")
	if got == nil {
		t.Fatal("api was not added")
	}
	// Defaults and the dependency implied by ${db.addr}, as Load gives them.
	if diff := cmp.Diff([]string{"db", "api"}, names(s)); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	if len(got.Dependencies) != 1 || got.Dependencies[0].Service != "db" || got.Dependencies[0].Condition != config.ConditionStarted {
		t.Errorf("dependencies = %+v, want db (started, implied)", got.Dependencies)
	}
	if got.Network != "local" || got.StopSignal != "SIGTERM" || got.Ports[0].Published != 8080 || got.Restart.Policy != config.RestartNo {
		t.Errorf("defaults not applied: network %q, stop signal %q, port %+v, restart %q", got.Network, got.StopSignal, got.Ports[0], got.Restart.Policy)
	}
	// Neither the base stack nor the caller's service changed.
	if base.Service("api") != nil || len(base.Services) != 1 {
		t.Error("the base stack was changed")
	}
	if api.Ports[0].Published != 0 || api.Dependencies != nil {
		t.Error("the caller's service was changed")
	}

	// Replacing keeps the place in file order.
	db := *s.Service("db")
	db.Args = []config.Template{config.Literal("120")}
	r, err := s.WithService(db)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"db", "api"}, names(r)); diff != "" {
		t.Errorf("services after replacing db (-want +got):\n%s", diff)
	}
	if r.Service("db").Args[0].String() != "120" || s.Service("db").Args[0].String() != "60" {
		t.Error("replacing db: want the new args in the new stack only")
	}
}

func TestWithServiceInvalid(t *testing.T) {
	base, err := config.Parse("/srv/shop/services.yaml", []byte(withBase), config.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		svc  config.Service
		want string
	}{
		"unknown dependency": {config.Service{Name: "api", Type: config.TypeProcess, Binary: "sleep",
			Dependencies: []config.Dependency{{Service: "cache"}}}, `"cache"`},
		"port taken": {config.Service{Name: "api", Type: config.TypeProcess, Binary: "sleep",
			Ports: []config.Port{{Target: 5432}}}, "5432"},
		"bad name":  {config.Service{Name: "API!", Type: config.TypeProcess, Binary: "sleep"}, "API!"},
		"no binary": {config.Service{Name: "api", Type: config.TypeProcess}, "binary"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := base.WithService(tc.svc)
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to mention %s", err, tc.want)
			}
			t.Log(err)
		})
	}
}

func names(s *config.Stack) []string {
	var out []string
	for _, svc := range s.Services {
		out = append(out, svc.Name)
	}
	return out
}
