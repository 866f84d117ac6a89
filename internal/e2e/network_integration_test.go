//go:build integration

package e2e_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/graph-network-harness/harness/api"
)

// network show reads each test host through its agent (its address is on its own interface),
// finds that the hosts reach each other directly, and gives each service's address from
// every node, as ${svc.addr} resolves there.
func TestNetworkShow(t *testing.T) {
	hs := newHostsStack(t, []string{"a", "b"}, apiOnA+`
  web:
    type: process
    binary: TESTSERVER
    args: ["-listen", "127.0.0.1:18095"]
    ports: [18095]
`)
	r := hs.must(0, "network", "show", "-o", "json")
	var resp api.NetworkResponse
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatalf("network show -o json: %v\n%s", err, r)
	}
	var names []string
	for _, n := range resp.Nodes {
		names = append(names, n.Name)
		if n.Name == "local" {
			continue
		}
		h := hs.hosts[n.Name]
		var addrs []string
		for _, i := range n.Interfaces {
			addrs = append(addrs, i.Addrs...)
		}
		if !n.Reachable || !n.HostLocal || n.Type != "lan" || !slices.ContainsFunc(addrs, func(a string) bool { return strings.HasPrefix(a, h.Addr.String()+"/") }) {
			t.Errorf("node %s: %+v; want reachable, of type lan, %s on one of its interfaces", n.Name, n, h.Addr)
		}
	}
	if !slices.Equal(names, []string{"local", "a", "b"}) {
		t.Errorf("nodes %v, want local, a, b", names)
	}
	var links []string
	for _, l := range resp.Links {
		if l.Direct {
			links = append(links, l.From+"→"+l.To)
		}
	}
	if !slices.Equal(links, []string{"a→b", "b→a"}) {
		t.Errorf("direct links %v (%+v), want a→b and b→a", links, resp.Links)
	}
	from := map[string]map[string]string{}
	for _, s := range resp.Services {
		from[s.Name] = map[string]string{}
		for _, f := range s.From {
			from[s.Name][f.Node] = f.Addr + " " + f.Via
		}
	}
	a := hs.hosts["a"].Addr.String()
	want := map[string]map[string]string{
		"api": {"local": a + ":18080 lan", "a": "127.0.0.1:18080 loopback", "b": a + ":18080 lan"},
		"web": {"local": "127.0.0.1:18095 loopback", "a": " ", "b": " "}, // no address from the nodes
	}
	for svc, w := range want {
		for node, addr := range w {
			if from[svc][node] != addr {
				t.Errorf("%s from %s: %q, want %q", svc, node, from[svc][node], addr)
			}
		}
	}
	table := hs.must(0, "network", "show").stdout
	t.Logf("network show:\n%s", table)
	if !strings.Contains(table, "a → b  direct") || !strings.Contains(table, "web from a: ") {
		t.Errorf("network show:\n%s", table)
	}
	// No wireguard network: no mesh, and no interface for one on any host, even once the
	// stack runs.
	hs.must(0, "start")
	for name, h := range hs.hosts {
		if got := interfaces(t, h, ""); strings.Join(got, ",") != "lo,eth0" {
			t.Errorf("%s after start: interfaces %v, want lo and eth0 only", name, got)
		}
	}
}
