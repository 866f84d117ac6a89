package config_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/graph-network-harness/harness/config"
)

// TestSchemaGolden pins the schema; rewrite testdata/schema.json with -update.
func TestSchemaGolden(t *testing.T) {
	got, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "schema.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
}

// TestSchemaDraft checks that the schema is draft 2020-12 and valid against its metaschema,
// which the compiler checks.
func TestSchemaDraft(t *testing.T) {
	sch := compileSchema(t)
	if diff := cmp.Diff(2020, sch.DraftVersion); diff != "" {
		t.Errorf("draft (-want +got):\n%s", diff)
	}
}

// TestSchemaValidFiles checks that every file of the valid and compat golden cases, all of
// which Load accepts, validates against the schema.
func TestSchemaValidFiles(t *testing.T) {
	sch := compileSchema(t)
	for _, dir := range []string{"valid", "compat"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.txtar"))
		if len(files) == 0 {
			t.Fatalf("no cases in testdata/%s", dir)
		}
		for _, file := range files {
			t.Run(dir+"/"+strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
				ar, err := txtar.ParseFile(file)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, f := range ar.Files {
					if f.Name != "services.yaml" {
						continue
					}
					found = true
					if err := sch.Validate(schemaValue(t, f.Data)); err != nil {
						t.Errorf("%v", err)
					}
				}
				if !found {
					t.Fatal("no services.yaml in the archive")
				}
			})
		}
	}
}

// TestSchemaDocuments checks small documents against the schema and, so that the two agree,
// against the loader: the schema must accept whatever the loader accepts, and each document
// here that the schema rejects is one the loader rejects too.
func TestSchemaDocuments(t *testing.T) {
	sch := compileSchema(t)
	const head = "version: \"1.0\"\nservices:\n"
	tests := []struct {
		name  string
		doc   string
		valid bool
	}{
		// Rejected.
		{"unknown top-level key", "version: \"1.0\"\nservices: {}\nservice: {}\n", false},
		{"unknown service key", head + "  db: {type: docker, imgae: postgres}\n", false},
		{"unknown type", head + "  db: {type: dokcer, image: postgres}\n", false},
		{"unknown health check key", head + "  db: {type: docker, image: postgres, health_check: {tcp: 5432, intervall: 5s}}\n", false},
		{"bad restart string", head + "  db: {type: docker, image: postgres, restart: sometimes}\n", false},
		{"restart count on always", head + "  db: {type: docker, image: postgres, restart: \"always:3\"}\n", false},
		{"restart count not a number", head + "  db: {type: docker, image: postgres, restart: \"on-failure:x\"}\n", false},
		{"missing version", "services: {}\n", false},
		{"missing services", "version: \"1.0\"\n", false},
		{"unsupported version", "version: \"2.0\"\nservices: {}\n", false},
		{"bad stack name", "version: \"1.0\"\nname: Shop\nservices: {}\n", false},
		{"bad service name", head + "  Api: {type: docker, image: api}\n", false},
		{"service with no value", head + "  api:\n", false},
		{"missing type", head + "  api: {image: api}\n", false},
		{"key of another type", head + "  api: {type: process, binary: sh, image: api}\n", false},
		{"process without binary", head + "  api: {type: process}\n", false},
		{"docker without image", head + "  api: {type: docker}\n", false},
		{"package without host", head + "  api: {type: package, package: ./dist/api}\n", false},
		{"health check of two kinds", head + "  api: {type: docker, image: api, health_check: {tcp: 80, http: \"http://127.0.0.1/\"}}\n", false},
		{"health check of no kind", head + "  api: {type: docker, image: api, health_check: {interval: 5s}}\n", false},
		{"health check args without command", head + "  api: {type: docker, image: api, health_check: {tcp: 80, args: [x]}}\n", false},
		{"duration with a space", head + "  api: {type: docker, image: api, startup_timeout: 10 s}\n", false},
		{"negative duration", head + "  api: {type: docker, image: api, startup_timeout: -5s}\n", false},
		{"zero interval", head + "  api: {type: docker, image: api, health_check: {tcp: 80, interval: 0s}}\n", false},
		{"integer not a number", head + "  api: {type: docker, image: api, health_check: {tcp: 80, retries: many}}\n", false},
		{"port with four parts", head + "  api: {type: docker, image: api, ports: [\"1:2:3:4\"]}\n", false},
		{"port range", head + "  api: {type: docker, image: api, ports: [\"8080-8090\"]}\n", false},
		{"port out of range", head + "  api: {type: docker, image: api, ports: [70000]}\n", false},
		{"port protocol", head + "  api: {type: docker, image: api, ports: [{target: 80, protocol: sctp}]}\n", false},
		{"tcp port zero", head + "  api: {type: docker, image: api, health_check: {tcp: 0}}\n", false},
		{"expected status", head + "  api: {type: docker, image: api, health_check: {http: {url: \"http://127.0.0.1/\", expected_status: 600}}}\n", false},
		{"unknown condition", head + "  db: {type: docker, image: db}\n  api: {type: docker, image: api, depends_on: {db: {condition: ready}}}\n", false},
		{"dependency without service", head + "  db: {type: docker, image: db}\n  api: {type: docker, image: api, dependencies: [{condition: started}]}\n", false},
		{"volume without target", head + "  api: {type: docker, image: api, volumes: [data]}\n", false},
		{"env as a string", head + "  api: {type: docker, image: api, env: A=b}\n", false},
		{"unknown signal", head + "  api: {type: docker, image: api, stop_signal: SIGFOO}\n", false},
		{"unknown log level", "version: \"1.0\"\nsettings: {log_level: verbose}\nservices: {}\n", false},
		{"lan network without subnet", "version: \"1.0\"\nnetworks:\n  lan: {type: lan}\nservices: {}\n", false},
		{"subnet without mask", "version: \"1.0\"\nnetworks:\n  local: {type: local, subnet: 127.0.0.1}\nservices: {}\n", false},
		{"node without ssh_user", "version: \"1.0\"\nnetworks:\n  lan: {type: lan, subnet: 10.0.0.0/24, nodes: [{host: 10.0.0.2}]}\nservices: {}\n", false},

		// Accepted.
		{"minimal", "version: \"1.0\"\nservices: {}\n", true},
		{"version as a number", "version: 1.0\nservices: {}\n", true},
		{"extension keys", `version: "1.0"
x-top: {anything: [1, 2]}
settings: {x-note: 1}
networks: {x-net: 1}
services:
  x-template: {not: a service}
  api:
    type: docker
    image: api
    x-owner: someone
    health_check: {tcp: 80, x-why: because}
    restart: {policy: always, x-note: 1, backoff: {initial: 1s, x-note: 1}}
    depends_on: {db: {condition: started, x-note: 1}, x-skip: 1}
  db: {type: docker, image: db}
`, true},
		{"dependency list", head + "  db: {type: docker, image: db, health_check: {tcp: 5432}}\n  mig: {type: docker, image: mig}\n" +
			"  api: {type: docker, image: api, dependencies: [db, {service: mig, condition: completed_successfully}, {service: db2}]}\n" +
			"  db2: {type: docker, image: db2}\n", true},
		{"dependency mapping", head + "  db: {type: docker, image: db, health_check: {tcp: 5432}}\n  cache: {type: docker, image: cache}\n  mig: {type: docker, image: mig}\n" +
			"  api:\n    type: docker\n    image: api\n    depends_on:\n      db: {condition: healthy}\n      cache: {}\n      mig:\n", true},
		{"port forms", head + `  api:
    type: docker
    image: api
    ports:
      - 8080
      - "8081"
      - "9080:80"
      - "127.0.0.1:9000:9000/udp"
      - "[::1]:9443:443/tcp"
      - "[::1]:9444"
      - "9445/UDP"
      - "${PORT:-9446}:80"
      - {target: 5000, published: 15000, host_ip: 0.0.0.0, protocol: TCP}
      - {target: "5001", published: "${P:-15001}"}
`, true},
		{"durations", `version: "1.0"
settings: {health_check_interval: 1m30s, startup_timeout: 600, shutdown_timeout: "45"}
services:
  api:
    type: docker
    image: api
    startup_timeout: 250ms
    shutdown_timeout: "${STOP:-10s}"
    health_check: {tcp: 80, interval: 5, timeout: 1.5s, start_period: 0, start_interval: 500ms}
    restart: {backoff: {initial: 1s, max: 1h0m0s}, reset_after: 5m}
`, true},
		{"env mapping", head + "  api: {type: docker, image: api, env: {A: b, N: 1, DEBUG: true, E: , REF: \"${api.port}\"}}\n", true},
		{"env list", head + "  api: {type: docker, image: api, environment: [A=b, \"N=1\", BARE, \"EMPTY=\"]}\n", true},
		{"labels and build args as lists", head + "  api: {type: docker, build: {context: ., args: [A=b]}, labels: [team=core]}\n", true},
		{"integers as strings", "version: \"1.0\"\nsettings: {parallelism: \"${PAR:-4}\"}\n" +
			"services:\n  api: {type: docker, image: api, health_check: {tcp: \"8080\", retries: \"3\", success_threshold: \"${N:-2}\"}}\n", true},
		{"scalars read as text", head + `  api:
    type: process
    binary: sh
    args: [--port, 8080, --verbose, true, 1.5]
    user: 1000
    working_dir: .
  edge:
    type: package
    host: edge1
    package: ./dist/edge
    version: 1.4
networks:
  mesh:
    type: wireguard
    subnet: 10.42.0.0/16
    listen_port: "${WG_PORT:-51820}"
    nodes: [{name: edge1, host: 203.0.113.7, ssh_user: root, ssh_port: 2222, endpoint: "203.0.113.7:51821"}]
`, true},
		{"keys with no value", `version: "1.0"
name:
description:
settings:
networks:
services:
  api:
    type: docker
    image: api
    env:
    labels:
    ports:
    volumes:
    depends_on:
    command:
    restart:
    stop_signal:
    health_check:
      command: [pg_isready]
      args:

`, true},
		{"other spellings", head + `  api:
    type: docker
    image: api
    stop_signal: term
    restart: on-failure:3
    ports: [{target: 80, protocol: UDP}]
    health_check: {http: {url: "http://127.0.0.1/", method: post, expected_status: 2XX}}
  web:
    type: docker
    image: web
    stop_signal: SIGINT
    restart: ""
    health_check: {http: {url: "http://127.0.0.1/", expected_status: 204}}
`, true},
		{"interpolated words", "version: \"${V:-1.0}\"\nname: \"${STACK:-shop}\"\n" +
			"services:\n  api: {type: \"${KIND:-docker}\", image: api, restart: \"${RESTART:-always}\"}\n", true},
		{"health check forms", head + `  a: {type: docker, image: a, health_check: {command: "pg_isready -U postgres"}}
  b: {type: docker, image: b, health_check: {command: pg_isready, args: [-U, postgres]}}
  c: {type: docker, image: c, health_check: {http: "http://127.0.0.1:8080/health"}}
  d: {type: docker, image: d, health_check: {tcp: {host: 127.0.0.1, port: 6379}}}
  e: {type: docker, image: e, health_check: {grpc: 9090}}
  f: {type: docker, image: f, health_check: {grpc: {port: 9090, service: api.v1.Api}}}
  g: {type: docker, image: g, health_check: {log_line: "ready$", retries: 2}}
  h: {type: docker, image: h, health_check: {http: {url: "http://127.0.0.1/", headers: {X-A: "1"}, body_contains: ok}}}
`, true},
		{"restart forms", head + `  a: {type: docker, image: a, restart: "no"}
  b: {type: docker, image: b, restart: unless-stopped}
  c: {type: docker, image: c, restart: {policy: on-failure, max_restarts: 10, backoff: {initial: 2s, max: 1m, multiplier: 1.5, jitter: 0}, reset_after: 10m}}
  d: {type: docker, image: d, restart: {backoff: {multiplier: "2", jitter: "0.5"}}}
`, true},
		{"build and command forms", head + `  a: {type: docker, build: ./a, command: "serve --port 80", entrypoint: [/entry.sh]}
  b: {type: docker, build: {context: ./b, dockerfile: Dockerfile.dev, args: {PG: "15"}}, command: [serve, --port, 80]}
  c: {type: docker, image: c, volumes: ["./data:/data", "cache:/cache:ro", "/abs:/abs:rw"], env_file: []}
`, true},
		{"anchors and merge keys", `version: "1.0"
x-common: &common
  type: docker
  restart: always
x-check: &check {interval: 5s, retries: 5}
services:
  api:
    <<: *common
    image: api
    health_check: {<<: *check, tcp: 80}
  web:
    <<: [*common]
    image: web
`, true},
		{"remote services and networks", `version: "1.0"
settings: {known_hosts: ~/.ssh/known_hosts, log_level: debug}
networks:
  local: {type: local, subnet: 127.0.0.0/8, container_subnet: 172.30.0.0/24}
  lan:
    type: lan
    subnet: 192.168.1.0/24
    nodes:
      - {name: db1, host: 192.168.1.10, ssh_user: deploy, ssh_key: ~/.ssh/id_ed25519}
services:
  db: {type: remote, host: db1, image: postgres:15, ports: ["5432"]}
  worker: {type: remote, host: db1, binary: /usr/local/bin/worker, args: ["--db", "${db.addr}"]}
  edge: {type: package, host: db1, package: ./dist/edge, install_path: /opt/edge, keep_releases: 3}
`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sch.Validate(schemaValue(t, []byte(tc.doc)))
			if diff := cmp.Diff(tc.valid, err == nil); diff != "" {
				t.Errorf("schema accepts (-want +got):\n%s\n%v", diff, err)
			}
			path := filepath.Join(t.TempDir(), "stack", "services.yaml")
			unset := func(string) (string, bool) { return "", false }
			_, err = config.Parse(path, []byte(tc.doc), config.Options{Lookup: unset})
			if diff := cmp.Diff(tc.valid, err == nil); diff != "" {
				t.Errorf("loader accepts (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

// TestSchemaDescriptions checks that every key of every object has hover help.
func TestSchemaDescriptions(t *testing.T) {
	b, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			if l, ok := v.([]any); ok {
				for i, x := range l {
					walk(fmt.Sprintf("%s/%d", path, i), x)
				}
			}
			return
		}
		for k, x := range m {
			switch k {
			case "if", "then": // conditions, not keys a user reads about
				continue
			case "properties":
				for key, s := range x.(map[string]any) {
					if s, ok := s.(map[string]any); !ok || s["description"] == nil {
						missing = append(missing, path+"/properties/"+key)
					}
				}
			}
			walk(path+"/"+k, x)
		}
	}
	walk("#", doc)
	if diff := cmp.Diff([]string(nil), missing); diff != "" {
		t.Errorf("keys without a description (-want +got):\n%s", diff)
	}
}

// compileSchema compiles Schema() with the validator the tests use.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := doc.(map[string]any)["$id"].(string)
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// schemaValue reads a YAML document as the JSON value an editor validates: anchors and merge
// keys resolved, keys as strings, timestamps as the text they are to the loader.
func schemaValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return jsonCompatible(v)
}

func jsonCompatible(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonCompatible(x)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonCompatible(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = jsonCompatible(x)
		}
		return v
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return v
}
