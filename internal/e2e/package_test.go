package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// package builds a package directory into an archive whose printed SHA-256 is the file's, the
// same on a second build; a bad manifest exits 2 naming the file and line, and writes nothing.
func TestPackage(t *testing.T) {
	s := newStack(t, "version: \"1.0\"\nname: pkg\nservices: {}\n")
	write := func(name, content string, mode os.FileMode) {
		p := filepath.Join(s.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("edge/manifest.yaml", "name: edge\nversion: 1.4.2\nservice:\n  executable: bin/edge\n  ports: [8080]\n", 0o644)
	write("edge/bin/edge", "#!/bin/sh\nexec sleep 600\n", 0o755)
	write("edge/scripts/setup.sh", "#!/bin/sh\n", 0o755)
	write("edge/config/edge.conf", "port = 8080\n", 0o644)

	r := s.must(0, "package", "edge")
	data, err := os.ReadFile(filepath.Join(s.dir, "edge-1.4.2.tar.gz"))
	if err != nil {
		t.Fatalf("the archive: %v\n%s", err, r)
	}
	sum := sha256.Sum256(data)
	want := fmt.Sprintf("edge 1.4.2  edge-1.4.2.tar.gz  %d bytes  sha256:%s\n", len(data), hex.EncodeToString(sum[:]))
	if r.stdout != want {
		t.Errorf("package edge printed %q, want %q", r.stdout, want)
	}
	if again := s.must(0, "package", "edge"); again.stdout != r.stdout {
		t.Errorf("a second build printed %q, want %q", again.stdout, r.stdout)
	}

	write("bad/manifest.yaml", "name: bad\nversoin: 1\nservice: {executable: bin/bad}\n", 0o644)
	bad := s.must(2, "package", "bad", "-o", "bad.tar.gz")
	for _, line := range []string{"bad/manifest.yaml:1:1: version is missing", `bad/manifest.yaml:2:1: manifest: unknown key "versoin"`} {
		if !strings.Contains(bad.stderr, line) {
			t.Errorf("package bad: stderr lacks %q\n%s", line, bad)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "bad.tar.gz")); err == nil {
		t.Error("package bad wrote bad.tar.gz")
	}
}

// validate checks the package of a package service when it exists: a bad manifest is an
// error with its line, a dependency the stack lacks too; a package not built yet is a warning.
func TestValidatePackage(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: pkg
networks:
  lan:
    type: lan
    subnet: 10.1.0.0/24
    nodes: [{name: a, host: 10.1.0.2, ssh_user: root}]
services:
  edge: {type: package, host: a, package: ./edge}
  later: {type: package, host: a, package: ./later}
`)
	dir := filepath.Join(s.dir, "edge")
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "edge"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("name: edge\nversion: 1.0.0\nservice: {executable: bin/edge}\ndependencies: [db]\n"), 0o644)
	r := s.must(2, "validate")
	if !strings.Contains(r.stderr, `depends on "db", which is not a service of`) || !strings.Contains(r.stderr, "package ./later does not exist yet") {
		t.Errorf("validate with a package that depends on a missing service:\n%s", r)
	}
	os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("name: edge\nversion: 1.0.0\nservice: {executable: bin/edge, portz: [1]}\n"), 0o644)
	if r := s.must(2, "validate"); !strings.Contains(r.stderr, "edge/manifest.yaml:3:") || !strings.Contains(r.stderr, `"portz"`) {
		t.Errorf("validate with a bad manifest:\n%s", r)
	}
	os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("name: edge\nversion: 1.0.0\nservice: {executable: bin/edge}\n"), 0o644)
	s.must(0, "validate")
}
