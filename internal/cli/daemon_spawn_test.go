package cli

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runWithExecutable runs the command line with exe as the harness binary that daemons are
// started from, and returns the exit code and stderr.
func runWithExecutable(t *testing.T, exe string, environ []string, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(Options{Stdout: &stdout, Stderr: &stderr, Environ: environ})
	a.executable = func() (string, error) { return exe, nil }
	code := a.main(t.Context(), args)
	if stdout.Len() > 0 {
		t.Errorf("stdout: %q, want nothing", stdout.String())
	}
	return code, stderr.String()
}

// script writes an executable shell script with body and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-harness")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// pidPattern matches the PID of the started daemon in a message, which differs every run.
var pidPattern = regexp.MustCompile(`\(pid \d+\)`)

// TestSpawnExits checks what a command says when the daemon it starts exits at once: its
// arguments, environment, stdin and working directory, and the real cause, from daemon.log.
func TestSpawnExits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	exe := script(t, `echo "args: $*"
echo "A=$A"
echo "stdin: $(readlink /proc/$$/fd/0)"
echo "cwd: $(pwd)"
echo "daemon: lock data dir: permission denied" >&2
exit 3
`)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// What an earlier daemon wrote is not this one's cause.
	if err := os.WriteFile(filepath.Join(dir, "daemon.log"), []byte("an older daemon's line\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	code, stderr := runWithExecutable(t, exe, []string{"A=1"}, "--data-dir", dir, "daemon", "start")
	want := "harness: daemon unreachable on " + dir + ": started one (pid N), which exited with status 3; the end of " + dir + "/daemon.log:\n" +
		"    args: daemon run --data-dir " + dir + "\n" +
		"    A=1\n" +
		"    stdin: /dev/null\n" +
		"    cwd: /\n" +
		"    daemon: lock data dir: permission denied\n"
	if diff := cmp.Diff(want, pidPattern.ReplaceAllString(stderr, "(pid N)")); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ExitUnreachable, code); diff != "" {
		t.Errorf("exit code (-want +got):\n%s", diff)
	}
}

func TestSpawnSilentExit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, stderr := runWithExecutable(t, script(t, "kill -9 $$\n"), nil, "--data-dir", dir, "daemon", "start")
	want := "harness: daemon unreachable on " + dir + ": started one (pid N), which died of signal 9 (killed); it wrote nothing to " + dir + "/daemon.log\n"
	if diff := cmp.Diff(want, pidPattern.ReplaceAllString(stderr, "(pid N)")); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if code != ExitUnreachable {
		t.Errorf("exit code %d, want %d", code, ExitUnreachable)
	}
	// The data dir and the log are the user's only.
	for path, want := range map[string]fs.FileMode{dir: fs.ModeDir | 0o700, filepath.Join(dir, "daemon.log"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, fi.Mode()); diff != "" {
			t.Errorf("mode of %s (-want +got):\n%s", path, diff)
		}
	}
}

func TestSpawnNoDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "data")
	code, stderr := runWithExecutable(t, "/nonexistent/harness", nil, "--data-dir", dir, "daemon", "start")
	want := "harness: daemon unreachable on " + dir + ": start one: mkdir " + file + ": not a directory\n"
	if diff := cmp.Diff(want, stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if code != ExitUnreachable {
		t.Errorf("exit code %d, want %d", code, ExitUnreachable)
	}
}

func TestSpawnNoExecutable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, stderr := runWithExecutable(t, "/nonexistent/harness", nil, "--data-dir", dir, "daemon", "start")
	want := "harness: daemon unreachable on " + dir + ": start one: fork/exec /nonexistent/harness: no such file or directory\n"
	if diff := cmp.Diff(want, stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if code != ExitUnreachable {
		t.Errorf("exit code %d, want %d", code, ExitUnreachable)
	}
}
