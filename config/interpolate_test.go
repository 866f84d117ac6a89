package config_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
)

// interpolationDoc is the document the interpolation tables load: the value under test is
// written after "V: " on line 7, so it starts at column 10. Service db exists for references.
const interpolationDoc = `version: "1.0"
services:
  s:
    type: docker
    image: x
    env:
      V: %VALUE%
  db:
    type: docker
    image: postgres
    ports: ["5432"]
`

// interpolationEnv is the environment of every interpolation case.
var interpolationEnv = map[string]string{"NAME": "world", "EMPTY": "", "PORT": "8080"}

// interpolated is what one value becomes: the rendered value (references rendered as
// <service.property>) and every diagnostic as LINE:COL: message.
type interpolated struct {
	Value string
	Diags []string
}

// interpolateValue loads interpolationDoc with value written as the YAML source of V.
func interpolateValue(t *testing.T, value string, strict bool) interpolated {
	t.Helper()
	doc := strings.Replace(interpolationDoc, "%VALUE%", value, 1)
	lookup := func(k string) (string, bool) { v, ok := interpolationEnv[k]; return v, ok }
	path := filepath.Join(t.TempDir(), "services.yaml")
	stack, err := config.Parse(path, []byte(doc), config.Options{Lookup: lookup, Strict: strict})
	got := interpolated{Diags: reported(t, stack, err, path+":")}
	if err == nil {
		v, _ := stack.Services[0].Env.Lookup("V")
		got.Value, err = v.Render(func(r config.Ref) (string, error) { return "<" + r.Service + "." + r.Property + ">", nil })
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
	}
	return got
}

func TestInterpolate(t *testing.T) {
	tests := []struct {
		name   string
		value  string // YAML source of the value
		strict bool
		want   interpolated
	}{
		// Plain values and variables.
		{name: "no dollar", value: "hello world", want: interpolated{Value: "hello world"}},
		{name: "variable", value: "${NAME}", want: interpolated{Value: "world"}},
		{name: "variable in text", value: "pre-${NAME}-post", want: interpolated{Value: "pre-world-post"}},
		{name: "two variables", value: "${NAME}${PORT}", want: interpolated{Value: "world8080"}},
		{name: "double quoted", value: `"${NAME}"`, want: interpolated{Value: "world"}},
		{name: "single quoted", value: `'${NAME}'`, want: interpolated{Value: "world"}},
		{name: "empty variable", value: "<${EMPTY}>", want: interpolated{Value: "<>"}},
		{
			name: "unset is a warning", value: "${UNSET}",
			want: interpolated{Diags: []string{"7:10: warning: variable UNSET is not set; using an empty string"}},
		},
		{
			name: "unset, strict", value: "${UNSET}", strict: true,
			want: interpolated{Diags: []string{"7:10: variable UNSET is not set"}},
		},
		{
			name: "two unset", value: "${A} ${B}",
			want: interpolated{Value: " ", Diags: []string{
				"7:10: warning: variable A is not set; using an empty string",
				"7:15: warning: variable B is not set; using an empty string",
			}},
		},
		{name: "lower-case name", value: "${name_1}", want: interpolated{Diags: []string{"7:10: warning: variable name_1 is not set; using an empty string"}}},

		// Defaults.
		{name: ":- set", value: "${NAME:-d}", want: interpolated{Value: "world"}},
		{name: ":- empty", value: "${EMPTY:-d}", want: interpolated{Value: "d"}},
		{name: ":- unset", value: "${UNSET:-d}", want: interpolated{Value: "d"}},
		{name: "- set", value: "${NAME-d}", want: interpolated{Value: "world"}},
		{name: "- empty", value: "<${EMPTY-d}>", want: interpolated{Value: "<>"}},
		{name: "- unset", value: "${UNSET-d}", want: interpolated{Value: "d"}},
		{name: "empty default", value: "<${UNSET:-}>", want: interpolated{Value: "<>"}},
		{name: "default with colons", value: "${UNSET:-http://x:80/a}", want: interpolated{Value: "http://x:80/a"}},
		{name: "default with hyphens", value: "${UNSET-a-b-c}", want: interpolated{Value: "a-b-c"}},
		{name: "default with spaces", value: "'${UNSET:-a b}'", want: interpolated{Value: "a b"}},
		{name: "default ends at first brace", value: "${UNSET:-a}b}", want: interpolated{Value: "ab}"}},
		{name: "unused default is not checked", value: "${NAME:-${UNSET}}", want: interpolated{Value: "world"}},

		// Required.
		{name: ":? set", value: "${NAME:?need it}", want: interpolated{Value: "world"}},
		{name: "? set", value: "${NAME?need it}", want: interpolated{Value: "world"}},
		{name: "? empty", value: "<${EMPTY?need it}>", want: interpolated{Value: "<>"}},
		{
			name: ":? empty", value: "${EMPTY:?need it}",
			want: interpolated{Diags: []string{"7:10: required variable EMPTY is unset or empty: need it"}},
		},
		{
			name: ":? unset", value: "x${UNSET:?need X}",
			want: interpolated{Diags: []string{"7:11: required variable UNSET is unset or empty: need X"}},
		},
		{
			name: "? unset", value: "${UNSET?need X}",
			want: interpolated{Diags: []string{"7:10: required variable UNSET is unset: need X"}},
		},
		{
			name: ":? without message", value: "${UNSET:?}",
			want: interpolated{Diags: []string{"7:10: required variable UNSET is unset or empty"}},
		},
		{
			name: ":? message interpolates", value: "${UNSET:?set ${NAME}}",
			want: interpolated{Diags: []string{"7:10: required variable UNSET is unset or empty: set world"}},
		},

		// Alternatives.
		{name: ":+ set", value: "${NAME:+alt}", want: interpolated{Value: "alt"}},
		{name: ":+ empty", value: "<${EMPTY:+alt}>", want: interpolated{Value: "<>"}},
		{name: ":+ unset", value: "<${UNSET:+alt}>", want: interpolated{Value: "<>"}},
		{name: "+ set", value: "${NAME+alt}", want: interpolated{Value: "alt"}},
		{name: "+ empty", value: "${EMPTY+alt}", want: interpolated{Value: "alt"}},
		{name: "+ unset", value: "<${UNSET+alt}>", want: interpolated{Value: "<>"}},

		// Nesting.
		{name: "nested default", value: "${UNSET:-${ALSO_UNSET:-x}}", want: interpolated{Value: "x"}},
		{name: "nested variable", value: "${UNSET:-${NAME}}", want: interpolated{Value: "world"}},
		{name: "nested with text", value: "${UNSET:-a${NAME}b}", want: interpolated{Value: "aworldb"}},
		{name: "three deep", value: "${A:-${B:-${C:-deep}}}", want: interpolated{Value: "deep"}},
		{name: "nested alternative", value: "${NAME:+${PORT}}", want: interpolated{Value: "8080"}},
		{name: "nested reference", value: "${UNSET:-${db.addr}}", want: interpolated{Value: "<db.addr>"}},
		{
			name: "nested unset warns at the inner brace", value: "${UNSET:-${INNER}}",
			want: interpolated{Diags: []string{"7:19: warning: variable INNER is not set; using an empty string"}},
		},

		// Escaping and bare dollars.
		{name: "$$", value: "$$", want: interpolated{Value: "$"}},
		{name: "$$ before brace", value: "$${NAME}", want: interpolated{Value: "${NAME}"}},
		{name: "$$$ then variable", value: "$$${NAME}", want: interpolated{Value: "$world"}},
		{name: "$$$$", value: "$$$$", want: interpolated{Value: "$$"}},
		{name: "bare $VAR", value: "$NAME", want: interpolated{Value: "$NAME"}},
		{name: "lone $", value: "a $ b", want: interpolated{Value: "a $ b"}},
		{name: "trailing $", value: "cost 5$", want: interpolated{Value: "cost 5$"}},
		{name: "shell snippet", value: `'echo $HOME $$PATH $(pwd) $1'`, want: interpolated{Value: "echo $HOME $PATH $(pwd) $1"}},
		{name: "$$ in default", value: "${UNSET:-$$x}", want: interpolated{Value: "$x"}},

		// Service references.
		{name: "reference", value: "${db.ip}", want: interpolated{Value: "<db.ip>"}},
		{name: "every property", value: "${db.ip} ${db.port} ${db.host} ${db.addr}", want: interpolated{Value: "<db.ip> <db.port> <db.host> <db.addr>"}},
		{name: "reference in url", value: "http://${db.addr}/x?y=${NAME}", want: interpolated{Value: "http://<db.addr>/x?y=world"}},
		{
			name: "unknown property", value: "${db.nope}",
			want: interpolated{Diags: []string{`7:10: ${db.nope}: unknown property "nope" of service "db" (want ip, port, host, addr)`}},
		},
		{
			name: "unknown service", value: "x ${ghost.ip}",
			want: interpolated{Diags: []string{`7:12: ${ghost.ip}: unknown service "ghost" (known services: s, db)`}},
		},
		{
			name: "unknown service with hint", value: "${dbb.ip}",
			want: interpolated{Diags: []string{`7:10: ${dbb.ip}: unknown service "dbb"; did you mean "db"?`}},
		},
		{
			name: "reference with default", value: "${db.ip:-x}",
			want: interpolated{Diags: []string{"7:10: ${db.ip:-x}: a service reference takes no default or modifier"}},
		},
		{
			name: "upper-case service", value: "${DB.ip}",
			want: interpolated{Diags: []string{`7:10: ${DB.ip}: invalid service name "DB"`}},
		},

		// Syntax errors, at the "${".
		{name: "unterminated", value: "${", want: interpolated{Diags: []string{"7:10: ${: missing closing brace"}}},
		{name: "unterminated name", value: "abc ${NAME", want: interpolated{Diags: []string{"7:14: ${NAME: missing closing brace"}}},
		{name: "unterminated default", value: "${NAME:-x", want: interpolated{Diags: []string{"7:10: ${NAME:-x: missing closing brace"}}},
		{name: "unterminated nested", value: "${A:-${B:-x}", want: interpolated{Diags: []string{"7:10: ${A:-${B:-x}: missing closing brace"}}},
		{name: "unterminated reference", value: "${db.ip", want: interpolated{Diags: []string{"7:10: ${db.ip: missing closing brace"}}},
		{
			name: "empty name", value: "${}",
			want: interpolated{Diags: []string{`7:10: ${}: invalid variable name "" (names match [A-Za-z_][A-Za-z0-9_]*)`}},
		},
		{
			name: "name starts with digit", value: "${1X}",
			want: interpolated{Diags: []string{`7:10: ${1X}: invalid variable name "1X" (names match [A-Za-z_][A-Za-z0-9_]*)`}},
		},
		{
			name: "space in name", value: "'${A B}'",
			want: interpolated{Diags: []string{`7:11: ${A B}: invalid variable name "A B" (names match [A-Za-z_][A-Za-z0-9_]*)`}},
		},
		{
			name: "colon without operator", value: "${NAME:x}",
			want: interpolated{Diags: []string{`7:10: ${NAME:x}: invalid variable name "NAME:x" (names match [A-Za-z_][A-Za-z0-9_]*)`}},
		},
		{
			name: "lower-case hyphenated name", value: "${lower-case-bad!}",
			want: interpolated{Diags: []string{`7:10: ${lower-case-bad!}: invalid variable name "lower-case-bad!" (names match [A-Za-z_][A-Za-z0-9_]*); for a default write ${lower:-…}, for a service write ${lower-case-bad.ip}`}},
		},
		{
			name: "hyphenated service name without property", value: "${my-svc}",
			want: interpolated{Diags: []string{`7:10: ${my-svc}: invalid variable name "my-svc" (names match [A-Za-z_][A-Za-z0-9_]*); for a default write ${my:-…}, for a service write ${my-svc.ip}`}},
		},

		// Columns count characters and the quoting of the source.
		{name: "column after double quote", value: `"ab ${}"`, want: interpolated{Diags: []string{`7:14: ${}: invalid variable name "" (names match [A-Za-z_][A-Za-z0-9_]*)`}}},
		{name: "column after '' in single quotes", value: `'it''s ${}'`, want: interpolated{Diags: []string{`7:17: ${}: invalid variable name "" (names match [A-Za-z_][A-Za-z0-9_]*)`}}},
		{name: "column after multi-byte characters", value: `"héllo wörld ${}"`, want: interpolated{Diags: []string{`7:23: ${}: invalid variable name "" (names match [A-Za-z_][A-Za-z0-9_]*)`}}},
		{name: "multi-line value points at its start", value: "|\n        line one\n        ${}", want: interpolated{Diags: []string{`7:10: ${}: invalid variable name "" (names match [A-Za-z_][A-Za-z0-9_]*)`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := interpolateValue(t, tt.value, tt.strict)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("value %s (-want +got):\n%s", tt.value, diff)
			}
		})
	}
}

// TestInterpolateEverywhere checks that interpolation reaches values of every type, never
// keys, and that a reference is refused where it cannot be resolved per caller.
func TestInterpolateEverywhere(t *testing.T) {
	doc := `version: "1.0"
name: ${STACK:-shop}
settings:
  parallelism: ${PAR}
  health_check_interval: ${IV:-7s}
services:
  api:
    type: docker
    image: api:${TAG:-latest}
    env:
      ${NAME}: kept
    ports: ["${PORT}:80"]
    health_check:
      tcp: ${PORT}
  web:
    type: docker
    image: ${api.ip}
`
	env := map[string]string{"PAR": "4", "PORT": "8080", "NAME": "world"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	path := filepath.Join(t.TempDir(), "services.yaml")
	stack, err := config.Parse(path, []byte(doc), config.Options{Lookup: lookup})
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Parse: %v; want the reference in image refused", err)
	}
	var diags []string
	for _, d := range cerr.Diagnostics {
		diags = append(diags, strings.TrimPrefix(d.String(), path+":"))
	}
	wantDiags := []string{
		// The reference is dropped from image, which is then missing.
		`15:3: service "web": image or build is required for a docker service`,
		"17:12: ${api.ip}: a service reference cannot be used in service \"web\": image (only in args, command, entrypoint, env and health checks)",
	}
	if diff := cmp.Diff(wantDiags, diags); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}

	api := stack.Services[0]
	type summary struct {
		Name        string
		Parallelism int
		Interval    string
		Image       string
		EnvNames    []string
		Published   int
		TCPPort     int
	}
	got := summary{
		Name:        stack.Name,
		Parallelism: stack.Settings.Parallelism,
		Interval:    stack.Settings.HealthCheckInterval.String(),
		Image:       api.Image,
		Published:   api.Ports[0].Published,
		TCPPort:     api.HealthCheck.TCP.Port,
	}
	for _, e := range api.Env {
		got.EnvNames = append(got.EnvNames, e.Name)
	}
	want := summary{
		Name:        "shop",
		Parallelism: 4,
		Interval:    "7s",
		Image:       "api:latest",
		EnvNames:    []string{"${NAME}"}, // keys are never interpolated
		Published:   8080,
		TCPPort:     8080,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stack (-want +got):\n%s", diff)
	}
}

// TestParseTemplate checks the canonical form that MarshalText writes and ParseTemplate reads.
func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in      string
		refs    []config.Ref
		wantErr bool
	}{
		{in: "plain"},
		{in: "$$HOME and $$"},
		{in: "${db.addr}", refs: []config.Ref{{Service: "db", Property: "addr"}}},
		{in: "a${db.ip}:${cache.port}b", refs: []config.Ref{{Service: "db", Property: "ip"}, {Service: "cache", Property: "port"}}},
		{in: "${NAME}", wantErr: true},
		{in: "${", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tmpl, err := config.ParseTemplate(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseTemplate(%q) error = %v, want error: %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.refs, tmpl.Refs()); diff != "" {
				t.Errorf("Refs (-want +got):\n%s", diff)
			}
			if got := tmpl.String(); got != tt.in {
				t.Errorf("String() = %q, want %q", got, tt.in)
			}
		})
	}
}

// TestInterpolateCommandColumns checks the columns of problems inside a command written as
// one string: the string is split into words first, and quotes and backslashes take columns
// of the line but not bytes of the word.
func TestInterpolateCommandColumns(t *testing.T) {
	tests := []struct {
		command string // YAML source after "    command: ", which starts the value at column 14
		want    []string
	}{
		{command: `run ${}`, want: []string{`7:18: ${}: invalid variable name "" (names match [A-Za-z_][A-Za-z0-9_]*)`}},
		{command: `sh -c "echo ${}"`, want: []string{`7:26: ${}: invalid variable name "" (names match [A-Za-z_][A-Za-z0-9_]*)`}},
		{command: `sh -c 'a'"b"\ ${UNSET}`, want: []string{`7:28: warning: variable UNSET is not set; using an empty string`}},
		{command: `'sh -c "x \" ${UNSET}"'`, want: []string{`7:27: warning: variable UNSET is not set; using an empty string`}},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			doc := "version: \"1.0\"\nservices:\n  s:\n    type: docker\n    image: x\n    env: {}\n    command: " + tt.command + "\n"
			path := filepath.Join(t.TempDir(), "services.yaml")
			stack, err := config.Parse(path, []byte(doc), config.Options{Lookup: func(string) (string, bool) { return "", false }})
			got := reported(t, stack, err, path+":")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("command %s (-want +got):\n%s", tt.command, diff)
			}
		})
	}
}
