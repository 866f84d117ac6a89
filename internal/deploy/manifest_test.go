package deploy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/deploy"
)

// manifestOpts compares manifests: templates by their text, and not the places config keeps
// in unexported fields (a manifest's health check has none).
var manifestOpts = cmp.Options{
	cmp.Comparer(func(a, b config.Template) bool { return a.String() == b.String() }),
	cmpopts.IgnoreUnexported(config.HealthCheck{}, config.TCPCheck{}, config.GRPCCheck{}),
}

// diagnostics returns the lines of the *config.Error err, or fails the test.
func diagnostics(t *testing.T, err error) []string {
	t.Helper()
	var cfgErr *config.Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("want a *config.Error, got %T: %v", err, err)
	}
	var out []string
	for _, d := range cfgErr.Diagnostics {
		out = append(out, d.String())
	}
	return out
}

func TestParseManifest(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *deploy.Manifest
	}{
		{
			name: "every field",
			yaml: `name: edge
version: 1.4.2+build.7
service:
  executable: ./bin/edge
  args: ["--listen", ":8080", "--ratio", 1.10]
  working_dir: var/
  ports: [8080, "9090"]
  health_check:
    http: {url: "http://127.0.0.1:8080/health", method: get, headers: {X-Probe: "1"}, expected_status: 2XX}
    interval: 5s
    timeout: 2
    retries: 5
    start_period: 0s
dependencies: [db, cache-2]
environment:
  LOG_LEVEL: info
  EMPTY:
  PRICE: "$5 ${NOT_EXPANDED}"
requires:
  commands: [sh, /usr/bin/curl]
x-notes: ignored, like services.yaml's x- keys
`,
			want: &deploy.Manifest{
				Name:    "edge",
				Version: "1.4.2+build.7",
				Service: deploy.Service{
					Executable: "bin/edge",
					Args:       []string{"--listen", ":8080", "--ratio", "1.10"},
					WorkingDir: "var",
					Ports:      []int{8080, 9090},
					HealthCheck: &config.HealthCheck{
						HTTP: &config.HTTPCheck{
							URL:            config.Literal("http://127.0.0.1:8080/health"),
							Method:         "GET",
							Headers:        map[string]config.Template{"X-Probe": config.Literal("1")},
							ExpectedStatus: "2xx",
						},
						Interval: config.Duration(5 * time.Second),
						Timeout:  config.Duration(2 * time.Second),
						Retries:  5,
					},
				},
				Dependencies: []string{"db", "cache-2"},
				Environment:  map[string]string{"LOG_LEVEL": "info", "EMPTY": "", "PRICE": "$5 ${NOT_EXPANDED}"},
				Requires:     deploy.Requires{Commands: []string{"sh", "/usr/bin/curl"}},
			},
		},
		{
			name: "the least: a command check split like a shell",
			yaml: `name: w
version: "1.0"
service:
  executable: bin/w
  health_check:
    command: bin/check --name 'a b' "c\"d"
    args: [--verbose]
`,
			want: &deploy.Manifest{
				Name:    "w",
				Version: "1.0",
				Service: deploy.Service{
					Executable: "bin/w",
					HealthCheck: &config.HealthCheck{
						Command: config.Literal("bin/check"),
						Args:    []config.Template{config.Literal("--name"), config.Literal("a b"), config.Literal(`c"d`), config.Literal("--verbose")},
					},
				},
			},
		},
		{
			name: "tcp and grpc forms, aliases",
			yaml: `name: g
version: "2"
service: &svc
  executable: bin/g
  ports: [9090]
  health_check: {grpc: {port: 9090, service: api.v1}}
x-other: *svc
`,
			want: &deploy.Manifest{
				Name:    "g",
				Version: "2",
				Service: deploy.Service{
					Executable:  "bin/g",
					Ports:       []int{9090},
					HealthCheck: &config.HealthCheck{GRPC: &config.GRPCCheck{Port: 9090, Service: "api.v1"}},
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := deploy.ParseManifest("manifest.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("ParseManifest: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, manifestOpts); diff != "" {
				t.Errorf("ParseManifest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseManifestErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "YAML syntax error: a line, no column",
			yaml: "name: a\nversion: 1\nservice:\n  executable: bin/a\n   args: [x]\n",
			want: []string{"m.yaml:5:1: mapping values are not allowed in this context"},
		},
		{
			name: "unclosed flow sequence, found by the parser",
			yaml: "name: a\nversion: 1\nservice: {executable: bin/a, args: [x}\n",
			want: []string{"m.yaml:3:1: did not find expected ',' or ']'"},
		},
		{
			name: "empty file",
			yaml: "# nothing\n",
			want: []string{"m.yaml:1:1: the manifest is empty; want at least name, version and service"},
		},
		{
			name: "not a mapping",
			yaml: "- name: a\n",
			want: []string{"m.yaml:1:1: manifest: want a mapping, got a list"},
		},
		{
			name: "unknown keys, with a hint when one is close",
			yaml: "name: a\nversoin: 1\nservice:\n  executable: bin/a\n  workdir: .\n  frobnicate: 1\n",
			want: []string{
				`m.yaml:1:1: version is missing`,
				`m.yaml:2:1: manifest: unknown key "versoin"; did you mean "version"?`,
				`m.yaml:5:3: service: unknown key "workdir"`,
				`m.yaml:6:3: service: unknown key "frobnicate"`,
			},
		},
		{
			name: "missing name and service",
			yaml: "version: 1.0\n",
			want: []string{
				"m.yaml:1:1: name is missing",
				"m.yaml:1:1: service is missing; want at least service.executable",
			},
		},
		{
			name: "names and versions that are not path-safe",
			yaml: "name: ../etc\nversion: 1 0\nservice: {executable: bin/a}\n",
			want: []string{
				`m.yaml:1:7: name "../etc": want letters, digits and . _ + - only, starting with a letter or digit`,
				`m.yaml:2:10: version "1 0": want letters, digits and . _ + - only, starting with a letter or digit`,
			},
		},
		{
			name: "empty values and a duplicate key",
			yaml: "name: ''\nversion: ~\nservice: {executable: ''}\nname: b\n",
			want: []string{
				`m.yaml:1:7: name is empty`,
				`m.yaml:2:10: version is empty`,
				`m.yaml:3:23: service.executable is empty`,
				`m.yaml:4:1: manifest: key "name" is already defined`,
			},
		},
		{
			name: "paths that leave the package",
			yaml: "name: a\nversion: 1\nservice:\n  executable: ../x\n  working_dir: ../..\n",
			want: []string{
				`m.yaml:4:15: service.executable "../x": ".." is not allowed: the path must stay inside the package`,
				`m.yaml:5:16: service.working_dir "../..": ".." is not allowed: the path must stay inside the package`,
			},
		},
		{
			name: "an absolute executable, .. inside a path, no executable",
			yaml: "name: a\nversion: 1\nservice: {executable: /usr/bin/a, working_dir: var/../../x}\n---\nname: second document, not read\n",
			want: []string{
				`m.yaml:3:23: service.executable "/usr/bin/a": want a path relative to the package, such as bin/NAME`,
				`m.yaml:3:48: service.working_dir "var/../../x": ".." is not allowed: the path must stay inside the package`,
			},
		},
		{
			name: "a service that is not a mapping",
			yaml: "name: a\nversion: 1\nservice: [bin/a]\n---\n",
			want: []string{`m.yaml:3:10: service: want a mapping, got a list`},
		},
		{
			name: "an executable that is not a string",
			yaml: "name: a\nversion: 1\nservice: {executable: [bin/a]}\n",
			want: []string{`m.yaml:3:23: service.executable: want a single value, got a list`},
		},
		{
			name: "service without executable",
			yaml: "name: a\nversion: 1\nservice:\n  args: [x]\n",
			want: []string{`m.yaml:4:3: service.executable is missing; want the program's path in the package, such as bin/a`},
		},
		{
			name: "ports, args, dependencies, environment, requires",
			yaml: `name: a
version: 1
service:
  executable: bin/a
  args: --flag
  ports: [0, 80, 80, 65536, http]
dependencies: [db, DB, db]
environment: {OK: 1, 1BAD: x, LIST: [a]}
requires: {commands: ["", "a b"]}
`,
			want: []string{
				`m.yaml:5:9: service.args: want a list, got "--flag"`,
				`m.yaml:6:11: service.ports: port 0 is outside 1-65535`,
				`m.yaml:6:18: service.ports: port 80 is listed twice`,
				`m.yaml:6:22: service.ports: port 65536 is outside 1-65535`,
				`m.yaml:6:29: service.ports: want an integer, got "http"`,
				`m.yaml:7:20: dependencies: "DB" is not a service name ([a-z0-9][a-z0-9_-]*)`,
				`m.yaml:7:24: dependencies: "db" is listed twice`,
				`m.yaml:8:22: environment: "1BAD" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)`,
				`m.yaml:8:37: environment.LIST: want a single value, got a list`,
				`m.yaml:9:23: requires.commands: want a command name or an absolute path, got ""`,
				`m.yaml:9:27: requires.commands: want a command name or an absolute path, got "a b"`,
			},
		},
		{
			name: "health checks as services.yaml checks them",
			yaml: `name: a
version: 1
service:
  executable: bin/a
  health_check:
    http: ftp://x/
    tcp: 70000
    retries: 0
    interval: soon
    start_period: -1s
    log_line: "("
`,
			want: []string{
				`m.yaml:6:11: service.health_check.http: want an http:// or https:// URL, got "ftp://x/"`,
				`m.yaml:7:10: service.health_check.tcp: port 70000 is outside 1-65535`,
				`m.yaml:7:10: service.health_check: one check per service, got http and tcp and log_line`,
				`m.yaml:8:14: service.health_check.retries must be at least 1`,
				`m.yaml:9:15: service.health_check.interval: want a duration such as "10s", "1m30s" or integer seconds, got "soon"`,
				`m.yaml:10:19: service.health_check.start_period: duration must be positive, got "-1s"`,
				"m.yaml:11:15: service.health_check.log_line: error parsing regexp: missing closing ): `(`",
			},
		},
		{
			name: "health checks without a check, args without command, a bad status",
			yaml: `name: a
version: 1
service:
  executable: bin/a
  health_check: {args: [x], interval: 1s}
---
`,
			want: []string{
				`m.yaml:5:17: service.health_check: no check; want one of command, http, tcp, grpc, log_line`,
				`m.yaml:5:24: service.health_check: args needs command`,
			},
		},
		{
			name: "http check details",
			yaml: `name: a
version: 1
service:
  executable: bin/a
  health_check: {http: {method: POST, expected_status: 600, bogus: 1}}
`,
			want: []string{
				`m.yaml:5:24: service.health_check.http: url is missing`,
				`m.yaml:5:56: service.health_check.http.expected_status "600": want a status such as 200 or a class such as 2xx`,
				`m.yaml:5:61: service.health_check.http: unknown key "bogus"`,
			},
		},
		{
			name: "wrong shapes",
			yaml: `name: a
version: 1
service:
  executable: bin/a
  health_check: {command: "check 'unterminated", tcp: {host: x}}
environment: [A=1]
requires: [sh]
dependencies: {db: {}}
`,
			want: []string{
				`m.yaml:5:27: service.health_check.command: unterminated ' quote`,
				`m.yaml:5:55: service.health_check.tcp: port is missing`,
				`m.yaml:5:55: service.health_check: one check per service, got command and tcp`,
				`m.yaml:6:14: environment: want a mapping of names to values, got a list`,
				`m.yaml:7:11: requires: want a mapping, got a list`,
				`m.yaml:8:15: dependencies: want a list, got a mapping`,
			},
		},
		{
			name: "merge keys are refused",
			yaml: "base: &b {executable: bin/a}\nname: a\nversion: 1\nservice: {<<: *b}\n",
			want: []string{
				`m.yaml:1:1: manifest: unknown key "base"; did you mean "name"?`,
				`m.yaml:4:10: service.executable is missing; want the program's path in the package, such as bin/a`,
				`m.yaml:4:11: service: merge keys (<<) are not supported in a manifest`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := deploy.ParseManifest("m.yaml", []byte(tc.yaml))
			if m != nil {
				t.Errorf("ParseManifest returned a manifest with its error: %+v", m)
			}
			if diff := cmp.Diff(tc.want, diagnostics(t, err)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArchiveName(t *testing.T) {
	m := &deploy.Manifest{Name: "edge", Version: "1.4.2"}
	if got, want := m.ArchiveName(), "edge-1.4.2.tar.gz"; got != want {
		t.Errorf("ArchiveName = %q, want %q", got, want)
	}
}
