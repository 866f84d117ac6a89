package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/target"
)

// ErrNoAddress: a container service has no address on its stack's bridge yet.
var ErrNoAddress = errors.New("no address on the harness bridge yet")

// BridgeName is the name of a stack's container network.
func BridgeName(stack string) string { return "harness-" + stack }

// bridgeMu serializes the allocation of a stack's container addresses, so that they follow
// the file, not the order the starts happen to take.
type bridgeMu struct{ sync.Mutex }

// bridgePool is the IPAM pool of the stack's containers on its network called name.
func bridgePool(name string) string { return "bridge:" + name }

// containerSpec completes spec for the container service svc: image, build context,
// command, entrypoint, ports, mounts, and its address on the stack's bridge, which it makes
// sure exists. A container inherits nothing of the harness command's environment.
//
// A container on a remote node runs on that node's engine: its image is there, pulled from
// there, or built there from the context on this host (which its target sends); its bind
// mounts are paths of the node, and it joins the stack's network on the node at an address
// the node's engine picks.
func (o *Orchestrator) containerSpec(ctx context.Context, tgt target.Target, svc *config.Service, spec *target.Spec) error {
	v := o.view()
	remote := svc.Type == config.TypeRemote
	resolve := o.resolver(svc)
	c := &target.Container{Image: svc.Image}
	var err error
	spec.Argv, err = renderAll(svc.Command, resolve)
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	if c.Entrypoint, err = renderAll(svc.Entrypoint, resolve); err != nil {
		return fmt.Errorf("entrypoint: %w", err)
	}
	if b := svc.Build; b != nil {
		// A context of this host: a remote node's target sends it there.
		c.Build = &target.Build{Context: v.stack.LocalPath(b.Context), Dockerfile: b.Dockerfile, Args: b.Args}
	}
	for _, p := range svc.Ports {
		c.Ports = append(c.Ports, target.Port{Target: p.Target, Published: p.Published, HostIP: p.HostIP, Protocol: p.Protocol})
	}
	for _, vol := range svc.Volumes {
		m := target.Mount{Source: vol.Source, Target: vol.Target, ReadOnly: vol.ReadOnly, Volume: !vol.Bind}
		switch {
		case vol.Bind && remote && !filepath.IsAbs(vol.Source):
			return fmt.Errorf("volume %s: a bind mount on remote node %s needs an absolute path there: %w", vol.Source, svc.Host, target.ErrInvalidSpec)
		case vol.Bind && !remote:
			m.Source = v.stack.LocalPath(vol.Source)
		}
		c.Mounts = append(c.Mounts, m)
	}
	spec.Dir = svc.WorkingDir // inside the container; empty keeps the image's
	nw, ok := tgt.(target.Networker)
	if !ok {
		return fmt.Errorf("%w: the container target has no networks", ErrNoTarget)
	}
	n := target.Network{Name: BridgeName(v.stack.Name), Stack: v.stack.Name}
	if !remote {
		n.Subnet = o.containerSubnet(svc)
	}
	net, err := nw.EnsureNetwork(ctx, n)
	if err != nil {
		return err
	}
	c.Network, spec.Container = net.Name, c
	if remote {
		return nil // the node's engine picks the address
	}
	ip, err := o.allocate(svc.Name, net)
	if err != nil {
		return err
	}
	c.IP = ip.String()
	return nil
}

// containerSubnet is the container_subnet of svc's network, if any.
func (o *Orchestrator) containerSubnet(svc *config.Service) netip.Prefix {
	if n := o.view().stack.Network(svc.Network); n != nil {
		return n.ContainerSubnet
	}
	return netip.Prefix{}
}

// allocate returns the address of service on net, from the stack's pool in the registry's
// IPAM (network.IPAM): the one it has while it is still usable (across restarts, recreations
// and daemon restarts), else the lowest free one. The first allocation gives every local
// container of the stack its address, in file order; a container that runs with an address
// the IPAM does not know yet (started before it kept them) keeps that one when it can.
func (o *Orchestrator) allocate(service string, net target.Network) (netip.Addr, error) {
	o.bridge.Lock()
	defer o.bridge.Unlock()
	v := o.view()
	pool := network.Pool{Name: bridgePool(net.Name), Subnet: net.Subnet.Masked()}
	if net.Gateway.IsValid() {
		pool.Reserved = []netip.Addr{net.Gateway}
	}
	have, err := o.ipam.List(pool.Name)
	if err != nil {
		return netip.Addr{}, err
	}
	if _, ok := have[service]; ok {
		return o.ipam.Allocate(pool, service) // its own while it is still usable
	}
	var containers []*config.Service
	for _, svc := range v.stack.Services {
		if svc.IsContainer() && v.stack.NodeName(svc) == network.Local {
			containers = append(containers, svc)
		}
	}
	// Addresses that containers run with first, then the others, lowest free first.
	for _, svc := range containers {
		if a, ok := bridgeAddr(v.insts[svc.Name].record(), net.Name); ok && !have[svc.Name].IsValid() {
			_ = o.ipam.Request(pool, svc.Name, a) // taken or unusable now: allocated below
		}
	}
	for _, svc := range containers {
		if _, err := o.ipam.Allocate(pool, svc.Name); err != nil {
			return netip.Addr{}, fmt.Errorf("address of %s on %s: %w", svc.Name, net.Name, err)
		}
	}
	a, ok, err := o.ipam.Lookup(pool.Name, service)
	switch {
	case err != nil:
		return netip.Addr{}, err
	case !ok:
		return netip.Addr{}, fmt.Errorf("%s: %w", service, ErrNoAddress)
	}
	return a, nil
}

// bridgeAddr is the address a record holds on the network called name.
func bridgeAddr(rec registry.Record, name string) (netip.Addr, bool) {
	for _, e := range rec.Endpoints {
		if e.Network == name {
			a, err := netip.ParseAddr(e.IP)
			return a, err == nil
		}
	}
	return netip.Addr{}, false
}

// containerAddr is the address of the container service on its stack's bridge.
func (o *Orchestrator) containerAddr(service string) (string, error) {
	name := BridgeName(o.view().stack.Name)
	a, ok, err := o.ipam.Lookup(bridgePool(name), service)
	if err == nil && !ok {
		if inst := o.view().insts[service]; inst != nil {
			a, ok = bridgeAddr(inst.record(), name)
		}
	}
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", fmt.Errorf("%s: %w", service, ErrNoAddress)
	}
	return a.String(), nil
}

// containerEndpoints are the addresses a container is reached at: its bridge address with
// each container port, and each published port on the host.
func containerEndpoints(svc *config.Service, bridgeName, ip string) []registry.Endpoint {
	var out []registry.Endpoint
	if ip != "" {
		out = append(out, registry.Endpoint{Network: bridgeName, IP: ip})
		for i, p := range svc.Ports {
			if i == 0 {
				out[0].Port = p.Target
				continue
			}
			out = append(out, registry.Endpoint{Network: bridgeName, IP: ip, Port: p.Target})
		}
	}
	for _, p := range svc.Ports {
		if p.Published != 0 {
			host := p.HostIP
			if host == "" || host == "0.0.0.0" {
				host = "127.0.0.1"
			}
			out = append(out, registry.Endpoint{Network: "host", IP: host, Port: p.Published})
		}
	}
	return out
}

// renderAll renders templates; nil stays nil (the image's default).
func renderAll(ts []config.Template, resolve config.Resolver) ([]string, error) {
	if ts == nil {
		return nil, nil
	}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		s, err := t.Render(resolve)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// removeStack removes the stack's networks, and with volumes its named volumes, from every
// target of the stack's services that keeps them, and forgets the containers' addresses.
func (o *Orchestrator) removeStack(ctx context.Context, volumes bool) error {
	var errs []error
	done := map[target.Target]bool{}
	v := o.view()
	// Only the targets the stack's services use: a stack of processes needs no Docker engine
	// to go down.
	for _, svc := range v.stack.Services {
		tgt, err := o.target(svc)
		if err != nil || done[tgt] {
			continue
		}
		done[tgt] = true
		if nw, ok := tgt.(target.Networker); ok {
			// A remote node's process target speaks the Networker API and has no networks.
			if err := nw.RemoveStack(ctx, v.stack.Name, volumes); !errors.Is(err, target.ErrUnsupported) {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, o.releaseAddrs())
	return errors.Join(errs...)
}

// releaseAddrs gives back the addresses of the stack's containers on its bridge.
func (o *Orchestrator) releaseAddrs() error {
	o.bridge.Lock()
	defer o.bridge.Unlock()
	pool := bridgePool(BridgeName(o.view().stack.Name))
	have, err := o.ipam.List(pool)
	if err != nil {
		return err
	}
	var errs []error
	for owner := range have {
		errs = append(errs, o.ipam.Release(pool, owner))
	}
	return errors.Join(errs...)
}

// releaseBridge removes the stack's network after a start that failed, when no container
// of the stack is left: a failed start leaves nothing behind.
func (o *Orchestrator) releaseBridge(ctx context.Context) {
	v := o.view()
	containers := false
	for _, svc := range v.stack.Services {
		if svc.IsContainer() && !v.insts[svc.Name].record().Handle.IsZero() {
			return
		}
		containers = containers || svc.IsContainer()
	}
	if !containers {
		return
	}
	if err := o.removeStack(ctx, false); err != nil {
		o.log.Warn("remove the network of a failed start", "stack", v.stack.Name, "err", err)
	}
}
