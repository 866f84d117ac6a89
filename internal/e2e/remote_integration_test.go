//go:build integration

package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/testenv"
)

// hostsStack is a LAN of test hosts and a stack whose services file names them as nodes.
type hostsStack struct {
	*stack
	lan    *testenv.LAN
	hosts  map[string]*testenv.Host
	server string // the testserver binary, also at /root/testserver on every host
}

// newHostsStack makes a LAN with the hosts names, copies testserver to each, and writes
// services (the services: section) below a header that declares the hosts as nodes of
// network lan.
func newHostsStack(t *testing.T, names []string, services string) *hostsStack {
	lan := testenv.NewLAN(t, "e2e")
	hs := &hostsStack{lan: lan, hosts: map[string]*testenv.Host{}}
	hs.server = testenv.StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	var nodes strings.Builder
	for _, n := range names {
		h := lan.Host(t, n)
		hs.hosts[n] = h
		copyExecutable(t, hs.server, h.Path("/root/testserver"))
		fmt.Fprintf(&nodes, "      - {name: %s, host: %s, ssh_user: root, ssh_key: %s}\n", n, h.Addr, lan.KeyFile)
	}
	yaml := fmt.Sprintf(`version: "1.0"
name: multi
settings:
  known_hosts: %s
networks:
  lan:
    type: lan
    subnet: %s
    nodes:
%sservices:
%s`, lan.KnownHosts, lan.Subnet, nodes.String(), strings.ReplaceAll(services, "TESTSERVER", hs.server))
	hs.stack = newStack(t, yaml)
	return hs
}

func copyExecutable(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// apiOnA is the services file's api: a testserver on host a, listening on port 18080.
const apiOnA = `
  api:
    type: remote
    host: a
    binary: /root/testserver
    args: ["-listen", ":18080"]
    ports: [18080]
`

// A local process, a process on host a and one on host b, with dependencies across them:
// each runs in its host (a TCP check on 127.0.0.1 succeeds only there), b reaches a at
// ${api.addr}, the local one reaches b; logs and exec work on the hosts; a daemon killed and
// started again finds the same processes and starts nothing twice.
func TestRemoteStack(t *testing.T) {
	hs := newHostsStack(t, []string{"a", "b", "c"}, apiOnA+`    health_check: {tcp: 18080, interval: 1s}
  mid:
    type: remote
    host: b
    binary: /root/testserver
    args: ["-fetch", "http://${api.addr}/", "-listen", ":18081"]
    ports: [18081]
    dependencies: [api]
    health_check: {http: "http://127.0.0.1:18081/health", interval: 1s}
  ticker:
    type: remote
    host: c
    binary: sh
    args: ["-c", "while :; do echo tick; sleep 0.2; done"]
  front:
    type: process
    binary: TESTSERVER
    args: ["-fetch", "http://${mid.addr}/", "-listen", "127.0.0.1:0"]
    dependencies: [mid]
`)
	r := hs.must(0, "start")
	t.Logf("start:\n%s", r.stdout)
	st := hs.status()
	for name, host := range map[string]string{"api": "a", "mid": "b", "ticker": "c"} {
		svc := st[name]
		if svc.State != "running" || svc.Node != host || !slices.Contains(hs.hosts[host].Pids(t), svc.PID) {
			t.Errorf("%s: %+v; want running on node %s, its pid among the host's %v", name, svc, host, hs.hosts[host].Pids(t))
		}
	}
	if st["front"].State != "running" || st["front"].Node != "local" {
		t.Errorf("front: %+v, want running on the local node", st["front"])
	}
	// The TCP check of api passed inside a; here nothing listens on that port.
	if st["api"].Health != "healthy" || st["mid"].Health != "healthy" {
		t.Errorf("health: api %s, mid %s; want healthy", st["api"].Health, st["mid"].Health)
	}
	if logs := hs.must(0, "logs", "mid").stdout; !strings.Contains(logs, fmt.Sprintf("fetched http://%s:18080/: hello from a", hs.hosts["a"].Addr)) {
		t.Errorf("mid did not reach api at a's address:\n%s", logs)
	}
	if logs := hs.must(0, "logs", "front").stdout; !strings.Contains(logs, "hello from b") {
		t.Errorf("front did not reach mid:\n%s", logs)
	}
	if out := hs.must(0, "exec", "api", "--", "hostname").stdout; strings.TrimSpace(out) != "a" {
		t.Errorf("exec api -- hostname: %q, want a", out)
	}
	// health runs the checks now, on the hosts.
	if out := hs.must(0, "health", "api", "mid").stdout; strings.Count(out, "healthy") != 2 {
		t.Errorf("health api mid:\n%s", out)
	}

	// logs -f shows the output of a remote service as it is written.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	follow, lines := hs.background(ctx, "logs", "-f", "--tail", "1", "ticker")
	ticks := make(chan time.Time, 100)
	go func() {
		for lines.Scan() {
			if strings.Contains(lines.Text(), "tick") {
				ticks <- time.Now()
			}
		}
		close(ticks)
	}()
	for i := 0; i < 4; i++ {
		select {
		case _, ok := <-ticks:
			if !ok {
				t.Fatalf("logs -f ended after %d ticks", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("logs -f: no new tick within 5 s after %d", i)
		}
	}
	cancel()
	_ = follow.Wait()

	// Kill the daemon; the next one finds the same processes and starts nothing twice.
	hs.killDaemon()
	again := hs.must(0, "start")
	if !strings.Contains(again.stdout, "4 running already") {
		t.Errorf("start after the daemon's kill:\n%s", again.stdout)
	}
	st2 := hs.status()
	for name := range st {
		if st2[name].PID != st[name].PID || st2[name].State != "running" {
			t.Errorf("%s after the daemon's kill: pid %d %s, want pid %d running", name, st2[name].PID, st2[name].State, st[name].PID)
		}
	}
	for _, host := range []string{"a", "b"} {
		if n := len(commands(t, hs.hosts[host], "/root/testserver")); n != 1 {
			t.Errorf("host %s runs %d testservers, want 1", host, n)
		}
	}
}

// commands returns the PIDs of h's processes whose command line (arguments joined by spaces)
// contains s.
func commands(t testing.TB, h *testenv.Host, s string) []int {
	var pids []int
	for _, pid := range h.Pids(t) {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitStatus polls status until ok accepts it, at most within; it fails the test with the last
// status otherwise.
func (hs *hostsStack) waitStatus(t *testing.T, within time.Duration, what string, ok func(map[string]api.ServiceStatus) bool) map[string]api.ServiceStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := hs.status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s: %+v", what, within, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Host a's link is cut for 20 s: its service shows as unreachable with its last known state,
// nothing is restarted anywhere, and once the link is back everything is running and healthy
// with the same PIDs.
func TestRemotePartition(t *testing.T) {
	hs := newHostsStack(t, []string{"a", "b"}, apiOnA+`    restart: always
    health_check: {tcp: 18080, interval: 1s, retries: 2}
  other:
    type: remote
    host: b
    binary: /root/testserver
    args: ["-fetch", "http://${api.addr}/health", "-listen", ":18081"]
    ports: [18081]
    restart: always
    dependencies: [api]
    health_check: {http: "http://127.0.0.1:18081/health", interval: 1s, retries: 2}
`)
	hs.must(0, "start")
	before := hs.status()
	a := hs.hosts["a"]
	a.Cut(t)
	cut := time.Now()
	st := hs.waitStatus(t, 15*time.Second, "api unreachable", func(st map[string]api.ServiceStatus) bool {
		return st["api"].Unreachable != ""
	})
	t.Logf("after %s: api %+v", time.Since(cut).Round(time.Millisecond), st["api"])
	if st["api"].State != "running" || st["api"].PID != before["api"].PID {
		t.Errorf("api while a is cut off: %+v, want its last known state, running as pid %d", st["api"], before["api"].PID)
	}
	if st["other"].Unreachable != "" {
		t.Errorf("other (on b) is shown unreachable: %s", st["other"].Unreachable)
	}
	if text := hs.must(0, "status").stdout; !strings.Contains(text, "a (unreachable)") {
		t.Errorf("status does not show a unreachable:\n%s", text)
	}
	time.Sleep(time.Until(cut.Add(20 * time.Second)))
	a.Restore(t)
	restored := time.Now()
	after := hs.waitStatus(t, 30*time.Second, "all running and healthy again", func(st map[string]api.ServiceStatus) bool {
		for _, svc := range st {
			if svc.Unreachable != "" || svc.State != "running" || svc.Health != "healthy" {
				return false
			}
		}
		return true
	})
	t.Logf("all healthy %s after the link was restored", time.Since(restored).Round(time.Millisecond))
	for name, svc := range after {
		if svc.PID != before[name].PID || svc.Restarts != 0 {
			t.Errorf("%s: pid %d, %d restarts; want pid %d, no restart", name, svc.PID, svc.Restarts, before[name].PID)
		}
	}
	if n := len(commands(t, a, "/root/testserver")); n != 1 {
		t.Errorf("host a runs %d testservers, want 1", n)
	}
}

// The agent killed with SIGKILL: the service keeps running, the controller's next contact
// starts a new agent, which adopts it: stop still stops it.
func TestRemoteAgentKilled(t *testing.T) {
	hs := newHostsStack(t, []string{"a"}, apiOnA+`    restart: always
    health_check: {tcp: 18080, interval: 1s}
`)
	hs.must(0, "start")
	before := hs.status()["api"]
	a := hs.hosts["a"]
	old := commands(t, a, "agent run")
	if len(old) != 1 {
		t.Fatalf("agents on a: %v, want one", old)
	}
	if n := a.Kill(t, syscall.SIGKILL, "agent run"); n != 1 {
		t.Fatalf("killed %d agents", n)
	}
	var now []int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if now = commands(t, a, "agent run"); len(now) == 1 && now[0] != old[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new agent on a within 15 s after the SIGKILL of %d: %v", old[0], now)
		}
	}
	after := hs.waitStatus(t, 10*time.Second, "api healthy", func(st map[string]api.ServiceStatus) bool {
		return st["api"].Health == "healthy"
	})["api"]
	if after.PID != before.PID || after.Restarts != 0 || !slices.Contains(a.Pids(t), before.PID) {
		t.Errorf("api after the agent's SIGKILL: %+v, want pid %d still running, no restart", after, before.PID)
	}
	hs.must(0, "stop")
	if slices.Contains(a.Pids(t), before.PID) {
		t.Errorf("api (pid %d) still runs after stop: the new agent did not adopt it", before.PID)
	}
}

// An unknown host key: start exits 4 and names the host and the fingerprint; nothing runs.
// hosts check says the same; after hosts trust, start works. A wrong user: exit 4 with the
// SSH error.
func TestRemoteHostKeysAndLogin(t *testing.T) {
	hs := newHostsStack(t, []string{"a"}, apiOnA)
	a := hs.hosts["a"]
	yaml, err := os.ReadFile(hs.file)
	if err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(hs.dir, "known_hosts") // empty: a is unknown
	hs.write(strings.Replace(string(yaml), hs.lan.KnownHosts, known, 1))

	r := hs.must(4, "start")
	if !strings.Contains(r.stdout+r.stderr, a.Fingerprint) || !strings.Contains(r.stdout+r.stderr, a.Addr.String()) {
		t.Errorf("start with an unknown host key does not name the host %s and fingerprint %s:\n%s", a.Addr, a.Fingerprint, r)
	}
	if _, err := os.Stat(a.Path("/root/.harness")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was installed on a (%v)", err)
	}
	check := hs.must(4, "hosts", "check")
	if !strings.Contains(check.stdout, "no") || !strings.Contains(check.stdout, a.Fingerprint) {
		t.Errorf("hosts check:\n%s", check)
	}
	if r := hs.must(2, "hosts", "trust", "a"); !strings.Contains(r.stdout, a.Fingerprint) || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("hosts trust without --yes and no terminal:\n%s", r)
	}
	trusted := hs.must(0, "hosts", "trust", "a", "--yes")
	if !strings.Contains(trusted.stdout, a.Fingerprint) || !strings.Contains(trusted.stdout, "recorded in "+known) {
		t.Errorf("hosts trust a --yes:\n%s", trusted)
	}
	hs.must(0, "start")
	if st := hs.status()["api"]; st.State != "running" || !slices.Contains(a.Pids(t), st.PID) {
		t.Errorf("api after trust: %+v", st)
	}
	list := hs.must(0, "hosts", "list")
	if !strings.Contains(list.stdout, "yes") || !strings.Contains(list.stdout, "Linux") || !strings.Contains(list.stdout, "(pid ") {
		t.Errorf("hosts list after start:\n%s", list)
	}
	hs.must(0, "hosts", "check")
	hs.must(0, "stop")

	// A user that the host refuses; a key that it does not know.
	hs.write(strings.Replace(string(yaml), "ssh_user: root", "ssh_user: nobody-here", 1))
	r = hs.must(4, "start")
	if !strings.Contains(r.stdout+r.stderr, "unable to authenticate") || !strings.Contains(r.stdout+r.stderr, "nobody-here@") {
		t.Errorf("start with a wrong user does not show the SSH error:\n%s", r)
	}
	wrongKey := filepath.Join(hs.dir, "wrong_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", wrongKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	hs.write(strings.Replace(string(yaml), "ssh_key: "+hs.lan.KeyFile, "ssh_key: "+wrongKey, 1))
	r = hs.must(4, "start")
	if !strings.Contains(r.stdout+r.stderr, "unable to authenticate") || !strings.Contains(r.stdout+r.stderr, wrongKey) {
		t.Errorf("start with a wrong key does not show the SSH error and the key:\n%s", r)
	}
}

// A container on host a's own engine, reached from a process on host b at the port it
// publishes on a; its health check runs on a, its logs and exec work; another is built on a
// from a context of the controller; down removes them from a's engine.
func TestRemoteContainer(t *testing.T) {
	tag := fmt.Sprintf("harness-test-web:%d", time.Now().UnixNano())
	hs := newHostsStack(t, []string{"a", "b"}, `
  web:
    type: remote
    host: a
    image: `+tag+`
    command: ["-listen", ":8080"]
    ports: ["18080:8080"]
    health_check: {http: "http://127.0.0.1:8080/health", interval: 1s}
  client:
    type: remote
    host: b
    binary: /root/testserver
    args: ["-fetch", "http://${web.addr}/", "-listen", ":18081"]
    dependencies: [web]
  built:
    type: remote
    host: a
    build: {context: ./built}
    command: ["-listen", ":8080"]
    ports: ["18090:8080"]
    health_check: {tcp: 8080, interval: 1s}
`)
	a := hs.hosts["a"]
	engine := a.Docker(t)
	testenv.DockerImage(t, engine, tag, map[string]string{"/srv": hs.server}, []string{"/srv"})
	// built's image is built on a, from a context in the stack's directory here.
	ctxDir := filepath.Join(hs.dir, "built")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyExecutable(t, hs.server, filepath.Join(ctxDir, "srv"))
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nCOPY srv /srv\nENTRYPOINT [\"/srv\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	hs.must(0, "start")
	st := hs.status()
	if web := st["web"]; web.State != "running" || web.Health != "healthy" || web.Node != "a" || web.ContainerID == "" {
		t.Errorf("web: %+v; want a healthy container on a", web)
	}
	if logs := hs.must(0, "logs", "client").stdout; !strings.Contains(logs, fmt.Sprintf("fetched http://%s:18080/: hello from", a.Addr)) {
		t.Errorf("client did not reach web at a's address and published port:\n%s", logs)
	}
	if logs := hs.must(0, "logs", "web").stdout; !strings.Contains(logs, "listening on") {
		t.Errorf("logs web:\n%s", logs)
	}
	if out := hs.must(0, "exec", "web", "--", "/srv", "-version").stdout; !strings.Contains(out, "testserver") {
		t.Errorf("exec web -- /srv -version: %q", out)
	}
	if built := st["built"]; built.State != "running" || built.Health != "healthy" {
		t.Errorf("built: %+v; want a healthy container built on a", built)
	}
	if body := get(t, fmt.Sprintf("http://%s:18090/", a.Addr)); !strings.Contains(body, "hello from") {
		t.Errorf("built at a:18090: %q", body)
	}
	hs.must(0, "down")
	api, err := client.New(client.WithHost(engine))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	if left := stackLeftovers(t, api, "multi"); left != "" {
		t.Errorf("left on a's engine after down: %s", left)
	}
}

// A host whose sshd forwards no unix sockets: the agent is reached through `harness agent
// dial` on an exec channel, and everything works as over direct-streamlocal, a killed agent's
// restart included.
func TestRemoteWithoutStreamlocal(t *testing.T) {
	hs := newHostsStack(t, []string{"a"}, apiOnA+`    health_check: {http: "http://127.0.0.1:18080/health", interval: 1s}
`)
	a := hs.hosts["a"]
	a.SetSSHD(t, "AllowStreamLocalForwarding", "no")
	hs.must(0, "start")
	st := hs.status()["api"]
	if st.State != "running" || st.Health != "healthy" || !slices.Contains(a.Pids(t), st.PID) {
		t.Errorf("api: %+v; want running and healthy on a", st)
	}
	if logs := hs.must(0, "logs", "api").stdout; !strings.Contains(logs, "listening on") {
		t.Errorf("logs api:\n%s", logs)
	}
	if out := hs.must(0, "exec", "api", "--", "hostname").stdout; strings.TrimSpace(out) != "a" {
		t.Errorf("exec api -- hostname: %q", out)
	}
	daemonLog, _ := os.ReadFile(filepath.Join(hs.data, "daemon.log"))
	if !strings.Contains(string(daemonLog), "reaching it through `agent dial`") {
		t.Errorf("the daemon did not switch to agent dial:\n%s", daemonLog)
	}
	// Its agent killed: found out through agent dial too, and started again.
	old := commands(t, a, "agent run")
	if n := a.Kill(t, syscall.SIGKILL, "agent run"); n != 1 {
		t.Fatalf("killed %d agents", n)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if now := commands(t, a, "agent run"); len(now) == 1 && now[0] != old[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new agent on a within 15 s after the SIGKILL of %v", old)
		}
	}
	if again := hs.status()["api"]; again.PID != st.PID || again.State != "running" {
		t.Errorf("api after the agent's SIGKILL: %+v, want pid %d running", again, st.PID)
	}
	hs.must(0, "stop")
}
