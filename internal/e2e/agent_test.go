package e2e_test

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `harness agent run` serves on DIR/agent.sock; `harness agent dial` relays a request to it
// from stdin and its answer to stdout, as it does over an SSH exec channel.
func TestAgentRunAndDial(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agent")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := exec.CommandContext(ctx, harnessBin, "agent", "run", "--dir", dir)
	var logs strings.Builder
	run.Stderr = &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = run.Wait()
	}()
	sock := filepath.Join(dir, "agent.sock")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent run does not listen on %s:\n%s", sock, logs.String())
		}
	}
	dial := exec.Command(harnessBin, "agent", "dial", "--dir", dir)
	dial.Stdin = strings.NewReader("POST /v1/info HTTP/1.1\r\nHost: agent\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
	out, err := dial.CombinedOutput()
	if err != nil {
		t.Fatalf("agent dial: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "HTTP/1.1 200") || !strings.Contains(string(out), `"os":"linux"`) {
		t.Errorf("agent dial relayed:\n%s", out)
	}
	// A second agent on the same dir refuses to run.
	second, err := exec.Command(harnessBin, "agent", "run", "--dir", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(second), "locked") {
		t.Errorf("a second agent run on %s: %v\n%s", dir, err, second)
	}
	// No agent: dial fails with exit 4.
	err = exec.Command(harnessBin, "agent", "dial", "--dir", t.TempDir()).Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 {
		t.Errorf("agent dial without an agent: %v, want exit 4", err)
	}
}
