package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graph-network-harness/harness/api"
	// The binary is built from these (cmd/harness wires them): importing them makes the
	// test's cached result depend on their code, as go test cannot see into the build.
	_ "github.com/graph-network-harness/harness/internal/agent"
	_ "github.com/graph-network-harness/harness/internal/cli"
	_ "github.com/graph-network-harness/harness/internal/daemon"
)

// harnessBin is the harness binary built once for every test.
var harnessBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "harness-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	harnessBin = filepath.Join(dir, "harness")
	build := exec.Command("go", "build", "-o", harnessBin, "github.com/graph-network-harness/harness/cmd/harness")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build harness:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stack is one test's services file and data dir, driven through the harness binary.
type stack struct {
	t       *testing.T
	dir     string
	file    string
	data    string
	marker  string // in the environment of every process the test starts, to find leftovers
	environ []string
}

// newStack writes yaml as the services file of a fresh stack. When the test ends it stops
// the stack and the daemon, and kills anything of the test that still runs.
func newStack(t *testing.T, yaml string) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{t: t, dir: dir, file: filepath.Join(dir, "services.yaml"), data: filepath.Join(dir, "data"),
		marker: fmt.Sprintf("HARNESS_E2E=%s-%d", t.Name(), time.Now().UnixNano())}
	s.environ = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "NO_COLOR=1", s.marker}
	s.write(yaml)
	t.Cleanup(s.cleanup)
	return s
}

func (s *stack) write(yaml string) {
	if err := os.WriteFile(s.file, []byte(yaml), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// result is what one run of the binary did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs harness with args in the stack's directory, with extra environment variables.
func (s *stack) run(env []string, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harnessBin, append([]string{"-c", s.file, "--data-dir", s.data}, args...)...)
	cmd.Dir = s.dir
	cmd.Env = append(append([]string(nil), s.environ...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		s.t.Fatalf("harness %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// background starts harness with args, ended with ctx, and returns it and its stdout.
func (s *stack) background(ctx context.Context, args ...string) (*exec.Cmd, *bufio.Scanner) {
	s.t.Helper()
	cmd := exec.CommandContext(ctx, harnessBin, append([]string{"-c", s.file, "--data-dir", s.data}, args...)...)
	cmd.Env = s.environ
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}

// must runs harness and fails the test unless it exits with code.
func (s *stack) must(code int, args ...string) result {
	s.t.Helper()
	r := s.run(nil, args...)
	if r.code != code {
		s.t.Fatalf("harness %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// status returns `harness status -o json`, by service name.
func (s *stack) status() map[string]api.ServiceStatus {
	s.t.Helper()
	r := s.must(0, "status", "-o", "json")
	var st api.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		s.t.Fatalf("status -o json: %v\n%s", err, r)
	}
	out := map[string]api.ServiceStatus{}
	for _, svc := range st.Services {
		out[svc.Name] = svc
	}
	return out
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// leftovers returns the PIDs of the processes whose environment holds the stack's marker.
func (s *stack) leftovers() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && bytes.Contains(env, []byte(s.marker+"\x00")) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cleanup stops the stack and the daemon, then kills whatever of the test is left, and
// reports it: a test must not leave processes behind.
func (s *stack) cleanup() {
	s.run(nil, "stop")
	s.run(nil, "daemon", "stop")
	s.killLeftovers(s.t.Errorf)
}

// killLeftovers waits a moment for the processes of the stack's marker to end, then kills
// those left and reports them: a test must not leave processes behind.
func (s *stack) killLeftovers(report func(format string, args ...any)) {
	deadline := time.Now().Add(5 * time.Second)
	for len(s.leftovers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := s.leftovers(); len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		report("processes left running after stop and daemon stop: %v", left)
	}
}
