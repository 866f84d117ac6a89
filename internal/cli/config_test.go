package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/graph-network-harness/harness/config"
)

// loaded is what config.Load makes of files, read the way Main reads them: config show only
// formats it.
func loaded(t *testing.T, files map[string]string) *config.Stack {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := config.Load(filepath.Join(dir, "services.yaml"), config.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigShow(t *testing.T) {
	s := loaded(t, shopFiles)
	var wantYAML bytes.Buffer
	enc := yaml.NewEncoder(&wantYAML)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	wantJSON, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		args []string
		want result
	}{
		{[]string{"config", "show"}, result{Stdout: wantYAML.String()}},
		{[]string{"config", "show", "-o", "json"}, result{Stdout: string(wantJSON) + "\n"}},
	}
	for _, tc := range tests {
		got := run(t, shopFiles, nil, tc.args...)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("harness %q (-want +got):\n%s", tc.args, diff)
		}
	}
}

func TestConfigDeps(t *testing.T) {
	files := map[string]string{"services.yaml": `version: "1.0"
name: shop
services:
  db: {type: docker, image: postgres, health_check: {command: pg_isready}}
  cache: {type: docker, image: redis}
  api: {type: docker, image: api, dependencies: [db, {service: cache, condition: started}]}
  worker: {type: docker, image: worker, command: ["${api.addr}"]}
`}
	got := run(t, files, nil, "config", "deps")
	want := result{Stdout: `LEVEL  SERVICE  DEPENDS ON
1      db       -
1      cache    -
2      api      db (healthy), cache (started)
3      worker   api (started, implicit)
`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config deps (-want +got):\n%s", diff)
	}

	got = run(t, files, nil, "config", "deps", "-o", "json")
	type dep struct {
		Service   string `json:"service"`
		Condition string `json:"condition"`
		Implicit  bool   `json:"implicit"`
	}
	type deps struct {
		Levels   [][]string       `json:"levels"`
		Services map[string][]dep `json:"services"`
	}
	wantJSON := deps{
		Levels: [][]string{{"db", "cache"}, {"api"}, {"worker"}},
		Services: map[string][]dep{
			"db":     {},
			"cache":  {},
			"api":    {{Service: "db", Condition: "healthy"}, {Service: "cache", Condition: "started"}},
			"worker": {{Service: "api", Condition: "started", Implicit: true}},
		},
	}
	if diff := cmp.Diff(wantJSON, decode[deps](t, got.Stdout)); diff != "" || got.Code != 0 || got.Stderr != "" {
		t.Errorf("config deps -o json = %+v (-want +got):\n%s", got, diff)
	}
}

func TestConfigEnv(t *testing.T) {
	files := map[string]string{
		"services.yaml": shop,
		"bin/api":       "",
	}
	environ := []string{"HOME=/home/me", "LOG_LEVEL=info", "PATH=/bin", "HOME=/home/again"}
	shopEnv := "LOG_LEVEL=debug\nHARNESS_STACK=shop\nHARNESS_SERVICE=api\n" +
		"DB_HOST=127.0.0.1\nDB_PORT=5432\nDB_ADDR=127.0.0.1:5432\n" +
		"CACHE_HOST=127.0.0.1\nCACHE_PORT=\nCACHE_ADDR=127.0.0.1\n"
	tests := []struct {
		name string
		args []string
		want result
	}{
		{
			name: "service variables",
			args: []string{"config", "env", "api"},
			want: result{Stdout: shopEnv},
		},
		{
			name: "all: inherited first, each once, the service's values win",
			args: []string{"config", "env", "--all", "api"},
			want: result{Stdout: "PATH=/bin\nHOME=/home/again\n" + shopEnv},
		},
		{
			name: "all for a container: nothing inherited",
			args: []string{"config", "env", "--all", "cache"},
			want: result{
				Stdout: "HARNESS_STACK=shop\nHARNESS_SERVICE=cache\n",
				Stderr: "harness: cache is a docker service: it does not inherit this environment\n",
			},
		},
		{
			name: "json keeps the order",
			args: []string{"config", "env", "cache", "-o", "json"},
			want: result{Stdout: "{\n  \"HARNESS_STACK\": \"shop\",\n  \"HARNESS_SERVICE\": \"cache\"\n}\n"},
		},
		{
			name: "unknown service",
			args: []string{"config", "env", "nope"},
			want: result{Code: 2, Stderr: "harness: unknown service \"nope\" (known: db, cache, api)\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, files, environ, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("harness %q (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestConfigInvalid(t *testing.T) {
	files := map[string]string{"services.yaml": `version: "1.0"
services:
  api: {type: docker, image: "api:${TAG}", bogus: 1}
`}
	want := result{
		Code: 2,
		Stderr: `services.yaml:3:44: service "api": unknown key "bogus"
services.yaml:3:35: warning: variable TAG is not set; using an empty string
harness: 1 error, 1 warning
`,
	}
	for _, args := range [][]string{{"config", "show"}, {"config", "deps", "-o", "json"}, {"config", "env", "api"}} {
		got := run(t, files, nil, args...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("harness %q (-want +got):\n%s", args, diff)
		}
	}
}

func TestConfigSchema(t *testing.T) {
	schema, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(schema) {
		t.Fatalf("config.Schema() is not JSON")
	}
	want := string(bytes.TrimRight(schema, "\n")) + "\n"
	for _, args := range [][]string{{"config", "schema"}, {"config", "schema", "-o", "json"}} {
		got := run(t, nil, nil, args...)
		if diff := cmp.Diff(result{Stdout: want}, got); diff != "" {
			t.Errorf("harness %q (-want +got):\n%s", args, diff)
		}
	}
}
