package network_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/graph-network-harness/harness/internal/network"
)

// Every pair of location kinds: the controller's host (local: no member of the mesh, or one),
// LAN nodes (a; b, a member of the mesh), wireguard nodes (m, n); processes and containers on
// each.
func TestResolve(t *testing.T) {
	meshM := netip.MustParseAddr("10.42.0.3")
	places := map[string]network.Place{
		"local process":   {Node: "local"},
		"local container": {Node: "local", Container: true},
		"local member":    {Node: "local", MeshAddr: netip.MustParseAddr("10.42.0.9")},
		"a process":       {Node: "a"},
		"a container":     {Node: "a", Container: true},
		"b process":       {Node: "b", MeshAddr: netip.MustParseAddr("10.42.0.2")},
		"m process":       {Node: "m", Mesh: true, MeshAddr: meshM},
		"m container":     {Node: "m", Container: true, Mesh: true, MeshAddr: meshM},
	}
	callees := map[string]network.Callee{
		"local process":   {Place: places["local process"], Name: "lp", Port: 7000},
		"local container": {Place: places["local container"], Name: "lc", Port: 8080, BridgeIP: netip.MustParseAddr("172.30.0.2"), BridgePort: 80},
		"a process":       {Place: places["a process"], Name: "ap", Port: 7001, NodeAddr: "10.0.0.1"},
		"a container":     {Place: places["a container"], Name: "ac", Port: 8081, NodeAddr: "10.0.0.1"},
		"b process":       {Place: places["b process"], Name: "bp", Port: 7002, NodeAddr: "10.0.0.2"},
		"b container":     {Place: network.Place{Node: "b", Container: true, MeshAddr: places["b process"].MeshAddr}, Name: "bc", Port: 8082, NodeAddr: "10.0.0.2"},
		"m process":       {Place: places["m process"], Name: "mp", Port: 7003, NodeAddr: "203.0.113.7"},
		"m container":     {Place: places["m container"], Name: "mc", Port: 8083, NodeAddr: "203.0.113.7"},
		"n process":       {Place: network.Place{Node: "n", Mesh: true, MeshAddr: netip.MustParseAddr("fd42::4")}, Name: "np", Port: 7004, NodeAddr: "203.0.113.8"},
	}
	// The controller's host and a LAN node that are no members reach no mesh node.
	fromLocal := map[string]string{
		"local process": "127.0.0.1:7000 loopback", "local container": "172.30.0.2:80 bridge",
		"a process": "10.0.0.1:7001 lan", "a container": "10.0.0.1:8081 lan",
		"b process": "10.0.0.2:7002 lan", "b container": "10.0.0.2:8082 lan",
		"m process": "-", "m container": "-", "n process": "-",
	}
	// want[from][to]: "HOST:PORT via", or "-" for no address.
	want := map[string]map[string]string{
		"local process":   fromLocal,
		"local container": fromLocal,
		"local member": {
			"local process": "127.0.0.1:7000 loopback", "local container": "172.30.0.2:80 bridge",
			"a process": "10.0.0.1:7001 lan", "a container": "10.0.0.1:8081 lan",
			"b process": "10.0.0.2:7002 lan", "b container": "10.0.0.2:8082 lan",
			"m process": "10.42.0.3:7003 mesh", "m container": "10.42.0.3:8083 mesh", "n process": "[fd42::4]:7004 mesh",
		},
		"a process": {
			"local process": "-", "local container": "-",
			"a process": "127.0.0.1:7001 loopback", "a container": "127.0.0.1:8081 loopback",
			"b process": "10.0.0.2:7002 lan", "b container": "10.0.0.2:8082 lan",
			"m process": "-", "m container": "-", "n process": "-",
		},
		"a container": {
			"local process": "-", "local container": "-",
			"a process": "127.0.0.1:7001 loopback", "a container": "10.0.0.1:8081 lan",
			"b process": "10.0.0.2:7002 lan", "b container": "10.0.0.2:8082 lan",
			"m process": "-", "m container": "-", "n process": "-",
		},
		// A LAN node that is a member: the LAN for LAN nodes, the mesh for mesh nodes.
		"b process": {
			"local process": "-", "local container": "-",
			"a process": "10.0.0.1:7001 lan", "a container": "10.0.0.1:8081 lan",
			"b process": "127.0.0.1:7002 loopback", "b container": "127.0.0.1:8082 loopback",
			"m process": "10.42.0.3:7003 mesh", "m container": "10.42.0.3:8083 mesh", "n process": "[fd42::4]:7004 mesh",
		},
		// A mesh node reaches every other host over the mesh, the members only.
		"m process": {
			"local process": "-", "local container": "-",
			"a process": "-", "a container": "-", "b process": "10.42.0.2:7002 mesh", "b container": "10.42.0.2:8082 mesh",
			"m process": "127.0.0.1:7003 loopback", "m container": "127.0.0.1:8083 loopback", "n process": "[fd42::4]:7004 mesh",
		},
		"m container": {
			"local process": "-", "local container": "-",
			"a process": "-", "a container": "-", "b process": "10.42.0.2:7002 mesh", "b container": "10.42.0.2:8082 mesh",
			"m process": "127.0.0.1:7003 loopback", "m container": "203.0.113.7:8083 lan", "n process": "[fd42::4]:7004 mesh",
		},
	}
	for from, row := range want {
		if len(row) != len(callees) {
			t.Fatalf("from %s: %d callees, want all %d", from, len(row), len(callees))
		}
		for to, w := range row {
			got, err := network.Resolve(places[from], callees[to])
			text := "-"
			if err == nil {
				text = got.String() + " " + string(got.Via)
			} else if !errors.Is(err, network.ErrNoAddress) {
				t.Errorf("%s → %s: %v, want ErrNoAddress", from, to, err)
			}
			if text != w {
				t.Errorf("%s → %s: %s (%v), want %s", from, to, text, err, w)
			}
		}
	}
	if len(want) != len(places) {
		t.Errorf("%d callers, want all %d", len(want), len(places))
	}
}

// A container that publishes nothing cannot be reached from another host, nor on loopback.
func TestResolveUnpublished(t *testing.T) {
	to := network.Callee{Place: network.Place{Node: "a", Container: true}, Name: "db", NodeAddr: "10.0.0.1"}
	for _, from := range []network.Place{{Node: "local"}, {Node: "a"}, {Node: "b", Container: true}} {
		if _, err := network.Resolve(from, to); !errors.Is(err, network.ErrNoAddress) {
			t.Errorf("from %+v: %v, want ErrNoAddress", from, err)
		}
	}
}

func TestAddressString(t *testing.T) {
	for a, want := range map[network.Address]string{
		{Host: "10.0.0.1", Port: 80}: "10.0.0.1:80",
		{Host: "fd42::4", Port: 80}:  "[fd42::4]:80",
		{Host: "db.lan", Port: 5432}: "db.lan:5432",
		{Host: "10.0.0.1"}:           "10.0.0.1", // no port
	} {
		if got := a.String(); got != want {
			t.Errorf("%+v: %q, want %q", a, got, want)
		}
	}
}
