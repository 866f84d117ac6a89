package e2e_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
)

const chainYAML = `version: "1.0"
name: chain
services:
  a:
    type: process
    binary: sleep
    args: ["600"]
    health_check: {command: "true", interval: 1s}
  b:
    type: process
    binary: sleep
    args: ["600"]
    dependencies: [a]
    health_check: {command: "true", interval: 1s}
  c:
    type: process
    binary: sleep
    args: ["600"]
    dependencies: [b]
  d:
    type: process
    binary: sleep
    args: ["600"]
`

// states returns the state of each service, and the PIDs of those that run.
func states(s *stack) (map[string]string, map[string]int) {
	st := s.status()
	out, pids := map[string]string{}, map[string]int{}
	for name, svc := range st {
		out[name] = svc.State
		if svc.PID != 0 {
			pids[name] = svc.PID
		}
	}
	return out, pids
}

func TestStartStatusStop(t *testing.T) {
	s := newStack(t, chainYAML)

	// start c starts its dependencies, in order, and not d.
	s.must(0, "start", "c")
	got, pids := states(s)
	want := map[string]string{"a": "running", "b": "running", "c": "running", "d": "stopped"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after start c (-want +got):\n%s", diff)
	}
	for _, name := range []string{"a", "b", "c"} {
		if !alive(pids[name]) {
			t.Errorf("%s: pid %d does not run", name, pids[name])
		}
	}
	st := s.status()
	if !st["a"].StartedAt.Before(*st["b"].StartedAt) && !st["a"].StartedAt.Equal(*st["b"].StartedAt) {
		t.Errorf("a started at %v, after b at %v", st["a"].StartedAt, st["b"].StartedAt)
	}

	// start of everything starts d; a second start changes nothing.
	s.must(0, "start")
	_, before := states(s)
	s.must(0, "start")
	_, after := states(s)
	if diff := cmp.Diff(before, after); diff != "" || len(after) != 4 {
		t.Errorf("a second start changed the PIDs (-first +second):\n%s", diff)
	}

	// stop a stops what depends on it, and leaves d.
	s.must(0, "stop", "a")
	got, _ = states(s)
	want = map[string]string{"a": "stopped", "b": "stopped", "c": "stopped", "d": "running"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after stop a (-want +got):\n%s", diff)
	}
	for _, name := range []string{"a", "b", "c"} {
		if alive(after[name]) {
			t.Errorf("%s: pid %d still runs after stop a", name, after[name])
		}
	}
	s.must(0, "stop")
	if alive(after["d"]) {
		t.Errorf("d: pid %d still runs after stop", after["d"])
	}
	s.must(0, "stop") // nothing runs: still fine
}

func TestEnvironment(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: envs
services:
  a:
    type: process
    binary: sleep
    args: ["600"]
    ports: [47011]
  b:
    type: process
    binary: sh
    args: ["-c", "echo \"greeting=$GREETING a_ip=$A_IP a_addr=$A_ADDR a_port=$A_PORT\"; exec sleep 600"]
    env:
      GREETING: ${GREETING:-hello}
      A_IP: ${a.ip}
    dependencies: [a]
`)
	s.must(0, "start")
	waitLog(t, s, "b", "greeting=hello a_ip=127.0.0.1 a_addr=127.0.0.1:47011 a_port=47011")

	s.must(0, "stop")
	r := s.run([]string{"GREETING=hi"}, "start")
	if r.code != 0 {
		t.Fatalf("start with GREETING set: %s", r)
	}
	waitLog(t, s, "b", "greeting=hi ")
}

// waitLog waits until `harness logs service` shows a line containing text.
func waitLog(t *testing.T, s *stack, service, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.must(0, "logs", service)
		if strings.Contains(r.stdout, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs %s never showed %q:\n%s", service, text, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMissingBinaryBlocksDependents(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: broken
services:
  a:
    type: process
    binary: /nonexistent/harness-e2e-binary
  b:
    type: process
    binary: sleep
    args: ["600"]
    dependencies: [a]
`)
	r := s.must(3, "start")
	if !strings.Contains(r.stdout+r.stderr, "/nonexistent/harness-e2e-binary") {
		t.Errorf("start does not name the cause:\n%s", r)
	}
	st := s.status()
	if st["a"].State != "failed" || st["b"].State != "blocked" || st["b"].PID != 0 {
		t.Errorf("a %s, b %s (pid %d); want a failed, b blocked and never started", st["a"].State, st["b"].State, st["b"].PID)
	}
}

func TestStartupTimeout(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: slow
services:
  a:
    type: process
    binary: sleep
    args: ["600"]
    startup_timeout: 3s
    health_check: {command: "false", interval: 1s, start_interval: 100ms, retries: 1}
  b:
    type: process
    binary: sleep
    args: ["600"]
    dependencies: [a]
`)
	t0 := time.Now()
	s.must(5, "start")
	if took := time.Since(t0); took < 3*time.Second || took > 8*time.Second {
		t.Errorf("start took %v, want about 3–8 s", took)
	}
	st := s.status()
	if st["a"].State != "running" || st["a"].Health != "unhealthy" || st["b"].State != "blocked" {
		t.Errorf("a %s/%s, b %s; want a running and unhealthy, b blocked", st["a"].State, st["a"].Health, st["b"].State)
	}
}

// The same gate, with a check that starts passing after a second: start exits 0.
func TestStartupCheckPassesLater(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: later
services:
  a:
    type: process
    binary: sh
    args: ["-c", "sleep 1; touch ready; exec sleep 600"]
    startup_timeout: 3s
    health_check: {command: "test -f ready", interval: 1s, start_interval: 100ms, retries: 1}
  b:
    type: process
    binary: sleep
    args: ["600"]
    dependencies: [a]
`)
	s.must(0, "start")
	st := s.status()
	if st["a"].Health != "healthy" || st["b"].State != "running" {
		t.Errorf("a %s/%s, b %s; want a healthy and b running", st["a"].State, st["a"].Health, st["b"].State)
	}
}

func TestRestartOnFailure(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: crashy
services:
  a:
    type: process
    binary: sh
    args: ["-c", "echo run; exit 1"]
    restart:
      policy: on-failure
      backoff: {initial: 100ms, max: 1s, multiplier: 2, jitter: 0}
`)
	s.run(nil, "start") // it exits at once: the start reports it failed
	deadline := time.Now().Add(10 * time.Second)
	for s.status()["a"].Restarts < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 restarts in 10 s: %+v", s.status()["a"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := s.must(0, "logs", "a")
	if n := strings.Count(r.stdout, "run"); n < 3 {
		t.Errorf("logs show %d runs, want at least 3:\n%s", n, r)
	}
}

func TestDaemonKilledServicesAdopted(t *testing.T) {
	var y strings.Builder
	y.WriteString("version: \"1.0\"\nname: many\nservices:\n")
	for i := range 20 {
		y.WriteString("  s" + string(rune('a'+i)) + ": {type: process, binary: sleep, args: [\"600\"]}\n")
	}
	s := newStack(t, y.String())
	s.must(0, "start")
	_, before := states(s)
	if len(before) != 20 {
		t.Fatalf("%d services run, want 20", len(before))
	}
	s.killDaemon()
	got, after := states(s) // the daemon is started again on demand
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("PIDs after the daemon was killed (-before +after):\n%s", diff)
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if got[name] != "running" {
			t.Errorf("%s is %s after the daemon was killed, want running", name, got[name])
		}
	}
	if n := len(s.leftovers()); n != 21 { // 20 services and the new daemon
		t.Errorf("%d processes of the test run, want 20 services and one daemon", n)
	}
}

// killDaemon kills the stack's daemon with SIGKILL and waits until it is gone.
func (s *stack) killDaemon() {
	s.t.Helper()
	pid := daemonPID(s.t, s.must(0, "daemon", "status", "-o", "json").stdout)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	for alive(pid) {
		time.Sleep(10 * time.Millisecond)
	}
}

// daemonPID reads the PID from `harness daemon status -o json`.
func daemonPID(t *testing.T, out string) int {
	t.Helper()
	var d api.Daemon
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.PID == 0 {
		t.Fatalf("daemon status -o json: %v\n%s", err, out)
	}
	return d.PID
}

func TestDaemonUnreachable(t *testing.T) {
	s := newStack(t, chainYAML)
	file := filepath.Join(s.dir, "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := s.run(nil, "--data-dir", filepath.Join(file, "data"), "status")
	if r.code != 4 || !strings.Contains(r.stderr, "daemon") || !strings.Contains(r.stderr, "not a directory") {
		t.Errorf("status with a data dir that cannot be made: want exit 4 naming the daemon and the cause, got %s", r)
	}
}

// A service that prints outlives `daemon stop` and a killed daemon, and its output goes on
// into its log once a daemon runs again.
func TestChattyServiceOutlivesDaemon(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: chatty
services:
  talker:
    type: process
    binary: sh
    args: ["-c", "i=0; while :; do i=$((i+1)); echo said $i; sleep 0.02; done"]
`)
	s.must(0, "start")
	pid := s.status()["talker"].PID
	count := func() int { return strings.Count(s.must(0, "logs", "talker").stdout, "said ") }
	s.must(0, "daemon", "stop")
	time.Sleep(300 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("the service died when the daemon stopped")
	}
	n := count() // starts a daemon, which drains again
	deadline := time.Now().Add(10 * time.Second)
	for count() < n+20 {
		if time.Now().After(deadline) {
			t.Fatal("no new output in the log after the daemon came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.killDaemon()
	time.Sleep(300 * time.Millisecond)
	if st := s.status()["talker"]; st.PID != pid || st.State != "running" || !alive(pid) {
		t.Errorf("after the daemon was killed: pid %d (was %d), %s", st.PID, pid, st.State)
	}
}

// A daemon started again resumes supervising the stacks of the one before, before anything
// asks about them: restart policies go on.
func TestDaemonResumesSupervision(t *testing.T) {
	s := newStack(t, `version: "1.0"
name: resume
services:
  flaky:
    type: process
    binary: sh
    args: ["-c", "echo run >> runs; sleep 0.3; exit 1"]
    restart:
      policy: on-failure
      backoff: {initial: 100ms, max: 200ms, multiplier: 2, jitter: 0}
`)
	runs := func() int {
		b, _ := os.ReadFile(filepath.Join(s.dir, "runs"))
		return strings.Count(string(b), "run")
	}
	s.run(nil, "start")
	s.killDaemon()
	time.Sleep(500 * time.Millisecond) // the run that was going ends, unsupervised
	before := runs()
	s.must(0, "daemon", "start") // asks about no stack
	deadline := time.Now().Add(10 * time.Second)
	for runs() < before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs after the daemon came back (%d before): the restart policy did not resume", runs(), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
