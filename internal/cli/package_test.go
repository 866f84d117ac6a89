package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/cli"
)

const edgeManifest = `name: edge
version: 1.4.2
service:
  executable: bin/edge
  ports: [8080]
`

// edgePackage makes a package directory edge/ in a new working directory.
func edgePackage(t *testing.T, manifest string) {
	t.Helper()
	workDir(t, map[string]string{"edge/manifest.yaml": manifest, "edge/bin/edge": "#!/bin/sh\n", "edge/config/edge.conf": "x\n"})
	if err := os.Chmod("edge/bin/edge", 0o755); err != nil {
		t.Fatal(err)
	}
}

// runHere runs Main with args in the current directory, with no environment.
func runHere(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(t.Context(), cli.Options{Args: args, Stdout: &stdout, Stderr: &stderr})
	return result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
}

// fileSHA256 returns the hex SHA-256 of the file at path and its mode.
func fileSHA256(t *testing.T, path string) (string, os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), info.Mode()
}

// dirNames lists the names in dir, hidden ones (a temporary file left behind) included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestPackage(t *testing.T) {
	edgePackage(t, edgeManifest)
	got := runHere(t, "package", "edge")
	sum, mode := fileSHA256(t, "edge-1.4.2.tar.gz")
	info, _ := os.Stat("edge-1.4.2.tar.gz")
	want := result{Stdout: fmt.Sprintf("edge 1.4.2  edge-1.4.2.tar.gz  %d bytes  sha256:%s\n", info.Size(), sum)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("package edge (-want +got):\n%s", diff)
	}
	if mode.Perm() != 0o644 {
		t.Errorf("archive mode %v, want 0644", mode)
	}
	if diff := cmp.Diff([]string{"edge", "edge-1.4.2.tar.gz"}, dirNames(t, ".")); diff != "" {
		t.Errorf("working directory (-want +got):\n%s", diff)
	}

	// Again, in its own directory: the archive written there is not packed into the next.
	t.Chdir("edge")
	again := runHere(t, "package", ".", "-q")
	if again.Code != 0 || again.Stdout != "" {
		t.Fatalf("package . -q: %+v", again)
	}
	again = runHere(t, "package", ".")
	if sum2, _ := fileSHA256(t, "edge-1.4.2.tar.gz"); sum2 != sum {
		t.Errorf("built in its own directory: sha256 %s, want %s (%+v)", sum2, sum, again)
	}
}

func TestPackageOutput(t *testing.T) {
	edgePackage(t, edgeManifest)
	if err := os.Mkdir("dist", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"package", "edge", "-o", "dist/e.tgz", "-o", "json"},
		{"package", "edge", "--output=dist/e.tgz", "--json"},
		{"-o", "json", "package", "edge", "-o", "dist/e.tgz"},
	} {
		got := runHere(t, args...)
		if got.Code != 0 || got.Stderr != "" {
			t.Fatalf("%q: %+v", args, got)
		}
		sum, _ := fileSHA256(t, "dist/e.tgz")
		info, _ := os.Stat("dist/e.tgz")
		want := map[string]any{"name": "edge", "version": "1.4.2", "file": "dist/e.tgz", "size": float64(info.Size()), "sha256": sum}
		if diff := cmp.Diff(want, decode[map[string]any](t, got.Stdout)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", args, diff)
		}
	}
	if diff := cmp.Diff([]string{"e.tgz"}, dirNames(t, "dist")); diff != "" {
		t.Errorf("dist (-want +got):\n%s", diff)
	}
}

func TestPackageInvalid(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		args     []string
		want     result
	}{
		{
			name:     "a malformed manifest",
			manifest: "name: edge\nversoin: 1\nservice: {executable: ../bin/edge}\n",
			args:     []string{"package", "edge", "-o", "edge.tar.gz"},
			want: result{Code: 2, Stderr: `edge/manifest.yaml:1:1: version is missing
edge/manifest.yaml:2:1: manifest: unknown key "versoin"; did you mean "version"?
edge/manifest.yaml:3:23: service.executable "../bin/edge": ".." is not allowed: the path must stay inside the package
harness: 3 errors
`},
		},
		{
			name:     "a malformed manifest, the default output",
			manifest: "name: edge\nversion: 1\nservice: {executable: bin/nope}\n",
			args:     []string{"package", "edge"},
			want: result{Code: 2, Stderr: `edge/manifest.yaml:3:23: service.executable bin/nope: bin/nope is not in the package
harness: 1 error
`},
		},
		{
			name:     "no such directory",
			manifest: edgeManifest,
			args:     []string{"package", "nope"},
			want:     result{Code: 2, Stderr: "harness: package directory nope does not exist\n"},
		},
		{
			name:     "a file, not a directory",
			manifest: edgeManifest,
			args:     []string{"package", "edge/manifest.yaml"},
			want:     result{Code: 2, Stderr: "harness: edge/manifest.yaml is not a directory; want a package directory holding a manifest.yaml\n"},
		},
		{
			name:     "no directory",
			manifest: edgeManifest,
			args:     []string{"package"},
			want:     result{Code: 2, Stderr: "harness: missing DIR; run 'harness package --help'\n"},
		},
		{
			name:     "an empty -o",
			manifest: edgeManifest,
			args:     []string{"package", "edge", "-o", ""},
			want:     result{Code: 2, Stderr: "harness: invalid argument \"\" for \"-o, --output\" flag: want a file name, table or json; run 'harness package --help'\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			edgePackage(t, tc.manifest)
			if err := os.WriteFile("edge.tar.gz", []byte("an older build"), 0o644); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, runHere(t, tc.args...)); diff != "" {
				t.Errorf("%q (-want +got):\n%s", tc.args, diff)
			}
			if b, _ := os.ReadFile("edge.tar.gz"); string(b) != "an older build" {
				t.Errorf("edge.tar.gz was replaced by a failed build")
			}
			if diff := cmp.Diff([]string{"edge", "edge.tar.gz"}, dirNames(t, ".")); diff != "" {
				t.Errorf("working directory after a failed build (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPackageOutputDirMissing(t *testing.T) {
	edgePackage(t, edgeManifest)
	got := runHere(t, "package", "edge", "-o", filepath.Join("nope", "e.tgz"))
	if got.Code != 1 || got.Stdout != "" {
		t.Errorf("package -o nope/e.tgz: %+v; want exit 1", got)
	}
}
