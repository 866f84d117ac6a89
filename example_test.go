package harness_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/graph-network-harness/harness"
	"github.com/graph-network-harness/harness/config"
)

// Example starts a process service with args, env, a dependency and a health check, and
// prints the status of the stack — what the seed README's ServiceManager snippet does.
func Example() {
	dir, err := os.MkdirTemp("", "harness-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "services.yaml")
	err = os.WriteFile(file, []byte(`version: "1.0"
name: example
services:
  store:
    type: process
    binary: sleep
    args: ["30"]
    health_check: {command: "true", interval: 1s}
  api:
    type: process
    binary: sh
    args: ["-c", "echo api up, store at $STORE_ADDR; exec sleep 30"]
    env: {GREETING: hello}
    dependencies: [store]
    health_check: {log_line: "api up", interval: 1s}
`), 0o644)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	m, err := harness.New(ctx, harness.Options{ConfigFile: file, DataDir: filepath.Join(dir, "data")})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	if err := m.Start(ctx); err != nil {
		log.Fatal(err)
	}
	for _, s := range m.Status() {
		fmt.Println(s.Key.Service, s.State, s.Health)
	}
	// Output:
	// store running healthy
	// api running healthy
}

// A service defined in Go joins a running stack: it gets the defaults and the dependencies
// of a service read from services.yaml (here db, through ${db.addr}), and starts after them.
func ExampleManager_StartService() {
	dir, err := os.MkdirTemp("", "harness-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "services.yaml")
	err = os.WriteFile(file, []byte(`version: "1.0"
name: example
services:
  db:
    type: process
    binary: sleep
    args: ["30"]
    ports: [45433]
    health_check: {command: "true", interval: 1s}
`), 0o644)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	m, err := harness.New(ctx, harness.Options{ConfigFile: file, DataDir: filepath.Join(dir, "data")})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	addr, err := config.ParseTemplate("${db.addr}")
	if err != nil {
		log.Fatal(err)
	}
	err = m.StartService(ctx, "worker", config.Service{
		Type:        config.TypeProcess,
		Binary:      "sh",
		Args:        []config.Template{config.Literal("-c"), config.Literal(`echo "db at $DB_ADDR"; exec sleep 30`)},
		Env:         config.Env{}.With("DB_ADDR", addr),
		HealthCheck: &config.HealthCheck{LogLine: "db at"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range m.Status() {
		fmt.Println(s.Key.Service, s.State, s.Health)
	}
	// Output:
	// db running healthy
	// worker running healthy
}
