//go:build integration

package remote_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/remote"
	"github.com/graph-network-harness/harness/internal/sshx"
	"github.com/graph-network-harness/harness/internal/testenv"
	"github.com/graph-network-harness/harness/target"
)

const harnessPkg = "github.com/graph-network-harness/harness/cmd/harness"

func node(lan *testenv.LAN, h *testenv.Host) *config.Node {
	return &config.Node{Name: h.Name, Host: h.Addr.String(), SSHPort: 22, SSHUser: "root", SSHKey: lan.KeyFile}
}

func newRemotes(t *testing.T, opts remote.Options) *remote.Remotes {
	rs := remote.New(opts)
	t.Cleanup(func() { rs.Close() })
	return rs
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// The first contact installs the agent and starts it; a second controller finds it; an agent
// killed with SIGKILL is started again at the next contact and adopts the services; a
// controller of another binary replaces the agent, and the services keep running.
func TestBootstrap(t *testing.T) {
	lan := testenv.NewLAN(t, "remote")
	a := lan.Host(t, "a")
	bin := testenv.StaticBinary(t, harnessPkg)
	ctx := ctxTimeout(t, 2*time.Minute)
	nd := node(lan, a)
	opts := remote.Options{KnownHosts: lan.KnownHosts, Executable: bin, Version: "v1"}

	first := newRemotes(t, opts).Node(nd)
	info, err := first.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(a.Pids(t), info.PID) || info.Hostname != "a" {
		t.Fatalf("the agent (pid %d on %q) does not run in host a (pids %v)", info.PID, info.Hostname, a.Pids(t))
	}
	installed := a.Path("/root/.harness/bin/v1-" + info.Checksum[:8] + "/harness")
	stat, err := os.Stat(installed)
	if err != nil {
		t.Fatalf("the agent's binary: %v", err)
	}
	if stat.Mode().Perm() != 0o755 {
		t.Errorf("%s has mode %v, want 0755", installed, stat.Mode())
	}
	sock, err := os.Stat(a.Path("/root/.harness/agent/agent.sock"))
	if err != nil || sock.Mode().Perm() != 0o600 {
		t.Errorf("the agent's socket: %v, mode %v; want 0600", err, sock.Mode())
	}

	proc := first.Targets()["process"]
	h, err := proc.Start(ctx, target.Spec{Stack: "s", Service: "sleeper", Argv: []string{"sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	if h.Node != "a" {
		t.Errorf("handle %v: want node a", h)
	}
	st, err := proc.Inspect(ctx, h)
	if err != nil || !st.Running || !slices.Contains(a.Pids(t), st.PID) {
		t.Fatalf("the service: %+v, %v; want running in host a", st, err)
	}

	// Another controller of the same binary: the same agent, nothing uploaded again.
	second := newRemotes(t, opts).Node(nd)
	if again, err := second.Info(ctx); err != nil || again.PID != info.PID {
		t.Errorf("a second controller found agent %d (%v), want %d", again.PID, err, info.PID)
	}
	if now, err := os.Stat(installed); err != nil || !now.ModTime().Equal(stat.ModTime()) {
		t.Errorf("the binary was replaced (%v)", err)
	}

	// SIGKILL the agent: the service keeps running; the next contact starts an agent that
	// adopts it.
	if n := a.Kill(t, syscall.SIGKILL, "agent run"); n != 1 {
		t.Fatalf("killed %d agents, want 1", n)
	}
	st2, err := proc.Inspect(ctx, h)
	if err != nil || !st2.Running || st2.PID != st.PID {
		t.Errorf("after the agent's SIGKILL: %+v, %v; want running, pid %d", st2, err, st.PID)
	}
	restarted, err := first.Info(ctx)
	if err != nil || restarted.PID == info.PID {
		t.Errorf("agent after SIGKILL: pid %d (%v), want a new one", restarted.PID, err)
	}

	// A controller of another binary replaces the agent; the new agent adopts the service.
	bin2 := testenv.StaticBinary(t, harnessPkg, "-ldflags=-X main.version=v2")
	third := newRemotes(t, remote.Options{KnownHosts: lan.KnownHosts, Executable: bin2, Version: "v2"}).Node(nd)
	replaced, err := third.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if replaced.PID == restarted.PID || replaced.Checksum == info.Checksum || replaced.Version != "v2" {
		t.Errorf("after a controller of another binary: agent %+v, want a new pid, checksum and version v2", replaced)
	}
	if slices.Contains(a.Pids(t), restarted.PID) {
		t.Errorf("the replaced agent (pid %d) still runs", restarted.PID)
	}
	st3, err := third.Targets()["process"].Inspect(ctx, h)
	if err != nil || !st3.Running || st3.PID != st.PID {
		t.Errorf("after the agent's replacement: %+v, %v; want running, pid %d", st3, err, st.PID)
	}
	if err := third.Targets()["process"].Stop(ctx, h, 5*time.Second); err != nil {
		t.Error(err)
	}
}

// Health checks dial from the node: 127.0.0.1 through a target's DialContext is the node's
// loopback, where a service of the node listens.
func TestDialFromNode(t *testing.T) {
	lan := testenv.NewLAN(t, "remote")
	a := lan.Host(t, "a")
	bin := testenv.StaticBinary(t, harnessPkg)
	server := testenv.StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	copyFile(t, server, a.Path("/root/testserver"))
	ctx := ctxTimeout(t, 2*time.Minute)
	r := newRemotes(t, remote.Options{KnownHosts: lan.KnownHosts, Executable: bin}).Node(node(lan, a))
	proc := r.Targets()["process"]
	h, err := proc.Start(ctx, target.Spec{Stack: "s", Service: "web", Argv: []string{"/root/testserver", "-listen", "127.0.0.1:18080"}})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop(context.Background(), h, 5*time.Second)
	dialer := proc.(target.Dialer)
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body, err = get(ctx, client, "http://127.0.0.1:18080/")
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET 127.0.0.1:18080 from node a: %v", err)
	}
	t.Logf("from node a: %q", body)
	if _, err := get(ctx, http.DefaultClient, "http://127.0.0.1:18080/"); err == nil {
		t.Error("127.0.0.1:18080 answers here too: the check would not prove where the service runs")
	}
}

func get(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s", res.Status)
	}
	return string(b), err
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// An unknown host key, a wrong user: errors that say node unreachable, name the node, and
// keep the cause (the fingerprint; the SSH error). Nothing is installed.
func TestUnreachable(t *testing.T) {
	lan := testenv.NewLAN(t, "remote")
	a := lan.Host(t, "a")
	bin := testenv.StaticBinary(t, harnessPkg)
	ctx := ctxTimeout(t, time.Minute)

	empty := t.TempDir() + "/known_hosts"
	r := newRemotes(t, remote.Options{KnownHosts: empty, Executable: bin}).Node(node(lan, a))
	_, err := r.Targets()["process"].Start(ctx, target.Spec{Stack: "s", Service: "x", Argv: []string{"true"}})
	var hk *sshx.HostKeyError
	if !errors.Is(err, target.ErrUnreachable) || !errors.As(err, &hk) || !strings.Contains(err.Error(), a.Fingerprint) || !strings.Contains(err.Error(), "node a") {
		t.Errorf("start with an unknown host key: %v; want ErrUnreachable naming node a and fingerprint %s", err, a.Fingerprint)
	}

	wrong := node(lan, a)
	wrong.SSHUser = "nobody-here"
	r = newRemotes(t, remote.Options{KnownHosts: lan.KnownHosts, Executable: bin}).Node(wrong)
	_, err = r.Info(ctx)
	if !errors.Is(err, target.ErrUnreachable) || !errors.Is(err, sshx.ErrAuth) {
		t.Errorf("a wrong user: %v; want ErrUnreachable and sshx.ErrAuth", err)
	}
	if _, err := os.Stat(a.Path("/root/.harness")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was installed: %v", err)
	}
}
