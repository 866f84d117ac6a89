package e2e_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// up in the foreground streams the output, and on SIGINT stops what it started and exits 0.
func TestUpForeground(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: upstack
services:
  talker:
    type: process
    binary: sh
    args: ["-c", "i=0; while true; do i=$((i+1)); echo hello $i; sleep 0.1; done"]
  quiet:
    type: process
    binary: sleep
    args: ["600"]
    dependencies: [talker]
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, sc := s.background(ctx, "up")
	lines := 0
	for lines < 3 && sc.Scan() {
		if strings.Contains(sc.Text(), "| hello ") {
			lines++
		}
	}
	if lines < 3 {
		t.Fatalf("up streamed %d lines of talker before its output ended (%v)", lines, sc.Err())
	}
	pids := map[string]int{}
	for name, svc := range s.status() {
		pids[name] = svc.PID
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // the stop's report, then the end
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("up after SIGINT: %v, want exit 0", err)
	}
	for name, st := range s.status() {
		if st.State != "stopped" || alive(pids[name]) {
			t.Errorf("%s after up was interrupted: %s (pid %d alive: %v), want stopped", name, st.State, pids[name], alive(pids[name]))
		}
	}
}

// exec runs a command where the service runs and passes its exit code through; health runs
// the checks now.
func TestExecAndHealth(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: probes
services:
  ok:
    type: process
    binary: sleep
    args: ["600"]
    env: {SECRET: forty-two}
    health_check: {command: "true", interval: 1s}
  bad:
    type: process
    binary: sleep
    args: ["600"]
    startup_timeout: 1s
    health_check: {command: "false", interval: 1s, start_interval: 100ms, retries: 1}
`)
	s.run(nil, "start") // bad never becomes healthy: exit 5
	r := s.run(nil, "exec", "ok", "--", "sh", "-c", "echo $SECRET; exit 7")
	if r.code != 7 || strings.TrimSpace(r.stdout) != "forty-two" {
		t.Errorf("exec: want exit 7 and the service's environment, got %s", r)
	}
	r = s.must(3, "health")
	for _, want := range []string{"ok", "healthy", "bad", "unhealthy"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("health does not show %q:\n%s", want, r)
		}
	}
	s.must(0, "health", "ok")
}
