package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/network/wireguard"
)

// Mesh is a WireGuard mesh a stack needs: a wireguard network and its members, the nodes
// (network.Local for the controller's host) whose services talk across it.
type Mesh struct {
	Network *config.Network
	Members []string // in file order of the nodes, the controller's host last
}

// Meshes are the meshes stack needs: for every pair of services on different hosts that
// one of them reaches (a dependency or a ${svc.*} reference), when either host is a node of
// a wireguard network, both hosts are members of that network's mesh. A wireguard network
// whose services talk only among themselves on one host, or a stack without one, needs none.
func Meshes(st *config.Stack) []Mesh {
	if !slices.ContainsFunc(st.Networks, func(n *config.Network) bool { return n.Type == config.NetworkWireGuard }) {
		return nil // every start and restart asks: most stacks have no mesh to look for
	}
	members := map[string]map[string]bool{} // network → nodes
	add := func(from, to string) {
		if from == to {
			return
		}
		for _, n := range []string{from, to} {
			nd := st.Node(n)
			if nd == nil || st.Network(nd.Network).Type != config.NetworkWireGuard {
				continue
			}
			if members[nd.Network] == nil {
				members[nd.Network] = map[string]bool{}
			}
			members[nd.Network][from], members[nd.Network][to] = true, true
		}
	}
	for _, svc := range st.Services {
		from := st.NodeName(svc)
		for _, d := range svc.Dependencies {
			if callee := st.Service(d.Service); callee != nil {
				add(from, st.NodeName(callee))
			}
		}
		for _, t := range svc.Templates() {
			for _, r := range t.Refs() {
				if callee := st.Service(r.Service); callee != nil {
					add(from, st.NodeName(callee))
				}
			}
		}
	}
	var out []Mesh
	for _, n := range st.Networks {
		m := members[n.Name]
		if len(m) == 0 {
			continue
		}
		mesh := Mesh{Network: n}
		for _, nw := range st.Networks {
			for _, nd := range nw.Nodes {
				if m[nd.Name] {
					mesh.Members = append(mesh.Members, nd.Name)
				}
			}
		}
		if m[network.Local] {
			mesh.Members = append(mesh.Members, network.Local)
		}
		out = append(out, mesh)
	}
	return out
}

// meshPool is the IPAM pool of the mesh of network n: its members' addresses, one per node.
func meshPool(n *config.Network) network.Pool {
	return network.Pool{Name: "mesh:" + n.Name, Subnet: n.Subnet}
}

// meshKeepalive is the persistent keepalive of a member that the others cannot reach: it
// keeps the path through its NAT or firewall open.
const meshKeepalive = 25 * time.Second

// meshMember is a member of a mesh being brought up.
type meshMember struct {
	name     string
	node     wireguard.Node
	addr     netip.Addr
	endpoint netip.AddrPort // zero: the others cannot reach it
	key      wireguard.Key
}

// ensureMeshes brings up every mesh the stack needs: an address for each member (kept in the
// IPAM, stable across runs), each member's public key (the private key is created on its node
// and stays there), then each member's interface with every other member as a peer. The
// members the others can reach are configured first and without keepalive, then those they
// cannot reach, with one: a handshake begun towards a member that does not know the sender
// yet would be lost, and the next one comes only 5 s later. An interface that a failed
// bring-up created is removed again.
func (o *Orchestrator) ensureMeshes(ctx context.Context) error {
	o.meshMu.Lock()
	defer o.meshMu.Unlock()
	for _, m := range Meshes(o.view().stack) {
		if _, err := o.ensureMesh(ctx, m, false); err != nil {
			return fmt.Errorf("mesh %s: %w", m.Network.Name, err)
		}
	}
	return nil
}

// repairMeshes brings up again, before a restart of a service on node, each mesh of node
// whose interface its node lost (a reboot, a deleted interface): the service may need the
// mesh address to listen, and its peers to reach it. A mesh that cannot be repaired is
// logged; the restart goes on.
func (o *Orchestrator) repairMeshes(ctx context.Context, node string) {
	o.meshMu.Lock()
	defer o.meshMu.Unlock()
	for _, m := range Meshes(o.view().stack) {
		if !slices.Contains(m.Members, node) {
			continue
		}
		dev, err := o.meshNode(node)
		if err != nil {
			continue
		}
		if st, err := dev.WireguardShow(ctx, m.Network.Interface); err == nil && st.PublicKey != (wireguard.Key{}) {
			continue
		}
		o.log.Warn("mesh: a member lost its interface; bringing the mesh up again", "network", m.Network.Name, "node", node)
		if _, err := o.ensureMesh(ctx, m, false); err != nil {
			o.log.Warn("mesh: repair failed", "network", m.Network.Name, "node", node, "err", err)
		}
	}
}

// ensureMesh brings m up (see ensureMeshes); with rotate, every member gets a new key first.
// It returns the members' public keys.
func (o *Orchestrator) ensureMesh(ctx context.Context, m Mesh, rotate bool) (map[string]wireguard.Key, error) {
	began := time.Now()
	members, err := o.meshMembers(ctx, m, rotate)
	if err != nil {
		return nil, err
	}
	var created []*meshMember // the members whose device this bring-up started
	var mu sync.Mutex
	up := func(x *meshMember) error {
		ifc := wireguard.Interface{
			Name:       m.Network.Interface,
			ListenPort: m.Network.ListenPort,
			Address:    netip.PrefixFrom(x.addr, m.Network.Subnet.Bits()),
		}
		for _, p := range members {
			if p == x {
				continue
			}
			peer := wireguard.Peer{PublicKey: p.key, Endpoint: p.endpoint, AllowedIPs: []netip.Prefix{netip.PrefixFrom(p.addr, p.addr.BitLen())}}
			if !x.endpoint.IsValid() {
				peer.Keepalive = meshKeepalive
			}
			ifc.Peers = append(ifc.Peers, peer)
		}
		started, err := x.node.WireguardUp(ctx, ifc)
		if started {
			mu.Lock()
			created = append(created, x)
			mu.Unlock()
		}
		return err
	}
	var reachable, unreachable []*meshMember
	for _, x := range members {
		if x.endpoint.IsValid() {
			reachable = append(reachable, x)
		} else {
			unreachable = append(unreachable, x)
		}
	}
	err = eachMember(reachable, up)
	if err == nil {
		err = eachMember(unreachable, up)
	}
	if err != nil {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, x := range created {
			if _, derr := x.node.WireguardDown(cleanup, m.Network.Interface); derr != nil {
				o.log.Warn("mesh: remove an interface of a failed bring-up", "node", x.name, "err", derr)
			}
		}
		return nil, err
	}
	o.log.Info("mesh up", "network", m.Network.Name, "members", m.Members, "took", time.Since(began))
	return publicKeys(members), nil
}

// meshMembers are the members of m with their node, mesh address, endpoint and public key
// (a new one with rotate). The addresses of hosts that are no longer in the stack are
// released first.
func (o *Orchestrator) meshMembers(ctx context.Context, m Mesh, rotate bool) ([]*meshMember, error) {
	pool := meshPool(m.Network)
	held, err := o.ipam.List(pool.Name)
	if err != nil {
		return nil, err
	}
	for owner := range held {
		if owner != network.Local && o.view().stack.Node(owner) == nil {
			if err := o.ipam.Release(pool.Name, owner); err != nil {
				return nil, err
			}
		}
	}
	members := make([]*meshMember, len(m.Members))
	for i, name := range m.Members {
		x := &meshMember{name: name}
		var err error
		if x.node, err = o.meshNode(name); err != nil {
			return nil, err
		}
		if x.addr, err = o.ipam.Allocate(pool, name); err != nil {
			return nil, fmt.Errorf("address of %s: %w", name, err)
		}
		if x.endpoint, err = o.meshEndpoint(ctx, m.Network, name); err != nil {
			return nil, err
		}
		members[i] = x
	}
	err = eachMember(members, func(x *meshMember) (err error) {
		x.key, err = x.node.WireguardKey(ctx, m.Network.Interface, rotate)
		return err
	})
	return members, err
}

func publicKeys(members []*meshMember) map[string]wireguard.Key {
	out := make(map[string]wireguard.Key, len(members))
	for _, x := range members {
		out[x.name] = x.key
	}
	return out
}

// MeshKeys are the public keys of a mesh's members after RotateMeshKeys.
type MeshKeys struct {
	Network string
	Members []string                 // as in Mesh
	Keys    map[string]wireguard.Key // by member
	// Up: the mesh was up, and was reconfigured with the new keys.
	Up bool
}

// RotateMeshKeys gives every member of the stack's meshes a new private key, made on its
// node, and reconfigures each mesh that is up (one of its members has its interface) with
// them: every member's device gets its new key and its peers' new keys, and each pair makes
// one new handshake; nothing is restarted. A mesh that is down only gets its new keys, for
// its next bring-up.
func (o *Orchestrator) RotateMeshKeys(ctx context.Context) ([]MeshKeys, error) {
	o.meshMu.Lock()
	defer o.meshMu.Unlock()
	var out []MeshKeys
	for _, m := range Meshes(o.view().stack) {
		mk := MeshKeys{Network: m.Network.Name, Members: m.Members}
		up, err := o.meshIsUp(ctx, m)
		if err != nil {
			return out, fmt.Errorf("mesh %s: %w", m.Network.Name, err)
		}
		if up {
			mk.Keys, err = o.ensureMesh(ctx, m, true)
			mk.Up = true
		} else {
			var members []*meshMember
			members, err = o.meshMembers(ctx, m, true)
			mk.Keys = publicKeys(members)
		}
		if err != nil {
			return out, fmt.Errorf("mesh %s: %w", m.Network.Name, err)
		}
		out = append(out, mk)
	}
	return out, nil
}

// meshIsUp reports whether a member of m has its interface.
func (o *Orchestrator) meshIsUp(ctx context.Context, m Mesh) (bool, error) {
	for _, name := range m.Members {
		node, err := o.meshNode(name)
		if err != nil {
			return false, err
		}
		if st, err := node.WireguardShow(ctx, m.Network.Interface); err == nil && st.PublicKey != (wireguard.Key{}) {
			return true, nil
		}
	}
	return false, nil
}

// eachMember runs fn for every member at once; the error names the member.
func eachMember(members []*meshMember, fn func(*meshMember) error) error {
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, x := range members {
		wg.Go(func() {
			if err := fn(x); err != nil {
				errs[i] = fmt.Errorf("node %s: %w", x.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ErrNoMesh: a host cannot join a mesh (the controller's, when the orchestrator has no
// Options.Mesh).
var ErrNoMesh = errors.New("cannot join the mesh")

// meshNode is the host name as a mesh member.
func (o *Orchestrator) meshNode(name string) (wireguard.Node, error) {
	if name == network.Local {
		if o.mesh == nil {
			return nil, fmt.Errorf("the controller's host: %w (its services talk to services on a wireguard node)", ErrNoMesh)
		}
		return o.mesh, nil
	}
	nd := o.view().stack.Node(name)
	targets, err := o.nodes.of(nd)
	if err != nil {
		return nil, err
	}
	if n, ok := targets["process"].(wireguard.Node); ok {
		return n, nil
	}
	return nil, fmt.Errorf("node %s: %w: its agent has no WireGuard", name, ErrNoMesh)
}

// meshEndpoint is where the other members reach member name: its node's endpoint, else its
// host and the network's port; zero for the controller's host, which they cannot reach.
func (o *Orchestrator) meshEndpoint(ctx context.Context, n *config.Network, name string) (netip.AddrPort, error) {
	nd := o.view().stack.Node(name)
	if nd == nil {
		return netip.AddrPort{}, nil
	}
	hostport := nd.Endpoint
	if hostport == "" {
		hostport = net.JoinHostPort(nd.Host, strconv.Itoa(n.ListenPort))
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("node %s: endpoint %q: %w", name, hostport, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("node %s: endpoint %q: bad port", name, hostport)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("node %s: endpoint %q: %w", name, hostport, err)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), uint16(p)), nil
}

// meshAddr is node's address on a mesh of the stack; zero when it has none.
func (o *Orchestrator) meshAddr(node string) netip.Addr {
	for _, n := range o.view().stack.Networks {
		if n.Type != config.NetworkWireGuard {
			continue
		}
		if a, ok, _ := o.ipam.Lookup(meshPool(n).Name, node); ok {
			return a
		}
	}
	return netip.Addr{}
}

// downMeshes removes the stack's mesh interfaces from every node of its meshes and from the
// nodes on its wireguard networks. Keys and addresses stay, for the next bring-up.
func (o *Orchestrator) downMeshes(ctx context.Context) error {
	o.meshMu.Lock()
	defer o.meshMu.Unlock()
	st := o.view().stack
	var errs []error
	for _, n := range st.Networks {
		if n.Type != config.NetworkWireGuard {
			continue
		}
		names := map[string]bool{}
		for _, m := range Meshes(st) {
			if m.Network == n {
				for _, x := range m.Members {
					names[x] = true
				}
			}
		}
		held, err := o.ipam.List(meshPool(n).Name)
		if err != nil {
			return err
		}
		for owner := range held {
			names[owner] = true // a member of an earlier bring-up
		}
		var members []*meshMember
		for name := range names {
			if node, err := o.meshNode(name); err == nil {
				members = append(members, &meshMember{name: name, node: node})
			} else if name == network.Local || st.Node(name) != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, eachMember(members, func(x *meshMember) error {
			_, err := x.node.WireguardDown(ctx, n.Interface)
			return err
		}))
	}
	return errors.Join(errs...)
}
