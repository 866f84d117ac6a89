package config_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/graph-network-harness/harness/config"
)

// generateStack writes a services.yaml of n services: every third one a process, the others
// containers; each depends on up to three earlier services (as a name, as {service,
// condition} and through ${svc-N.addr} references in args and env) and has a health check
// of one of five kinds.
func generateStack(n int) []byte {
	var b strings.Builder
	b.WriteString("version: \"1.0\"\nname: bench\nsettings:\n  parallelism: 32\nservices:\n")
	for i := range n {
		fmt.Fprintf(&b, "  svc-%d:\n", i)
		if i%3 == 0 {
			fmt.Fprintf(&b, "    type: process\n    binary: sh\n    ports: [%d]\n", 10000+i)
			b.WriteString("    args: [\"-c\", \"exec server --listen :$$PORT\"")
			if i > 0 {
				fmt.Fprintf(&b, ", \"--upstream=${svc-%d.addr}\"", i/2)
			}
			b.WriteString("]\n")
		} else {
			fmt.Fprintf(&b, "    type: docker\n    image: registry.example.com/svc-%d:${TAG:-latest}\n", i)
			fmt.Fprintf(&b, "    ports: [\"%d:8080\"]\n", 30000+i)
			b.WriteString("    restart: {policy: on-failure, max_restarts: 5}\n")
		}
		b.WriteString("    env:\n      LOG_LEVEL: ${LOG_LEVEL:-info}\n")
		if i > 2 {
			fmt.Fprintf(&b, "      PEER: http://${svc-%d.addr}/api\n", i/3)
		}
		switch {
		case i > 2:
			fmt.Fprintf(&b, "    dependencies:\n      - svc-%d\n      - {service: svc-%d, condition: started}\n", i-1, i-2)
		case i > 0:
			fmt.Fprintf(&b, "    depends_on: [svc-%d]\n", i-1)
		}
		switch i % 5 {
		case 0:
			b.WriteString("    health_check: {command: \"check --quick\", interval: 5s, timeout: 2s}\n")
		case 1:
			b.WriteString("    health_check:\n      http: {url: \"http://127.0.0.1:8080/health\", expected_status: 2xx}\n      interval: 10\n")
		case 2:
			b.WriteString("    health_check: {tcp: 8080, retries: 5}\n")
		case 3:
			b.WriteString("    health_check: {grpc: {port: 8080}, start_period: 30s}\n")
		case 4:
			b.WriteString("    health_check: {log_line: \"listening on .*:8080$\"}\n")
		}
	}
	return []byte(b.String())
}

var benchLookup = config.Options{Lookup: func(name string) (string, bool) {
	if name == "TAG" {
		return "1.2.3", true
	}
	return "", false
}}

func BenchmarkLoad1000(b *testing.B) {
	data := generateStack(1000)
	path := filepath.Join(b.TempDir(), "services.yaml")
	stack, err := config.Parse(path, data, benchLookup)
	if err != nil {
		b.Fatalf("the generated file does not load: %v", err)
	}
	if len(stack.Services) != 1000 || len(stack.Warnings) != 0 {
		b.Fatalf("got %d services and warnings %v; want 1000 and none", len(stack.Services), stack.Warnings)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := config.Parse(path, data, benchLookup); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorYAMLUnmarshal1000 is the floor under BenchmarkLoad1000: only the YAML parse
// of the same bytes into a yaml.Node, which Load starts with.
func BenchmarkFloorYAMLUnmarshal1000(b *testing.B) {
	data := generateStack(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			b.Fatal(err)
		}
	}
}
