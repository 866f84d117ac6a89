package orchestrator_test

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

// netFake is a Fake container target with a network per stack: it records the specs it
// starts and the stacks it removes.
type netFake struct {
	*targettest.Fake
	mu      sync.Mutex
	specs   map[string]target.Spec
	removed []string
}

func (f *netFake) Start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	f.mu.Lock()
	f.specs[spec.Service] = spec
	f.mu.Unlock()
	if spec.Container != nil && spec.Argv == nil {
		spec.Argv = []string{"image-cmd"} // the Fake runs argv; the image's command is one
	}
	return f.Fake.Start(ctx, spec)
}

func (f *netFake) EnsureNetwork(_ context.Context, n target.Network) (target.Network, error) {
	if !n.Subnet.IsValid() {
		n.Subnet = netip.MustParsePrefix("172.29.0.0/16")
	}
	n.Gateway = n.Subnet.Addr().Next()
	return n, nil
}

func (f *netFake) RemoveStack(_ context.Context, stack string, volumes bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, stack)
	return nil
}

func (f *netFake) spec(service string) target.Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.specs[service]
}

const mixed = `version: "1.0"
name: shop
networks:
  local: {type: local, container_subnet: 172.30.0.0/29}
services:
  client:
    type: process
    binary: client
    args: ["${web.addr}"]
  web:
    type: docker
    image: web:1
    command: ["/server", "-listen", ":8080"]
    ports: ["18080:8080"]
    volumes: ["./data:/data:ro", "cache:/cache"]
    env: {MODE: test}
  db:
    type: docker
    image: db:1
    ports: [5432]
`

func TestContainers(t *testing.T) {
	fake := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	dir := t.TempDir()
	e := newTargetsEnv(t, dir, mixed, fake.Fake, orchestrator.Options{Targets: map[string]target.Target{"process": fake, "docker": fake}})
	// db starts first, yet the addresses follow the file: web, then db.
	if _, err := e.o.Start(context.Background(), "db"); err != nil {
		t.Fatalf("Start db: %v", err)
	}
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	web := fake.spec("web")
	want := &target.Container{
		Image:   "web:1",
		Ports:   []target.Port{{Target: 8080, Published: 18080, Protocol: "tcp"}},
		Mounts:  []target.Mount{{Source: dir + "/data", Target: "/data", ReadOnly: true}, {Source: "cache", Target: "/cache", Volume: true}},
		Network: "harness-shop",
		IP:      "172.30.0.2",
	}
	if diff := cmp.Diff(want, web.Container); diff != "" {
		t.Errorf("web's container (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/server", "-listen", ":8080"}, web.Argv); diff != "" {
		t.Errorf("web's command (-want +got):\n%s", diff)
	}
	// A container gets its env and the injected variables, nothing of harness's environment.
	if diff := cmp.Diff([]string{"MODE=test", "HARNESS_STACK=shop", "HARNESS_SERVICE=web"}, web.Env); diff != "" {
		t.Errorf("web's env (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("172.30.0.3", fake.spec("db").Container.IP); diff != "" {
		t.Errorf("db's address (-want +got):\n%s", diff)
	}
	// A local process reaches the container at its bridge address and container port.
	client := fake.spec("client")
	if diff := cmp.Diff([]string{"client", "172.30.0.2:8080"}, client.Argv); diff != "" {
		t.Errorf("client's argv (-want +got):\n%s", diff)
	}
	if !slices.Contains(client.Env, "WEB_ADDR=172.30.0.2:8080") {
		t.Errorf("client's env %q lacks WEB_ADDR=172.30.0.2:8080", client.Env)
	}
	for _, r := range e.o.Status() {
		if r.Key.Service == "web" {
			wantEP := []registry.Endpoint{{Network: "harness-shop", IP: "172.30.0.2", Port: 8080}, {Network: "host", IP: "127.0.0.1", Port: 18080}}
			if diff := cmp.Diff(wantEP, r.Endpoints); diff != "" {
				t.Errorf("web's endpoints (-want +got):\n%s", diff)
			}
		}
	}
	// A recreated container keeps its address; down forgets it and removes the network.
	if _, err := e.o.Stop(context.Background(), "web"); err != nil {
		t.Fatalf("Stop web: %v", err)
	}
	if _, err := e.o.Start(context.Background(), "web"); err != nil {
		t.Fatalf("Start web: %v", err)
	}
	if diff := cmp.Diff("172.30.0.2", fake.spec("web").Container.IP); diff != "" {
		t.Errorf("web's address after a restart (-want +got):\n%s", diff)
	}
	// The addresses are the registry's IPAM's, which down gives back.
	ipam := network.NewIPAM(e.reg.IPAMStore())
	kept, err := ipam.List("bridge:harness-shop")
	if diff := cmp.Diff(network.Allocations{"web": netip.MustParseAddr("172.30.0.2"), "db": netip.MustParseAddr("172.30.0.3")}, kept, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); err != nil || diff != "" {
		t.Errorf("the IPAM's pool (-want +got), %v:\n%s", err, diff)
	}
	if _, err := e.o.Down(context.Background(), false); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if left, err := ipam.List("bridge:harness-shop"); err != nil || len(left) != 0 {
		t.Errorf("after down the pool holds %v (%v), want nothing", left, err)
	}
	if diff := cmp.Diff([]string{"shop"}, fake.removed); diff != "" {
		t.Errorf("stacks removed (-want +got):\n%s", diff)
	}
	for _, r := range e.o.Status() {
		if !r.Handle.IsZero() || r.Endpoints != nil {
			t.Errorf("%s after down: handle %v, endpoints %v; want none", r.Key.Service, r.Handle, r.Endpoints)
		}
	}
	if diff := cmp.Diff([]string{"client", "web", "db"}, e.calls("Remove")); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
}

// down of a stack of processes asks no container target for anything: it needs no engine.
func TestDownOfProcessesLeavesDockerAlone(t *testing.T) {
	proc := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	docker := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	e := newTargetsEnv(t, t.TempDir(), "version: \"1.0\"\nname: p\nservices:\n  a: {type: process, binary: a}\n",
		proc.Fake, orchestrator.Options{Targets: map[string]target.Target{"process": proc, "docker": docker}})
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, err := e.o.Down(context.Background(), true); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if diff := cmp.Diff([]string{"p"}, proc.removed); diff != "" {
		t.Errorf("stacks removed by the process target (-want +got):\n%s", diff)
	}
	if len(docker.removed) != 0 {
		t.Errorf("the docker target removed stacks %q of a stack of processes", docker.removed)
	}
}
