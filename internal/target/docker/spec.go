package docker

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"path"
	"strconv"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/target"
)

// The labels that harness puts on what it creates.
const (
	// LabelStack and LabelService name the service of a container; LabelStack also marks
	// the networks and volumes of a stack.
	LabelStack   = "harness.stack"
	LabelService = "harness.service"
	// LabelConfigHash is the Spec.ConfigHash a container was created from.
	LabelConfigHash = "harness.config-hash"
	// LabelLogPath is the Spec.LogPath of a container, so that a Target that did not start
	// it finds its log.
	LabelLogPath = "harness.log-path"
	// LabelStopSignal is the signal Stop sends first.
	LabelStopSignal = "harness.stop-signal"
)

// ContainerName is the name of the container of a stack's service: one container per
// service, so that a leftover is found and replaced rather than duplicated.
func ContainerName(stack, service string) string { return "harness-" + stack + "-" + service }

// labelsOf returns the labels of the container of spec: spec.Labels, and harness's own,
// which win over a spec label of the same name.
func labelsOf(spec target.Spec, stopSignal string) map[string]string {
	labels := make(map[string]string, len(spec.Labels)+5)
	maps.Copy(labels, spec.Labels)
	labels[LabelStack] = spec.Stack
	labels[LabelService] = spec.Service
	labels[LabelConfigHash] = spec.ConfigHash
	labels[LabelLogPath] = spec.LogPath
	labels[LabelStopSignal] = stopSignal
	return labels
}

// createOptions translates spec into the engine's container configuration, with image as
// the image to run and stopSignal as parsed from spec. Errors are problems of the spec.
func createOptions(spec target.Spec, image, stopSignal string) (client.ContainerCreateOptions, error) {
	c := spec.Container
	exposed, bindings, err := portsOf(c.Ports)
	if err != nil {
		return client.ContainerCreateOptions{}, err
	}
	mounts, err := mountsOf(c.Mounts)
	if err != nil {
		return client.ContainerCreateOptions{}, err
	}
	init := true // docker-init reaps orphans and forwards signals to the service
	opts := client.ContainerCreateOptions{
		Name: ContainerName(spec.Stack, spec.Service),
		Config: &container.Config{
			Image:        image,
			Cmd:          spec.Argv, // nil keeps the image's CMD
			Entrypoint:   c.Entrypoint,
			Env:          spec.Env,
			User:         spec.User,
			WorkingDir:   spec.Dir, // empty keeps the image's
			Labels:       labelsOf(spec, stopSignal),
			StopSignal:   engineSignal(stopSignal),
			ExposedPorts: exposed,
		},
		HostConfig: &container.HostConfig{
			Init:          &init,
			PortBindings:  bindings,
			Mounts:        mounts,
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled}, // harness supervises
		},
	}
	if c.Network == "" {
		if c.IP != "" {
			return client.ContainerCreateOptions{}, fmt.Errorf("address %s without a network", c.IP)
		}
		return opts, nil
	}
	endpoint := &network.EndpointSettings{}
	if c.IP != "" {
		ip, err := netip.ParseAddr(c.IP)
		if err != nil || !ip.Is4() {
			return client.ContainerCreateOptions{}, fmt.Errorf("address %q on %s: not an IPv4 address", c.IP, c.Network)
		}
		endpoint.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ip}
	}
	opts.HostConfig.NetworkMode = container.NetworkMode(c.Network)
	opts.NetworkingConfig = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{c.Network: endpoint}}
	return opts, nil
}

// portsOf returns the container ports to expose, and the bindings of those published on the
// host. A port with Published 0 is exposed only.
func portsOf(ports []target.Port) (network.PortSet, network.PortMap, error) {
	if len(ports) == 0 {
		return nil, nil, nil
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	var errs []error
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			errs = append(errs, fmt.Errorf("port %d: protocol %q is neither tcp nor udp", p.Target, p.Protocol))
			continue
		}
		if p.Target < 1 || p.Target > 65535 || p.Published < 0 || p.Published > 65535 {
			errs = append(errs, fmt.Errorf("port %d:%d: out of range", p.Published, p.Target))
			continue
		}
		port, _ := network.PortFrom(uint16(p.Target), network.IPProtocol(proto))
		exposed[port] = struct{}{}
		if p.Published == 0 {
			continue
		}
		b := network.PortBinding{HostPort: strconv.Itoa(p.Published)}
		if p.HostIP != "" {
			ip, err := netip.ParseAddr(p.HostIP)
			if err != nil {
				errs = append(errs, fmt.Errorf("port %d: host address %q: %w", p.Target, p.HostIP, err))
				continue
			}
			b.HostIP = ip
		}
		bindings[port] = append(bindings[port], b)
	}
	if len(bindings) == 0 {
		bindings = nil
	}
	return exposed, bindings, errors.Join(errs...)
}

// mountsOf translates mounts: a bind mount of an absolute host path, or a named volume.
func mountsOf(mounts []target.Mount) ([]mount.Mount, error) {
	var out []mount.Mount
	var errs []error
	for _, m := range mounts {
		switch {
		case !path.IsAbs(m.Target):
			errs = append(errs, fmt.Errorf("mount %s: target %q is not an absolute path", m.Source, m.Target))
			continue
		case m.Source == "":
			errs = append(errs, fmt.Errorf("mount on %s: no source", m.Target))
			continue
		case !m.Volume && !path.IsAbs(m.Source):
			errs = append(errs, fmt.Errorf("bind mount on %s: source %q is not an absolute path", m.Target, m.Source))
			continue
		}
		typ := mount.TypeBind
		if m.Volume {
			typ = mount.TypeVolume
		}
		out = append(out, mount.Mount{Type: typ, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return out, errors.Join(errs...)
}

// volumesOf returns the names of the named volumes spec mounts.
func volumesOf(c *target.Container) []string {
	var names []string
	for _, m := range c.Mounts {
		if m.Volume {
			names = append(names, m.Source)
		}
	}
	return names
}
