package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
)

func TestWriteNetwork(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	resp := api.NetworkResponse{
		Stack: "s",
		Nodes: []api.NetworkNode{
			{Name: "local", Network: "local", Type: "local", Reachable: true, HostLocal: true, Interfaces: []api.Interface{
				{Name: "lo", Up: true, Loopback: true, Addrs: []string{"127.0.0.1/8"}},
				{Name: "eth0", Up: true, Addrs: []string{"10.0.0.5/24", "fe80::1/64"}},
				{Name: "eth1", Addrs: []string{"10.9.0.5/24"}},
			}},
			{Name: "a", Network: "lan", Type: "lan", Host: "10.1.0.2", Reachable: true, HostLocal: true, Interfaces: []api.Interface{{Name: "eth0", Up: true, Addrs: []string{"10.1.0.2/24"}}},
				Mesh: []api.MeshInterface{{Network: "mesh", Interface: "wg-harness", Addrs: []string{"10.42.0.1/24", "fe80::1/64"}, PublicKey: "AKEY=", ListenPort: 51820, Peers: []api.MeshPeer{
					{Node: "w", PublicKey: "WKEY=", Endpoint: "192.0.2.7:51820", LastHandshake: now.Add(-3 * time.Second), RxBytes: 1234567, TxBytes: 840},
					{PublicKey: "XKEY=", AllowedIPs: []string{"10.42.0.9/32"}},
				}}}},
			{Name: "b", Network: "lan", Type: "lan", Host: "b.example", Reachable: true, Interfaces: []api.Interface{{Name: "eth0", Up: true, Addrs: []string{"10.1.0.3/24"}}}},
			{Name: "c", Network: "lan", Type: "lan", Host: "10.1.0.4", Error: "node c: unreachable: i/o timeout", Interfaces: []api.Interface{}},
		},
		Links: []api.Link{
			{From: "a", To: "b", Direct: true, RTT: api.Duration(1500000)},
			{From: "a", To: "c", Error: "connect failed"},
		},
		Services: []api.ServiceAddresses{
			{Name: "api", Node: "a", From: []api.NodeAddress{
				{Node: "local", Addr: "10.1.0.2:8080", Via: "lan"}, {Node: "a", Addr: "127.0.0.1:8080", Via: "loopback"},
				{Node: "b", Addr: "10.1.0.2:8080", Via: "lan"}, {Node: "c", Addr: "10.1.0.2:8080", Via: "lan"},
			}},
			{Name: "web", Node: "local", From: []api.NodeAddress{
				{Node: "local", Addr: "127.0.0.1:80", Via: "loopback"}, {Node: "a", Error: "no address"},
				{Node: "b", Error: "no address"}, {Node: "c", Error: "no address"},
			}},
		},
	}
	var b bytes.Buffer
	if err := writeNetwork(&b, palette{}, resp, now); err != nil {
		t.Fatal(err)
	}
	want := `NODE   NETWORK  TYPE   HOST                   REACHABLE  ADDRESSES
local  local    local  -                      yes        eth0 10.0.0.5/24
a      lan      lan    10.1.0.2               yes        eth0 10.1.0.2/24
b      lan      lan    b.example (not local)  yes        eth0 10.1.0.3/24
c      lan      lan    10.1.0.4               no         -
c: node c: unreachable: i/o timeout

LINKS (a TCP connection from each node to the other's SSH address)
  a → b  direct  1.5ms
  a → c  no  connect failed

MESH mesh (WireGuard)
  a  wg-harness 10.42.0.1/24  port 51820
    → w  192.0.2.7:51820  handshake 3s ago  rx 1.2 MB  tx 840 B
    → unknown key XKEY=  -  no handshake yet  rx 0 B  tx 0 B

SERVICE  NODE   FROM local             FROM a                   FROM b             FROM c
api      a      10.1.0.2:8080 lan      127.0.0.1:8080 loopback  10.1.0.2:8080 lan  10.1.0.2:8080 lan
web      local  127.0.0.1:80 loopback  -                        -                  -
web from a: no address
web from b: no address
web from c: no address
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("network show (-want +got):\n%s", diff)
	}
}
