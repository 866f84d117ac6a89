package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/cli"
)

// result is what one run of the command line left behind.
type result struct {
	Code           int
	Stdout, Stderr string
}

// run runs Main with args and environ in a new temporary directory holding files (path →
// content), and returns what it printed and its exit code.
func run(t *testing.T, files map[string]string, environ []string, args ...string) result {
	t.Helper()
	workDir(t, files)
	var stdout, stderr bytes.Buffer
	code := cli.Main(t.Context(), cli.Options{
		Args:    args,
		Stdout:  &stdout,
		Stderr:  &stderr,
		Environ: environ,
		Version: "v1.2.3",
	})
	return result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
}

// workDir makes a new temporary directory holding files (path → content) the working
// directory of the test.
func workDir(t *testing.T, files map[string]string) {
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
	t.Chdir(dir)
}

// decode parses s as JSON into a new V.
func decode[V any](t *testing.T, s string) V {
	t.Helper()
	var v V
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

const shop = `version: "1.0"
name: shop
services:
  db:
    type: docker
    image: postgres:15
    ports: ["5432:5432"]
    health_check: {command: pg_isready}
  cache:
    type: docker
    image: redis:7
  api:
    type: process
    binary: ./bin/api
    env: {LOG_LEVEL: debug}
    dependencies: [db, {service: cache, condition: started}]
`

// shopFiles is a valid stack without warnings.
var shopFiles = map[string]string{"services.yaml": shop, "bin/api": ""}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want result
	}{
		{
			name: "unknown command",
			args: []string{"frobnicate"},
			want: result{Code: 2, Stderr: "harness: unknown command \"frobnicate\"; run 'harness --help'\n"},
		},
		{
			name: "unknown command with a suggestion",
			args: []string{"valdate"},
			want: result{Code: 2, Stderr: "harness: unknown command \"valdate\" (did you mean \"validate\"?); run 'harness --help'\n"},
		},
		{
			name: "unknown subcommand",
			args: []string{"config", "bogus"},
			want: result{Code: 2, Stderr: "harness: unknown command \"bogus\" for \"harness config\"; run 'harness config --help'\n"},
		},
		{
			name: "unknown flag",
			args: []string{"validate", "--bogus"},
			want: result{Code: 2, Stderr: "harness: unknown flag: --bogus; run 'harness validate --help'\n"},
		},
		{
			name: "unknown shorthand flag",
			args: []string{"-x", "version"},
			want: result{Code: 2, Stderr: "harness: unknown shorthand flag: 'x' in -x; run 'harness --help'\n"},
		},
		{
			name: "unknown output format",
			args: []string{"-o", "yaml", "version"},
			want: result{Code: 2, Stderr: "harness: invalid argument \"yaml\" for \"-o, --output\" flag: want table or json; run 'harness version --help'\n"},
		},
		{
			name: "argument to a command without arguments",
			args: []string{"version", "now"},
			want: result{Code: 2, Stderr: "harness: unexpected argument \"now\"; run 'harness version --help'\n"},
		},
		{
			name: "missing argument",
			args: []string{"config", "env"},
			want: result{Code: 2, Stderr: "harness: missing SERVICE; run 'harness config env --help'\n"},
		},
		{
			name: "too many arguments",
			args: []string{"config", "env", "a", "b"},
			want: result{Code: 2, Stderr: "harness: too many arguments: want one SERVICE, got 2; run 'harness config env --help'\n"},
		},
		{
			name: "unknown shell",
			args: []string{"completion", "tcsh"},
			want: result{Code: 2, Stderr: "harness: unknown shell \"tcsh\"; want bash, zsh or fish; run 'harness completion --help'\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, shopFiles, nil, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("harness %q (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{nil, {"--help"}, {"config"}, {"help", "validate"}} {
		got := run(t, nil, nil, args...)
		if got.Code != 0 || !bytes.Contains([]byte(got.Stdout), []byte("Usage:")) || got.Stderr != "" {
			t.Errorf("harness %q = %+v; want usage on stdout, exit 0", args, got)
		}
	}
}

func TestVersion(t *testing.T) {
	got := run(t, nil, nil, "version")
	want := result{Stdout: "harness v1.2.3 (" + goVersion() + ")\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version (-want +got):\n%s", diff)
	}

	got = run(t, nil, nil, "version", "-o", "json")
	if got.Code != 0 || got.Stderr != "" {
		t.Fatalf("version -o json = %+v", got)
	}
	type info struct{ Version, Go, OS, Arch string }
	v := decode[info](t, got.Stdout)
	if diff := cmp.Diff(goVersion(), v.Go+" "+v.OS+"/"+v.Arch); diff != "" || v.Version != "v1.2.3" {
		t.Errorf("version -o json = %+v (-want +got):\n%s", v, diff)
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "# bash completion V2 for harness",
		"zsh":  "#compdef harness",
		"fish": "# fish completion for harness",
	} {
		got := run(t, nil, nil, "completion", shell)
		if got.Code != 0 || !bytes.HasPrefix([]byte(got.Stdout), []byte(want)) {
			t.Errorf("completion %s: exit %d, output starts %.40q; want %q", shell, got.Code, got.Stdout, want)
		}
	}
}

// goVersion is what version prints in parentheses.
func goVersion() string { return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH }
