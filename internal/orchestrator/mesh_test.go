package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/network/wireguard"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

// meshNetworks declares lan nodes a and b, wireguard nodes w1 and w2 (mesh), and w3 on another
// wireguard network (far).
const meshNetworks = `version: "1.0"
name: m
networks:
  lan:
    type: lan
    subnet: 10.1.0.0/24
    nodes:
      - {name: a, host: 10.1.0.2, ssh_user: root}
      - {name: b, host: 10.1.0.3, ssh_user: root}
  mesh:
    type: wireguard
    subnet: 10.42.0.0/24
    nodes:
      - {name: w1, host: 10.2.0.2, ssh_user: root}
      - {name: w2, host: 10.2.0.3, ssh_user: root}
  far:
    type: wireguard
    subnet: 10.43.0.0/24
    interface: wg-far
    listen_port: 51821
    nodes:
      - {name: w3, host: 10.3.0.2, ssh_user: root}
services:
`

// A mesh exists for a wireguard network only when a service crosses hosts to or from one of
// its nodes (a dependency or a reference), with exactly the hosts of those edges as members.
func TestMeshes(t *testing.T) {
	for _, tc := range []struct {
		name, services string
		want           map[string][]string // network → members
	}{{
		name: "no wireguard node in use",
		services: `
  x: {type: remote, host: a, binary: sleep, args: ["1"]}
  y: {type: remote, host: b, binary: sleep, args: ["${x.addr}"], dependencies: [x]}
  z: {type: process, binary: sleep, args: ["${y.addr}"]}
`,
		want: map[string][]string{},
	}, {
		name: "services of one wireguard node among themselves",
		services: `
  x: {type: remote, host: w1, binary: sleep, args: ["1"]}
  y: {type: remote, host: w1, binary: sleep, dependencies: [x]}
`,
		want: map[string][]string{},
	}, {
		name: "a lan node reaches a wireguard node by reference",
		services: `
  x: {type: remote, host: w1, binary: sleep, args: ["1"]}
  y: {type: remote, host: a, binary: sleep, args: ["${x.addr}"]}
  z: {type: remote, host: b, binary: sleep, args: ["1"]}
`,
		want: map[string][]string{"mesh": {"a", "w1"}},
	}, {
		name: "wireguard nodes and the controller by dependency",
		services: `
  x: {type: remote, host: w2, binary: sleep, args: ["1"]}
  y: {type: remote, host: w1, binary: sleep, dependencies: [x]}
  z: {type: process, binary: sleep, dependencies: [y]}
`,
		want: map[string][]string{"mesh": {"w1", "w2", "local"}},
	}, {
		name: "two wireguard networks",
		services: `
  x: {type: remote, host: w3, binary: sleep, args: ["1"]}
  y: {type: remote, host: a, binary: sleep, args: ["${x.host}"]}
  z: {type: remote, host: w2, binary: sleep, args: ["${y.host}"]}
`,
		want: map[string][]string{"mesh": {"a", "w2"}, "far": {"a", "w3"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := config.Parse(filepath.Join(t.TempDir(), "services.yaml"), []byte(meshNetworks+tc.services), config.Options{Lookup: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, m := range orchestrator.Meshes(st) {
				got[m.Network.Name] = m.Members
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("meshes (-want +got):\n%s", diff)
			}
		})
	}
}

// meshFake is a host as a mesh member: a target for its services (nil for the controller's
// host) and a WireGuard device kept in memory, its calls recorded in order.
type meshFake struct {
	*netFake
	name string
	log  *meshLog
	key  wireguard.Key
	up   *wireguard.Interface
	fail error // what WireguardUp answers
}

// meshLog records the calls of every meshFake in order.
type meshLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *meshLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

func (f *meshFake) WireguardKey(_ context.Context, name string, rotate bool) (wireguard.Key, error) {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	if f.key == (wireguard.Key{}) || rotate {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			return wireguard.Key{}, err
		}
		f.key = k
	}
	return f.key.PublicKey(), nil
}

func (f *meshFake) WireguardUp(_ context.Context, ifc wireguard.Interface) (bool, error) {
	f.log.add("up " + f.name)
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	started := f.up == nil
	if f.fail != nil {
		return started, f.fail
	}
	f.up = &ifc
	return started, nil
}

func (f *meshFake) WireguardShow(_ context.Context, name string) (wireguard.Status, error) {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	if f.up == nil {
		return wireguard.Status{}, wireguard.ErrNoDevice
	}
	return wireguard.Status{PublicKey: f.key.PublicKey(), ListenPort: f.up.ListenPort}, nil
}

func (f *meshFake) WireguardDown(_ context.Context, name string) (bool, error) {
	f.log.add("down " + f.name)
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	had := f.up != nil
	f.up = nil
	return had, nil
}

// meshServices: a on lan node a reaches s1 on w1 (which gives its endpoint) by reference, s2
// on w2 depends on s1, and the local process l depends on s2: the mesh is a, w1, w2 and the
// controller's host. b's service talks to nobody.
const meshServices = `
  s1: {type: remote, host: w1, binary: s1, ports: [7001]}
  s2: {type: remote, host: w2, binary: s2, ports: [7002], dependencies: [s1], args: ["${s1.addr}"], restart: {policy: always, backoff: {initial: 10ms}}}
  x: {type: remote, host: a, binary: x, args: ["${s1.addr}"]}
  y: {type: remote, host: b, binary: y}
  l: {type: process, binary: l, args: ["${s2.addr}"], dependencies: [s2]}
`

// newMeshEnv runs meshServices; the members named in fail answer that error to WireguardUp.
func newMeshEnv(t *testing.T, fail map[string]error) (*env, map[string]*meshFake, *meshLog) {
	yaml := strings.Replace(meshNetworks, "{name: w1, host: 10.2.0.2, ssh_user: root}", "{name: w1, host: 10.2.0.2, ssh_user: root, endpoint: 198.51.100.7:4500}", 1) + meshServices
	log := &meshLog{}
	hosts := map[string]*meshFake{}
	var mu sync.Mutex
	member := func(name string) *meshFake {
		mu.Lock()
		defer mu.Unlock()
		if hosts[name] == nil {
			hosts[name] = &meshFake{netFake: &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}, name: name, log: log, fail: fail[name]}
		}
		return hosts[name]
	}
	local := member("local")
	e := newTargetsEnv(t, t.TempDir(), yaml, local.Fake, orchestrator.Options{
		Targets: map[string]target.Target{"process": local.netFake},
		Nodes: func(nd *config.Node) (map[string]target.Target, error) {
			return map[string]target.Target{"process": member(nd.Name)}, nil
		},
		Mesh: local,
	})
	return e, hosts, log
}

// Start brings up the mesh before any service: every member gets an address of the subnet,
// every other member as a peer (its key, its endpoint, its address), the members the others
// reach first and without keepalive, the controller's host (which they cannot reach) last and
// with one. References and HARNESS_MESH_IP use the mesh addresses; down removes every
// interface, and a start again gives every member the address it had. The address of a node
// no longer in the stack is released.
func TestMeshBringUp(t *testing.T) {
	e, hosts, log := newMeshEnv(t, nil)
	ipam := network.NewIPAM(e.reg.IPAMStore())
	pool := network.Pool{Name: "mesh:mesh", Subnet: netip.MustParsePrefix("10.42.0.0/24")}
	if err := ipam.Request(pool, "gone", netip.MustParseAddr("10.42.0.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := map[string]string{}
	for _, name := range []string{"a", "w1", "w2", "local"} {
		h := hosts[name]
		if h.up == nil {
			t.Fatalf("%s has no interface", name)
		}
		addr[name] = h.up.Address.Addr().String()
		if h.up.Name != "wg-harness" || h.up.ListenPort != 51820 || h.up.Address.Bits() != 24 || !netip.MustParsePrefix("10.42.0.0/24").Contains(h.up.Address.Addr()) {
			t.Errorf("%s: interface %+v; want wg-harness on 51820 with an address of 10.42.0.0/24", name, h.up)
		}
	}
	if _, held, err := ipam.Lookup(pool.Name, "gone"); held || err != nil {
		t.Errorf("the address of a node gone from the stack: held %v, %v; want released", held, err)
	}
	if hosts["b"] != nil && hosts["b"].up != nil {
		t.Error("b joined the mesh; its service talks to nobody")
	}
	peers := func(name string) map[string]string {
		out := map[string]string{}
		for _, p := range hosts[name].up.Peers {
			for n, h := range hosts {
				if h.key.PublicKey() == p.PublicKey {
					out[n] = fmt.Sprintf("%s %v %s", p.Endpoint, p.AllowedIPs, p.Keepalive)
				}
			}
		}
		return out
	}
	want := map[string]string{
		"a":  "10.1.0.2:51820 [" + addr["a"] + "/32] 0s",
		"w1": "198.51.100.7:4500 [" + addr["w1"] + "/32] 0s",
		"w2": "10.2.0.3:51820 [" + addr["w2"] + "/32] 0s",
	}
	for name := range want {
		w := maps.Clone(want)
		delete(w, name)
		w["local"] = "invalid AddrPort [" + addr["local"] + "/32] 0s"
		if diff := cmp.Diff(w, peers(name)); diff != "" {
			t.Errorf("peers of %s (-want +got):\n%s", name, diff)
		}
	}
	for name, p := range peers("local") {
		if !strings.HasSuffix(p, "] 25s") {
			t.Errorf("the controller's peer %s: %s; want a 25s keepalive", name, p)
		}
	}
	if last := log.calls[3]; last != "up local" {
		t.Errorf("calls %v: want the controller's host brought up last", log.calls)
	}
	if got := hosts["a"].spec("x").Argv; !slices.Equal(got, []string{"x", addr["w1"] + ":7001"}) {
		t.Errorf("x's argv %q: want s1 at w1's mesh address", got)
	}
	if got := hosts["local"].spec("l").Argv; !slices.Equal(got, []string{"l", addr["w2"] + ":7002"}) {
		t.Errorf("l's argv %q: want s2 at w2's mesh address", got)
	}
	if env := hosts["w2"].spec("s2").Env; !slices.Contains(env, "HARNESS_MESH_IP="+addr["w2"]) {
		t.Errorf("s2's env %q lacks HARNESS_MESH_IP=%s", env, addr["w2"])
	}

	if _, err := e.o.Down(context.Background(), false); err != nil {
		t.Fatalf("Down: %v", err)
	}
	for name, h := range hosts {
		if h.up != nil {
			t.Errorf("%s still has its interface after Down", name)
		}
	}
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	for name, a := range addr {
		if got := hosts[name].up.Address.Addr().String(); got != a {
			t.Errorf("%s: address %s after down and start; want %s again", name, got, a)
		}
	}
}

// A member that cannot bring its interface up fails the start before any service starts,
// and the interfaces that start created are removed again.
func TestMeshBringUpFails(t *testing.T) {
	e, hosts, log := newMeshEnv(t, map[string]error{"w2": errors.New("no TUN here")})
	_, err := e.o.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "mesh mesh: node w2: no TUN here") {
		t.Fatalf("Start: %v; want the mesh's error naming w2", err)
	}
	for name, h := range hosts {
		if h.up != nil {
			t.Errorf("%s keeps an interface after the failed start", name)
		}
		if len(h.specs) > 0 {
			t.Errorf("%s started services %v", name, slices.Collect(maps.Keys(h.specs)))
		}
	}
	var downs []string
	for _, c := range log.calls {
		if strings.HasPrefix(c, "down ") {
			downs = append(downs, c)
		}
	}
	slices.Sort(downs)
	if diff := cmp.Diff([]string{"down a", "down w1", "down w2"}, downs); diff != "" {
		t.Errorf("interfaces removed (-want +got):\n%s", diff)
	}
}

// A member that lost its interface (a reboot, a deleted interface) gets it back before a
// service of its restarts, with the address it had; the others keep theirs.
func TestMeshRepairedOnRestart(t *testing.T) {
	e, hosts, log := newMeshEnv(t, nil)
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := hosts["w2"].up.Address
	log.mu.Lock()
	hosts["w2"].up = nil // w2 rebooted
	log.calls = nil
	log.mu.Unlock()
	var s2 target.Handle
	for _, r := range e.o.Status() {
		if r.Key.Service == "s2" {
			s2 = r.Handle
		}
	}
	if err := hosts["w2"].Fake.Exit(s2, target.Exit{Code: 1}); err != nil {
		t.Fatal(err)
	}
	starts := func() int {
		n := 0
		for _, c := range hosts["w2"].Calls() {
			if c.Method == "Start" && c.Service == "s2" {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); starts() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if starts() < 2 {
		t.Fatal("s2 was not restarted")
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if up := hosts["w2"].up; up == nil || up.Address != addr {
		t.Fatalf("w2's interface after s2's restart: %+v; want it back with %s", up, addr)
	}
	if !slices.Contains(log.calls, "up local") || !slices.Contains(log.calls, "up a") {
		t.Errorf("calls %v: want the whole mesh brought up again", log.calls)
	}
}
