package daemon

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/agent"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/network/wireguard"
	"github.com/graph-network-harness/harness/internal/remote"
)

// linkTimeout bounds a connection from one node to another in Network.
const linkTimeout = 5 * time.Second

// Network implements httpapi.Backend: every node is read at once, then every link tried at
// once.
func (d *daemon) Network(ctx context.Context, req api.NetworkRequest) (api.NetworkResponse, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.NetworkResponse{}, err
	}
	stack := orch.Stack()
	nodes, _ := nodesOf(stack, nil)
	rs := d.remotesOf(stack)
	out := api.NetworkResponse{Stack: stack.Name, Nodes: make([]api.NetworkNode, len(nodes)+1), Links: []api.Link{}, Services: []api.ServiceAddresses{}}
	out.Nodes[0] = localNode(stack)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, hostCheckTimeout)
			defer cancel()
			out.Nodes[i+1] = remoteNode(ctx, rs.Node(nd), nd)
			if nw := stack.Network(nd.Network); nw != nil {
				out.Nodes[i+1].Type = string(nw.Type)
			}
		})
	}
	wg.Wait()
	readMeshes(ctx, stack, d.localMesh(), rs, nodes, out.Nodes)
	out.Links = links(ctx, rs, nodes, out.Nodes[1:])
	names := []string{network.Local}
	for _, nd := range nodes {
		names = append(names, nd.Name)
	}
	for _, svc := range stack.Services {
		s := api.ServiceAddresses{Name: svc.Name, Node: stack.NodeName(svc), From: make([]api.NodeAddress, 0, len(names))}
		for _, n := range names {
			a := api.NodeAddress{Node: n}
			if addr, err := orch.AddressFrom(n, svc.Name); err != nil {
				a.Error = err.Error()
			} else {
				a.Addr, a.Via = addr.String(), string(addr.Via)
			}
			s.From = append(s.From, a)
		}
		out.Services = append(out.Services, s)
	}
	return out, nil
}

// localNode is the controller's host.
func localNode(stack *config.Stack) api.NetworkNode {
	n := api.NetworkNode{Name: network.Local, Network: network.Local, Type: string(config.NetworkLocal), Reachable: true, HostLocal: true}
	for _, nw := range stack.Networks {
		if nw.Type == config.NetworkLocal {
			n.Network = nw.Name
		}
	}
	ifs, err := network.Interfaces()
	if err != nil {
		n.Error = err.Error()
	}
	n.Interfaces = interfaces(ifs)
	return n
}

// remoteNode reads nd through its agent.
func remoteNode(ctx context.Context, r *remote.Remote, nd *config.Node) api.NetworkNode {
	n := api.NetworkNode{Name: nd.Name, Network: nd.Network, Host: nd.Host, Interfaces: []api.Interface{}}
	ifs, err := r.Interfaces(ctx)
	if err != nil {
		n.Error = err.Error()
		return n
	}
	n.Reachable, n.Interfaces = true, interfaces(ifs)
	if a, err := netip.ParseAddr(nd.Host); err == nil {
		n.HostLocal = network.Holds(ifs, a)
	}
	return n
}

func interfaces(ifs []network.Interface) []api.Interface {
	out := make([]api.Interface, 0, len(ifs))
	for _, i := range ifs {
		x := api.Interface{Name: i.Name, Up: i.Up, Loopback: i.Loopback, Addrs: make([]string, len(i.Addrs))}
		for j, a := range i.Addrs {
			x.Addrs[j] = a.String()
		}
		out = append(out, x)
	}
	return out
}

// links tries, from every reachable node, a TCP connection to every other node's SSH address.
func links(ctx context.Context, rs *remote.Remotes, nodes []*config.Node, read []api.NetworkNode) []api.Link {
	out := []api.Link{}
	var pairs [][2]*config.Node
	for i, from := range nodes {
		for j, to := range nodes {
			if i != j && read[i].Reachable {
				out = append(out, api.Link{From: from.Name, To: to.Name})
				pairs = append(pairs, [2]*config.Node{from, to})
			}
		}
	}
	var wg sync.WaitGroup
	for k, pair := range pairs {
		l := &out[k]
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, linkTimeout)
			defer cancel()
			began := time.Now()
			c, err := rs.Node(pair[0]).Dial(ctx, "tcp", net.JoinHostPort(pair[1].Host, strconv.Itoa(pair[1].SSHPort)))
			if err != nil {
				l.Error = err.Error()
				return
			}
			l.Direct, l.RTT = true, api.Duration(time.Since(began))
			c.Close()
		})
	}
	wg.Wait()
	return out
}

// RotateKeys implements httpapi.Backend: a new key for every member of the stack's meshes.
func (d *daemon) RotateKeys(ctx context.Context, req api.NetworkRequest) (api.RotateKeysResponse, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.RotateKeysResponse{}, err
	}
	out := api.RotateKeysResponse{Stack: orch.Stack().Name, Meshes: []api.RotatedMesh{}}
	meshes, err := orch.RotateMeshKeys(ctx)
	for _, m := range meshes {
		rm := api.RotatedMesh{Network: m.Network, Up: m.Up, Members: []api.MemberKey{}}
		for _, node := range m.Members {
			rm.Members = append(rm.Members, api.MemberKey{Node: node, PublicKey: m.Keys[node].String()})
		}
		out.Meshes = append(out.Meshes, rm)
	}
	return out, err
}

// localMesh is the controller's host as a mesh member: its keys in DATA/wireguard, its
// devices run by this executable, their output in DATA/wireguard-NAME.log.
func (d *daemon) localMesh() wireguard.Node {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0] // the device's start says what is wrong with it
	}
	return agent.LocalMesh(exe, d.opts.DataDir)
}

// readMeshes reads, on every node that has the interface of one of the stack's wireguard
// networks, its device, and names each peer by the node whose public key it has. read are
// the nodes as Network read them: local first, then nodes in order.
func readMeshes(ctx context.Context, stack *config.Stack, local wireguard.Node, rs *remote.Remotes, nodes []*config.Node, read []api.NetworkNode) {
	var wg sync.WaitGroup
	for i := range read {
		n := &read[i]
		dev := local
		if i > 0 {
			if dev, _ = rs.Node(nodes[i-1]).Targets()["process"].(wireguard.Node); dev == nil {
				continue
			}
		}
		for _, nw := range stack.Networks {
			j := slices.IndexFunc(n.Interfaces, func(x api.Interface) bool { return x.Name == nw.Interface })
			if nw.Type == config.NetworkWireGuard && j >= 0 {
				n.Mesh = append(n.Mesh, api.MeshInterface{Network: nw.Name, Interface: nw.Interface, Addrs: n.Interfaces[j].Addrs, Peers: []api.MeshPeer{}})
			}
		}
		for j := range n.Mesh {
			mi := &n.Mesh[j] // n.Mesh grows no more
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(ctx, hostCheckTimeout)
				defer cancel()
				st, err := dev.WireguardShow(ctx, mi.Interface)
				if err != nil {
					mi.Error = err.Error()
					return
				}
				mi.PublicKey, mi.ListenPort = st.PublicKey.String(), st.ListenPort
				for _, p := range st.Peers {
					x := api.MeshPeer{PublicKey: p.PublicKey.String(), Endpoint: p.Endpoint, AllowedIPs: []string{}, LastHandshake: p.LastHandshake, RxBytes: p.RxBytes, TxBytes: p.TxBytes}
					for _, a := range p.AllowedIPs {
						x.AllowedIPs = append(x.AllowedIPs, a.String())
					}
					mi.Peers = append(mi.Peers, x)
				}
			})
		}
	}
	wg.Wait()
	owner := map[string]string{} // public key → node
	for _, n := range read {
		for _, m := range n.Mesh {
			if m.PublicKey != "" {
				owner[m.Network+" "+m.PublicKey] = n.Name
			}
		}
	}
	for i := range read {
		for j := range read[i].Mesh {
			m := &read[i].Mesh[j]
			for k := range m.Peers {
				m.Peers[k].Node = owner[m.Network+" "+m.Peers[k].PublicKey]
			}
		}
	}
}
