package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Local is the node name of the controller's host.
const Local = "local"

// Place is where a service instance runs.
type Place struct {
	// Node is "local" (the controller's host) or the name of a remote node.
	Node string
	// Container: in a container on its node's harness bridge; else a process of the node.
	Container bool
	// Mesh: its node is on a wireguard network, so other nodes reach it over the mesh.
	Mesh bool
	// MeshAddr is its node's address on the mesh; zero when the node is no member of one.
	MeshAddr netip.Addr
}

// Callee is a service instance to be reached, with what each path to it needs.
type Callee struct {
	Place
	// Name names it in errors.
	Name string
	// Port is where its node's own processes reach it on loopback: a process's first port, a
	// container's first published port. 0: none (a container that publishes nothing).
	Port int
	// BridgeIP and BridgePort are a container's address and first port on its node's bridge;
	// BridgeIP is zero when unknown (not allocated yet, or a remote engine's).
	BridgeIP   netip.Addr
	BridgePort int
	// NodeAddr is the address its node is reached at directly (a LAN node's host); empty
	// for the controller's host, which nodes reach at no known address.
	NodeAddr string
}

// Via names the path an Address takes.
type Via string

// The paths.
const (
	ViaLoopback Via = "loopback" // the same host
	ViaBridge   Via = "bridge"   // the same host's harness bridge
	ViaLAN      Via = "lan"      // the callee node's address, directly
	ViaMesh     Via = "mesh"     // the callee node's mesh address, over WireGuard
)

// Address is where a caller reaches a callee.
type Address struct {
	Host string
	Port int
	Via  Via
}

// String is HOST:PORT (an IPv6 host in brackets), HOST alone when it has no port.
func (a Address) String() string {
	if a.Port == 0 {
		return a.Host
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// ErrNoAddress is a callee that the caller has no address for (yet).
var ErrNoAddress = errors.New("no address")

// Resolve is the address at which a caller at from reaches callee, the one rule behind
// ${svc.host|port|addr} and the D_HOST/D_PORT/D_ADDR variables:
//
//   - the same host: a process on loopback at its port; a container at its bridge address
//     and container port (when known), else on loopback at its published port; from a
//     container, another container of the same remote node at the node's address and
//     published port (the bridge address of a remote engine is not known ahead);
//   - another host, when either side is on a wireguard network: the callee node's mesh
//     address, when both nodes are members of the mesh;
//   - another host on a LAN: the callee node's address and port (a container's published
//     one);
//   - the controller's host, from a node: no address yet (ErrNoAddress), unless on the mesh.
func Resolve(from Place, to Callee) (Address, error) {
	if from.Node == to.Node {
		return resolveSameHost(from, to)
	}
	port := to.Port
	if to.Container && port == 0 {
		return Address{}, fmt.Errorf("%s, a container on node %s, publishes no port there: give it ports as HOST:CONTAINER: %w", to.Name, to.Node, ErrNoAddress)
	}
	if from.Mesh || to.Mesh {
		if !to.MeshAddr.IsValid() {
			return Address{}, fmt.Errorf("%s runs on node %s, which is no member of the mesh (yet): %w", to.Name, to.Node, ErrNoAddress)
		}
		if !from.MeshAddr.IsValid() {
			return Address{}, fmt.Errorf("%s is on the mesh, of which node %s is no member (none of its services reaches a service across it): %w", to.Name, from.Node, ErrNoAddress)
		}
		return Address{Host: to.MeshAddr.String(), Port: port, Via: ViaMesh}, nil
	}
	if to.NodeAddr == "" {
		return Address{}, fmt.Errorf("%s runs on the controller's host, which node %s reaches at no known address yet: %w", to.Name, from.Node, ErrNoAddress)
	}
	return Address{Host: to.NodeAddr, Port: port, Via: ViaLAN}, nil
}

func resolveSameHost(from Place, to Callee) (Address, error) {
	switch {
	case !to.Container:
		return Address{Host: "127.0.0.1", Port: to.Port, Via: ViaLoopback}, nil
	case to.BridgeIP.IsValid():
		return Address{Host: to.BridgeIP.String(), Port: to.BridgePort, Via: ViaBridge}, nil
	case to.Port == 0:
		return Address{}, fmt.Errorf("%s, a container on node %s, publishes no port there: give it ports as HOST:CONTAINER: %w", to.Name, to.Node, ErrNoAddress)
	case from.Container && to.NodeAddr != "":
		return Address{Host: to.NodeAddr, Port: to.Port, Via: ViaLAN}, nil
	}
	return Address{Host: "127.0.0.1", Port: to.Port, Via: ViaLoopback}, nil
}
