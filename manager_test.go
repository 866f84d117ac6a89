package harness_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graph-network-harness/harness"
	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/lifecycle"
)

// newManager runs the stack in yaml in a fresh directory, and shuts it down when the test ends.
func newManager(t *testing.T, yaml string) *harness.Manager {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := harness.New(context.Background(), harness.Options{ConfigFile: file, DataDir: filepath.Join(dir, "data"), Environ: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return m
}

// status returns the record of service.
func status(t *testing.T, m *harness.Manager, service string) harness.ServiceStatus {
	t.Helper()
	for _, s := range m.Status() {
		if s.Key.Service == service {
			return s
		}
	}
	t.Fatalf("no service %q in the status", service)
	return harness.ServiceStatus{}
}

func TestStartService(t *testing.T) {
	m := newManager(t, `version: "1.0"
name: shop
services:
  db:
    type: process
    binary: sleep
    args: ["60"]
    ports: [45432]
    health_check: {command: "true", interval: 1s}
`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr, err := config.ParseTemplate("${db.addr}")
	if err != nil {
		t.Fatal(err)
	}
	api := config.Service{
		Type:   config.TypeProcess,
		Binary: "sleep",
		Args:   []config.Template{config.Literal("60")},
		Env:    config.Env{}.With("DB_ADDR", addr),
	}
	// api depends on db through ${db.addr}: StartService starts both, db first.
	if err := m.StartService(ctx, "api", api); err != nil {
		t.Fatal(err)
	}
	db, first := status(t, m, "db"), status(t, m, "api")
	if db.State != lifecycle.Running || db.Health != lifecycle.HealthHealthy || first.State != lifecycle.Running {
		t.Fatalf("after StartService: db %s/%s, api %s; want db running and healthy, api running", db.State, db.Health, first.State)
	}
	if !first.StartedAt.After(db.StartedAt) {
		t.Errorf("api started at %v, before its dependency db (%v)", first.StartedAt, db.StartedAt)
	}
	if got := m.Stack().Service("api"); got == nil || len(got.Dependencies) != 1 || got.Dependencies[0].Service != "db" {
		t.Errorf("the stack's api: %+v, want a dependency on db", got)
	}

	// The same definition again: left alone.
	if err := m.StartService(ctx, "api", api); err != nil {
		t.Fatal(err)
	}
	if again := status(t, m, "api"); again.Handle != first.Handle {
		t.Errorf("an unchanged service was restarted: handle %s, then %s", first.Handle, again.Handle)
	}

	// A changed definition: recreated.
	api.Args = []config.Template{config.Literal("120")}
	if err := m.StartService(ctx, "api", api); err != nil {
		t.Fatal(err)
	}
	if changed := status(t, m, "api"); changed.Handle == first.Handle || changed.State != lifecycle.Running {
		t.Errorf("a changed service: handle %s (was %s), state %s; want a new instance, running", changed.Handle, first.Handle, changed.State)
	}

	// An invalid definition changes nothing.
	before := m.Stack()
	bad := config.Service{Type: config.TypeProcess, Binary: "sleep", Ports: []config.Port{{Target: 45432}}}
	err = m.StartService(ctx, "cache", bad)
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("StartService of a service whose port is taken: %v, want a *config.Error", err)
	}
	if m.Stack() != before || len(m.Status()) != 2 {
		t.Errorf("a rejected service changed the stack: %d services in the status", len(m.Status()))
	}
}

// A remote service needs the harness binary to install on its node: without
// Options.AgentBinary its start fails and says so, before anything is contacted.
func TestRemoteServiceNeedsAgentBinary(t *testing.T) {
	m := newManager(t, `version: "1.0"
networks:
  lan:
    type: lan
    subnet: 10.1.0.0/24
    nodes: [{name: n1, host: 10.1.0.1, ssh_user: root}]
services:
  w: {type: remote, host: n1, binary: /usr/bin/w}
`)
	err := m.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AgentBinary") {
		t.Errorf("Start = %v, want an error naming Options.AgentBinary", err)
	}
}
