package orchestrator_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

const remoteStack = `version: "1.0"
name: r
networks:
  lan:
    type: lan
    subnet: 10.1.0.0/24
    nodes:
      - {name: na, host: 10.1.0.1, ssh_user: root}
      - {name: nb, host: 10.1.0.2, ssh_user: root}
services:
  b: {type: remote, host: nb, binary: /usr/bin/b, ports: [7000], env: {MODE: b}}
  a: {type: remote, host: na, binary: ./a, args: ["${b.addr}", "${a.addr}"], working_dir: /srv, ports: [7001], dependencies: [b]}
  c: {type: process, binary: c, args: ["${a.addr}"], dependencies: [a]}
`

// Remote services run on their node's targets, which Nodes opens once per node: their specs
// hold paths of the node and only their declared environment, the agent keeps their logs,
// and each reference resolves to the address the caller's node reaches the callee at.
func TestRemoteServices(t *testing.T) {
	local := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	nodes := map[string]*netFake{}
	var opened []string
	var mu sync.Mutex
	open := func(nd *config.Node) (map[string]target.Target, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, nd.Name)
		f := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
		nodes[nd.Name] = f
		return map[string]target.Target{"process": f}, nil
	}
	e := newTargetsEnv(t, t.TempDir(), remoteStack, local.Fake, orchestrator.Options{
		Targets: map[string]target.Target{"process": local}, Nodes: open,
	})
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	slices.Sort(opened)
	if diff := cmp.Diff([]string{"na", "nb"}, opened); diff != "" {
		t.Errorf("nodes opened (-want +got):\n%s", diff)
	}
	a := nodes["na"].spec("a")
	want := target.Spec{
		Stack: "r", Service: "a",
		// b from node na: nb's address; a itself: loopback on its own node.
		Argv: []string{"./a", "10.1.0.2:7000", "127.0.0.1:7001"},
		Dir:  "/srv", StopSignal: "SIGTERM",
		Env:        []string{"HARNESS_STACK=r", "HARNESS_SERVICE=a", "B_HOST=10.1.0.2", "B_PORT=7000", "B_ADDR=10.1.0.2:7000"},
		ConfigHash: a.ConfigHash,
	}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("a's spec on node na (-want +got):\n%s", diff)
	}
	if got := local.spec("c").Argv; !slices.Equal(got, []string{"c", "10.1.0.1:7001"}) {
		t.Errorf("c's argv %q: want a at node na's address", got)
	}
	if len(nodes["nb"].spec("a").Argv) != 0 || len(nodes["na"].spec("b").Argv) != 0 {
		t.Error("a service ran on another node than its own")
	}
	for _, r := range e.o.Status() {
		if r.Key.Service == "a" {
			wantEP := []registry.Endpoint{{Network: "lan", IP: "10.1.0.1", Port: 7001}}
			if diff := cmp.Diff(wantEP, r.Endpoints); diff != "" {
				t.Errorf("a's endpoints (-want +got):\n%s", diff)
			}
		}
	}
}

// A remote service cannot reach a service of the controller's host yet: its start fails
// and says why, before anything runs on the node.
func TestRemoteCannotReachLocal(t *testing.T) {
	f := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	yaml := strings.Replace(remoteStack, `binary: /usr/bin/b, ports: [7000]`, `binary: /usr/bin/b, args: ["${c.addr}"], ports: [7000]`, 1)
	yaml = strings.Replace(yaml, `args: ["${a.addr}"], dependencies: [a]`, `ports: [7002]`, 1)
	e := newTargetsEnv(t, t.TempDir(), yaml, f.Fake, orchestrator.Options{
		Targets: map[string]target.Target{"process": f},
		Nodes: func(*config.Node) (map[string]target.Target, error) {
			return map[string]target.Target{"process": f}, nil
		},
	})
	_, err := e.o.Start(context.Background(), "b")
	if err == nil || !strings.Contains(err.Error(), "c runs on the controller's host") {
		t.Errorf("Start b: %v, want an error saying c is not reachable from node nb", err)
	}
	if got := e.calls("Start"); len(got) != 1 || got[0] != "c" {
		t.Errorf("started %q, want only c (b's dependency)", got)
	}
}

// partitioned is a remote node's target that can be cut off: while it is, Wait (also one in
// progress), Exec and Ping fail with target.ErrUnreachable.
type partitioned struct {
	*targettest.Fake
	mu   sync.Mutex
	down bool
	cut  chan struct{} // closed when the node goes down
}

func newPartitioned() *partitioned {
	return &partitioned{Fake: targettest.NewFake(), cut: make(chan struct{})}
}

func (p *partitioned) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case down && !p.down:
		close(p.cut)
	case !down && p.down:
		p.cut = make(chan struct{})
	}
	p.down = down
}

func (p *partitioned) unreachable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return fmt.Errorf("node na: %w", target.ErrUnreachable)
	}
	return nil
}

func (p *partitioned) Wait(ctx context.Context, h target.Handle) (target.Exit, error) {
	p.mu.Lock()
	cut := p.cut
	p.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-cut:
			cancel()
		case <-wctx.Done():
		}
	}()
	exit, err := p.Fake.Wait(wctx, h)
	if uerr := p.unreachable(); uerr != nil && ctx.Err() == nil {
		return target.Exit{}, uerr
	}
	return exit, err
}

func (p *partitioned) Exec(ctx context.Context, h target.Handle, argv []string) (target.ExecResult, error) {
	if err := p.unreachable(); err != nil {
		return target.ExecResult{}, err
	}
	return p.Fake.Exec(ctx, h, argv)
}

func (p *partitioned) Ping(context.Context) error { return p.unreachable() }

// While its node is out of reach, a remote service's failed waits and checks are not taken
// for an exit or for unhealthiness: it is not restarted, and it is healthy on the same run
// once the node answers again.
func TestPartitionRestartsNothing(t *testing.T) {
	node := newPartitioned()
	yaml := `version: "1.0"
name: r
networks:
  lan:
    type: lan
    subnet: 10.1.0.0/24
    nodes: [{name: na, host: 10.1.0.1, ssh_user: root}]
services:
  a:
    type: remote
    host: na
    binary: /usr/bin/a
    restart: always
    health_check: {command: "true", interval: 20ms, start_interval: 20ms, retries: 1}
`
	e := newTargetsEnv(t, t.TempDir(), yaml, node.Fake, orchestrator.Options{
		Nodes: func(*config.Node) (map[string]target.Target, error) {
			return map[string]target.Target{"process": node}, nil
		},
	})
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := e.o.Status()[0]
	node.setDown(true)
	time.Sleep(300 * time.Millisecond) // some 15 checks and waits fail meanwhile
	node.setDown(false)
	time.Sleep(100 * time.Millisecond)
	after := e.o.Status()[0]
	if got := e.calls("Start"); len(got) != 1 {
		t.Errorf("started %q, want a once", got)
	}
	if after.Handle != before.Handle || after.State != lifecycle.Running || after.Health != lifecycle.HealthHealthy || after.Restarts != 0 {
		t.Errorf("after the partition: %+v; want the same run %v, running and healthy, no restart", after, before.Handle)
	}
	if n := len(e.calls("Exec")); n < 3 {
		t.Errorf("%d checks ran, want several", n)
	}
}

// A node whose login changes in the services file is opened again; an unchanged one is not.
func TestNodeReopenedWhenItsLoginChanges(t *testing.T) {
	var opened []string
	var mu sync.Mutex
	hosts := map[string]*targettest.Fake{} // one host per node name, whatever the login
	open := func(nd *config.Node) (map[string]target.Target, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, nd.Name+"/"+nd.SSHUser)
		if hosts[nd.Name] == nil {
			hosts[nd.Name] = targettest.NewFake()
		}
		return map[string]target.Target{"process": &netFake{Fake: hosts[nd.Name], specs: map[string]target.Spec{}}}, nil
	}
	yaml := strings.Replace(remoteStack, "c: {type: process", "c: {type: remote, host: na", 1)
	e := newTargetsEnv(t, t.TempDir(), yaml, targettest.NewFake(), orchestrator.Options{Nodes: open})
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(yaml, "{name: na, host: 10.1.0.1, ssh_user: root}", "{name: na, host: 10.1.0.1, ssh_user: deploy}", 1)
	stack, err := config.Parse(e.o.Stack().File, []byte(changed), config.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.o.Update(stack, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.o.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	slices.Sort(opened)
	if diff := cmp.Diff([]string{"na/deploy", "na/root", "nb/root"}, opened); diff != "" {
		t.Errorf("nodes opened (-want +got):\n%s", diff)
	}
}

// A container on a remote node runs on the node's engine, on the stack's network there at an
// address the node picks; the others reach it at the port it publishes on the node. Its build
// context is a directory of this host.
func TestRemoteContainer(t *testing.T) {
	local := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	node := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	yaml := strings.Replace(remoteStack, "b: {type: remote, host: nb, binary: /usr/bin/b, ports: [7000],",
		`b: {type: remote, host: nb, image: "img:1", ports: ["7100:7000"], volumes: ["/srv/b:/data"],`, 1)
	e := newTargetsEnv(t, t.TempDir(), yaml, local.Fake, orchestrator.Options{
		Targets: map[string]target.Target{"process": local},
		Nodes: func(*config.Node) (map[string]target.Target, error) {
			return map[string]target.Target{"process": node, "docker": node}, nil
		},
	})
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := node.spec("b")
	want := &target.Container{
		Image:   "img:1",
		Ports:   []target.Port{{Target: 7000, Published: 7100, Protocol: "tcp"}},
		Mounts:  []target.Mount{{Source: "/srv/b", Target: "/data"}},
		Network: "harness-r",
	}
	if diff := cmp.Diff(want, b.Container); diff != "" {
		t.Errorf("b's container on node nb (-want +got):\n%s", diff)
	}
	if b.LogPath != "" {
		t.Errorf("b's log path %q: want the agent's", b.LogPath)
	}
	if got := node.spec("a").Argv; !slices.Equal(got, []string{"./a", "10.1.0.2:7100", "127.0.0.1:7001"}) {
		t.Errorf("a's argv %q: want b at node nb's address and published port", got)
	}
	for _, r := range e.o.Status() {
		if r.Key.Service == "b" {
			if diff := cmp.Diff([]registry.Endpoint{{Network: "lan", IP: "10.1.0.2", Port: 7100}}, r.Endpoints); diff != "" {
				t.Errorf("b's endpoints (-want +got):\n%s", diff)
			}
		}
	}

	// Built: the context is the controller's directory; the node's target sends it there.
	built := strings.Replace(yaml, `image: "img:1"`, `build: {context: ./b}`, 1)
	dir := t.TempDir()
	node2 := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	e2 := newTargetsEnv(t, dir, built, local.Fake, orchestrator.Options{
		Nodes: func(*config.Node) (map[string]target.Target, error) {
			return map[string]target.Target{"process": node2, "docker": node2}, nil
		},
	})
	if _, err := e2.o.Start(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if got := node2.spec("b").Container.Build; got == nil || got.Context != filepath.Join(dir, "b") {
		t.Errorf("b's build: %+v, want the context %s of this host", got, filepath.Join(dir, "b"))
	}
}
