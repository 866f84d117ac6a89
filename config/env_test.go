package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
)

// envStackDoc has services of every placement: local processes and containers, and remote
// services on two LAN nodes.
const envStackDoc = `version: "1.0"
name: shop
networks:
  lan:
    type: lan
    subnet: 192.168.1.0/24
    nodes:
      - {name: db1, host: 192.168.1.10, ssh_user: deploy}
      - {name: app1, host: app1.internal, ssh_user: deploy}
services:
  db-main:
    type: docker
    image: postgres:15
    ports: ["5433:5432"]
  cache:
    type: process
    binary: sh
    ports: [6379]
  api:
    type: process
    binary: sh
    env:
      DB: postgres://u@${db-main.addr}/app
      HARNESS_SERVICE: custom
      CACHE_PORT: "1"
    dependencies: [db-main, cache]
  web:
    type: docker
    image: web
  worker:
    type: remote
    host: db1
    binary: /usr/local/bin/worker
    ports: [9000]
  edge:
    type: remote
    host: app1
    image: edge
    command: ["--worker", "${worker.addr}"]
  plain:
    type: docker
    image: plain
`

// loadEnvStack parses envStackDoc with an empty environment.
func loadEnvStack(t *testing.T) *config.Stack {
	t.Helper()
	stack, err := config.Parse(filepath.Join(t.TempDir(), "services.yaml"), []byte(envStackDoc), config.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return stack
}

func mustService(t *testing.T, s *config.Stack, name string) *config.Service {
	t.Helper()
	svc := s.Service(name)
	if svc == nil {
		t.Fatalf("no service %q", name)
	}
	return svc
}

func TestStaticResolver(t *testing.T) {
	stack := loadEnvStack(t)
	props := []string{config.PropIP, config.PropPort, config.PropHost, config.PropAddr}
	tests := []struct {
		name     string
		from, to string
		want     []string // ip, port, host, addr
		wantErr  string
	}{
		{
			name: "process to published container: loopback and host port",
			from: "api", to: "db-main",
			want: []string{"127.0.0.1", "5433", "127.0.0.1", "127.0.0.1:5433"},
		},
		{
			name: "container to container: name and container port on the bridge",
			from: "web", to: "db-main",
			want: []string{"db-main", "5432", "db-main", "db-main:5432"},
		},
		{
			name: "process to process",
			from: "api", to: "cache",
			want: []string{"127.0.0.1", "6379", "127.0.0.1", "127.0.0.1:6379"},
		},
		{
			name: "without ports: no port, addr is the host",
			from: "web", to: "plain",
			want: []string{"plain", "", "plain", "plain"},
		},
		{
			name: "local to remote: the node's host",
			from: "api", to: "worker",
			want: []string{"192.168.1.10", "9000", "192.168.1.10", "192.168.1.10:9000"},
		},
		{
			name: "remote to another node",
			from: "edge", to: "worker",
			want: []string{"192.168.1.10", "9000", "192.168.1.10", "192.168.1.10:9000"},
		},
		{
			name: "remote to local: only known when running",
			from: "worker", to: "db-main",
			wantErr: `the address of "db-main" as seen from node "db1" is known only when the stack runs`,
		},
		{
			name: "unknown service",
			from: "api", to: "ghost",
			wantErr: `unknown service "ghost"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resolve := stack.StaticResolver(mustService(t, stack, tt.from))
			var got []string
			for _, p := range props {
				v, err := resolve(config.Ref{Service: tt.to, Property: p})
				if err != nil {
					if err.Error() != tt.wantErr {
						t.Fatalf("resolve %s.%s: %v, want error %q", tt.to, p, err, tt.wantErr)
					}
					return
				}
				got = append(got, v)
			}
			if tt.wantErr != "" {
				t.Fatalf("resolve %s: no error, want %q", tt.to, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("resolve %s from %s (-want +got):\n%s", tt.to, tt.from, diff)
			}
		})
	}
}

func TestEnviron(t *testing.T) {
	stack := loadEnvStack(t)
	tests := []struct {
		service string
		want    []string
		wantErr string
	}{
		{
			// env first, in file order; then HARNESS_* and D_HOST/D_PORT/D_ADDR per dependency,
			// "-" → "_", skipping the names env sets itself (HARNESS_SERVICE, CACHE_PORT).
			service: "api",
			want: []string{
				"DB=postgres://u@127.0.0.1:5433/app",
				"HARNESS_SERVICE=custom",
				"CACHE_PORT=1",
				"HARNESS_STACK=shop",
				"DB_MAIN_HOST=127.0.0.1",
				"DB_MAIN_PORT=5433",
				"DB_MAIN_ADDR=127.0.0.1:5433",
				"CACHE_HOST=127.0.0.1",
				"CACHE_ADDR=127.0.0.1:6379",
			},
		},
		{
			service: "plain",
			want:    []string{"HARNESS_STACK=shop", "HARNESS_SERVICE=plain"},
		},
		{
			// A reference implies a dependency, which gets its variables too.
			service: "edge",
			want: []string{
				"HARNESS_STACK=shop",
				"HARNESS_SERVICE=edge",
				"WORKER_HOST=192.168.1.10",
				"WORKER_PORT=9000",
				"WORKER_ADDR=192.168.1.10:9000",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			svc := mustService(t, stack, tt.service)
			got, err := stack.Environ(svc, stack.StaticResolver(svc))
			if err != nil {
				t.Fatalf("Environ: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Environ(%s) (-want +got):\n%s", tt.service, diff)
			}
		})
	}
}

func TestEnvironResolveError(t *testing.T) {
	stack := loadEnvStack(t)
	svc := mustService(t, stack, "api")
	boom := errors.New("boom")
	_, err := stack.Environ(svc, func(config.Ref) (string, error) { return "", boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Environ error = %v, want one wrapping %v", err, boom)
	}
	if want := `service "api": env DB: resolve ${db-main.addr}: boom`; err.Error() != want {
		t.Errorf("Environ error = %q, want %q", err, want)
	}
}

func TestEnvPrefix(t *testing.T) {
	for in, want := range map[string]string{"db": "DB", "db-main": "DB_MAIN", "my_svc-2": "MY_SVC_2"} {
		if got := config.EnvPrefix(in); got != want {
			t.Errorf("EnvPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDotenv reads a .env beside the file: each case is the file's lines, the value that
// ${X-<unset>} takes in services.yaml, and the diagnostics as FILE:LINE:COL: message. The
// environment of the command (NAME=world) wins over the file for ${X} in services.yaml.
func TestDotenv(t *testing.T) {
	tests := []struct {
		name  string
		lines string
		want  string
		diags []string
	}{
		{name: "plain", lines: "X=plain", want: "plain"},
		{name: "spaces around", lines: "  X = spaced out  ", want: "spaced out"},
		{name: "empty is set", lines: "X=", want: ""},
		{name: "export", lines: "export X=1", want: "1"},
		{name: "export with spaces", lines: "export   X=1", want: "1"},
		{name: "double quotes", lines: `X="a # b  "`, want: "a # b  "},
		{name: "single quotes are literal", lines: `X='$Y ${Y} \n'`, want: `$Y ${Y} \n`},
		{name: "escapes in double quotes", lines: `X="a\nb\tc\"d\\e\qf"`, want: "a\nb\tc\"d\\eqf"},
		{name: "comment after value", lines: "X=value # comment", want: "value"},
		{name: "hash inside value", lines: "X=a#b", want: "a#b"},
		{name: "comment after quotes", lines: `X="quoted" # comment`, want: "quoted"},
		{name: "comments and blank lines", lines: "# X=no\n\n   # indented\nX=yes\n", want: "yes"},
		{name: "later line wins", lines: "X=1\nX=2", want: "2"},
		{name: "CRLF", lines: "X=crlf\r\nY=1\r\n", want: "crlf"},
		{name: "interpolates the environment", lines: "X=${NAME}!", want: "world!"},
		{name: "interpolates earlier lines", lines: "Y=one\nX=${Y}-two", want: "one-two"},
		{name: "interpolates in double quotes", lines: `X="${NAME} ${UNSET:-d}"`, want: "world d"},
		// Inside the file, a line above wins over the command environment (which wins for
		// ${NAME} in services.yaml itself).
		{name: "earlier line wins inside the file", lines: "NAME=dotenv\nX=${NAME}", want: "dotenv"},
		{name: "unset", lines: "Y=1", want: "<unset>"},
		{name: "the environment fills names not yet defined", lines: "X=${NAME}\nNAME=dotenv", want: "world"},
		{
			name: "not an assignment", lines: "X=1\njust words",
			want: "1", diags: []string{`.env:2:1: want NAME=value, got "just words"`},
		},
		{
			name: "invalid name", lines: "  1X=2",
			want: "<unset>", diags: []string{`.env:1:3: want NAME=value, got "1X=2"`},
		},
		{
			name: "unterminated single quote", lines: "X='abc",
			want: "<unset>", diags: []string{".env:1:4: X: unterminated single quote"},
		},
		{
			name: "unterminated double quote", lines: `export X = "abc`,
			want: "<unset>", diags: []string{".env:1:13: X: unterminated double quote"},
		},
		{
			name: "interpolation error column", lines: `X="ab ${"`,
			want: "ab ${", diags: []string{".env:1:7: ${: missing closing brace"},
		},
		{
			name: "unset variable warns", lines: "X=${NOPE}",
			want: "", diags: []string{".env:1:3: warning: variable NOPE is not set; using an empty string"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.lines), 0o644); err != nil {
				t.Fatal(err)
			}
			doc := "version: \"1.0\"\nservices:\n  s:\n    type: docker\n    image: x\n    env: {X: \"${X-<unset>}\"}\n"
			env := map[string]string{"NAME": "world"}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			stack, err := config.Parse(filepath.Join(dir, "services.yaml"), []byte(doc), config.Options{Lookup: lookup})
			got := reported(t, stack, err, dir+string(filepath.Separator))
			if diff := cmp.Diff(tt.diags, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if len(stack.Services) == 0 {
				t.Fatal("no service decoded")
			}
			v, _ := stack.Services[0].Env.Lookup("X")
			value, err := v.Render(nil)
			if err != nil {
				t.Fatal(err)
			}
			if value != tt.want {
				t.Errorf("X = %q, want %q", value, tt.want)
			}
		})
	}
}
