package orchestrator_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
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
