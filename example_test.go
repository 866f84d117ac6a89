package harness_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/graph-network-harness/harness"
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
