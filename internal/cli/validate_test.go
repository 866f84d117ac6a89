package cli_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const shopSummary = `stack shop (services.yaml)
  services  3 (1 process, 2 docker)
  networks  1 (local)
  start order
    1. db, cache
    2. api
`

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		environ []string
		args    []string
		want    result
	}{
		{
			name:  "valid",
			files: shopFiles,
			args:  []string{"validate"},
			want:  result{Stdout: shopSummary + "valid\n"},
		},
		{
			name:  "quiet",
			files: shopFiles,
			args:  []string{"validate", "-q"},
			want:  result{},
		},
		{
			name: "valid with a warning",
			files: map[string]string{"services.yaml": `version: "1.0"
name: warn
services:
  api:
    type: process
    binary: ./bin/api
`},
			args: []string{"validate"},
			want: result{
				Stdout: "stack warn (services.yaml)\n  services  1 (1 process)\n  networks  1 (local)\n  start order\n    1. api\nvalid, 1 warning\n",
				Stderr: "services.yaml:6:13: warning: service \"api\": binary ./bin/api does not exist yet\n",
			},
		},
		{
			name: "invalid: errors first, then warnings, summary of what was read",
			files: map[string]string{"services.yaml": `version: "1.0"
name: broken
services:
  api:
    type: docker
    image: api:1
    env: {A: "${UNSET}"}
    dependencies: [db]
  web:
    type: lambda
`},
			args: []string{"validate"},
			want: result{
				Code:   2,
				Stdout: "stack broken (services.yaml)\n  services  2 (1 docker, 1 lambda)\n  networks  1 (local)\n  start order\n    1. api, web\ninvalid: 2 errors, 1 warning\n",
				Stderr: `services.yaml:8:20: service "api": unknown dependency "db" (known services: api, web)
services.yaml:10:11: service "web": unknown type "lambda"; want one of process, docker, remote, package
services.yaml:7:15: warning: variable UNSET is not set; using an empty string
`,
			},
		},
		{
			name: "a cycle hides the start order",
			files: map[string]string{"services.yaml": `version: "1.0"
name: loop
services:
  a: {type: docker, image: a, dependencies: [b]}
  b: {type: docker, image: b, dependencies: [a]}
`},
			args: []string{"validate"},
			want: result{
				Code:   2,
				Stdout: "stack loop (services.yaml)\n  services  2 (2 docker)\n  networks  1 (local)\ninvalid: 1 error\n",
				Stderr: "services.yaml:4:46: dependency cycle: a → b → a\n",
			},
		},
		{
			name: "strict makes an unset variable an error",
			files: map[string]string{"services.yaml": `version: "1.0"
name: strict
services: {api: {type: docker, image: "api:${TAG}"}}
`},
			args: []string{"validate", "--strict"},
			want: result{
				Code:   2,
				Stdout: "stack strict (services.yaml)\n  services  1 (1 docker)\n  networks  1 (local)\n  start order\n    1. api\ninvalid: 1 error\n",
				Stderr: "services.yaml:3:44: variable TAG is not set\n",
			},
		},
		{
			name: "strict with the variable set",
			files: map[string]string{"services.yaml": `version: "1.0"
name: strict
services: {api: {type: docker, image: "api:${TAG}"}}
`},
			environ: []string{"TAG=1"},
			args:    []string{"validate", "--strict"},
			want:    result{Stdout: "stack strict (services.yaml)\n  services  1 (1 docker)\n  networks  1 (local)\n  start order\n    1. api\nvalid\n"},
		},
		{
			name:  "a YAML syntax error",
			files: map[string]string{"services.yaml": "version: \"1.0\"\nservices: [\n"},
			args:  []string{"validate", "-q"},
			want:  result{Code: 2, Stderr: "services.yaml:3:1: did not find expected node content\n"},
		},
		{
			name:    "HARNESS_CONFIG names the file",
			files:   map[string]string{"sub/stack.yaml": shop, "sub/bin/api": ""},
			environ: []string{"HARNESS_CONFIG=sub/stack.yaml"},
			args:    []string{"validate"},
			want:    result{Stdout: "stack shop (sub/stack.yaml)\n" + shopSummary[len("stack shop (services.yaml)\n"):] + "valid\n"},
		},
		{
			name:    "-c wins over HARNESS_CONFIG",
			files:   map[string]string{"sub/stack.yaml": shop, "sub/bin/api": ""},
			environ: []string{"HARNESS_CONFIG=nope.yaml"},
			args:    []string{"-c", "sub/stack.yaml", "validate", "-q"},
			want:    result{},
		},
		{
			name:  "missing default file",
			files: nil,
			args:  []string{"validate"},
			want:  result{Code: 2, Stderr: "harness: config file services.yaml does not exist (use -c FILE or set HARNESS_CONFIG)\n"},
		},
		{
			name:  "missing -c file",
			files: nil,
			args:  []string{"validate", "-c", "x.yaml"},
			want:  result{Code: 2, Stderr: "harness: config file x.yaml does not exist\n"},
		},
		{
			name:    "missing HARNESS_CONFIG file",
			environ: []string{"HARNESS_CONFIG=x.yaml"},
			args:    []string{"validate"},
			want:    result{Code: 2, Stderr: "harness: config file x.yaml (from $HARNESS_CONFIG) does not exist\n"},
		},
		{
			name:  "verbose names the file and its source",
			files: shopFiles,
			args:  []string{"validate", "-v", "-q", "--config", "services.yaml"},
			want:  result{Stderr: "harness: config services.yaml (from -c)\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.files, tc.environ, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("harness %q (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

// validateJSON mirrors the documented JSON report of validate.
type validateJSON struct {
	Stack       string           `json:"stack"`
	File        string           `json:"file"`
	Valid       bool             `json:"valid"`
	Services    int              `json:"services"`
	Networks    int              `json:"networks"`
	Levels      [][]string       `json:"levels"`
	Diagnostics []diagnosticJSON `json:"diagnostics"`
}

type diagnosticJSON struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

func TestValidateJSON(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		args       []string
		wantCode   int
		want       validateJSON
		wantStderr string
	}{
		{
			name:  "valid: diagnostics is an empty array",
			files: shopFiles,
			args:  []string{"validate", "-o", "json"},
			want: validateJSON{
				Stack: "shop", File: "services.yaml", Valid: true, Services: 3, Networks: 1,
				Levels:      [][]string{{"db", "cache"}, {"api"}},
				Diagnostics: []diagnosticJSON{},
			},
			wantStderr: "valid\n",
		},
		{
			name: "invalid",
			files: map[string]string{"services.yaml": `version: "1.0"
name: broken
networks:
  lan: {type: lan, subnet: 10.0.0.0/24}
services:
  api:
    type: docker
    image: api:1
    dependencies: [db]
`},
			args:     []string{"--json", "validate"},
			wantCode: 2,
			want: validateJSON{
				Stack: "broken", File: "services.yaml", Valid: false, Services: 1, Networks: 2,
				Levels: [][]string{{"api"}},
				Diagnostics: []diagnosticJSON{
					{File: "services.yaml", Line: 9, Col: 20, Severity: "error", Message: `service "api": unknown dependency "db" (known services: api)`},
					{File: "services.yaml", Line: 4, Col: 3, Severity: "warning", Message: `network "lan" is not used by any service`},
				},
			},
			wantStderr: "services.yaml:9:20: service \"api\": unknown dependency \"db\" (known services: api)\n" +
				"services.yaml:4:3: warning: network \"lan\" is not used by any service\n" +
				"invalid: 1 error, 1 warning\n",
		},
		{
			name: "a cycle: levels is null",
			files: map[string]string{"services.yaml": `version: "1.0"
name: loop
services:
  a: {type: docker, image: a, dependencies: [a]}
`},
			args:     []string{"validate", "-o", "json", "-q"},
			wantCode: 2,
			want: validateJSON{
				Stack: "loop", File: "services.yaml", Services: 1, Networks: 1,
				Diagnostics: []diagnosticJSON{
					{File: "services.yaml", Line: 4, Col: 46, Severity: "error", Message: `service "a" depends on itself`},
				},
			},
			wantStderr: "services.yaml:4:46: service \"a\" depends on itself\n",
		},
		{
			name:  "no services: levels is an empty array",
			files: map[string]string{"services.yaml": "version: \"1.0\"\nname: empty\nservices: {}\n"},
			args:  []string{"validate", "-o", "json", "-q"},
			want: validateJSON{
				Stack: "empty", File: "services.yaml", Valid: true, Networks: 1,
				Levels: [][]string{}, Diagnostics: []diagnosticJSON{},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, tc.files, nil, tc.args...)
			got := decode[validateJSON](t, res.Stdout)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStderr, res.Stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if res.Code != tc.wantCode {
				t.Errorf("exit code %d, want %d", res.Code, tc.wantCode)
			}
		})
	}
}
