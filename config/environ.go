package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Environ returns the variables harness sets for svc on top of the environment it inherits,
// as NAME=value in order: its env (env_file, then env), then HARNESS_STACK, HARNESS_SERVICE
// and, for each dependency D (upper-cased, "-" → "_"), D_HOST, D_PORT and D_ADDR, each unless
// env already sets it. resolve renders references as seen from svc.
func (s *Stack) Environ(svc *Service, resolve Resolver) ([]string, error) {
	env := svc.Env
	set := func(name string, value Template) {
		if _, ok := svc.Env.Lookup(name); !ok {
			env = env.With(name, value)
		}
	}
	set("HARNESS_STACK", Literal(s.Name))
	set("HARNESS_SERVICE", Literal(svc.Name))
	for _, dep := range svc.Dependencies {
		prefix := EnvPrefix(dep.Service)
		for _, prop := range []string{PropHost, PropPort, PropAddr} {
			set(prefix+"_"+strings.ToUpper(prop), Template{parts: []part{{ref: Ref{dep.Service, prop}}}})
		}
	}
	out := make([]string, 0, len(env))
	for _, v := range env {
		value, err := v.Value.Render(resolve)
		if err != nil {
			return nil, fmt.Errorf("service %q: env %s: %w", svc.Name, v.Name, err)
		}
		out = append(out, v.Name+"="+value)
	}
	return out, nil
}

// EnvPrefix is the prefix of the variables that name a dependency: upper case, "-" → "_".
func EnvPrefix(service string) string {
	return strings.ToUpper(strings.ReplaceAll(service, "-", "_"))
}

// StaticResolver resolves references from what the file alone says, before anything runs,
// as seen from the service from: a service on the same node is on loopback (a container seen
// from a container on the harness bridge by its name and container port), a service on
// another node at that node's host and published port. The running system resolves with the
// addresses it allocated; this is the preview that `config env` shows.
func (s *Stack) StaticResolver(from *Service) Resolver {
	return func(r Ref) (string, error) {
		to := s.Service(r.Service)
		if to == nil {
			return "", fmt.Errorf("unknown service %q", r.Service)
		}
		sameNode := s.NodeName(from) == s.NodeName(to)
		host, port := "127.0.0.1", 0
		if len(to.Ports) > 0 {
			port = to.Ports[0].HostPort()
		}
		switch {
		case sameNode && from.IsContainer() && to.IsContainer():
			host = to.Name
			if len(to.Ports) > 0 {
				port = to.Ports[0].Target
			}
		case !sameNode && s.NodeName(to) != "local":
			host = s.Node(to.Host).Host
		case !sameNode:
			return "", fmt.Errorf("the address of %q as seen from node %q is known only when the stack runs", to.Name, s.NodeName(from))
		}
		return PropertyValue(r.Property, host, port)
	}
}

// PropertyValue renders a reference's property for a service reached at host and port
// (0: the service has no port; port renders empty and addr as host alone).
func PropertyValue(property, host string, port int) (string, error) {
	switch property {
	case PropIP, PropHost:
		return host, nil
	case PropPort:
		if port == 0 {
			return "", nil
		}
		return strconv.Itoa(port), nil
	case PropAddr:
		if port == 0 {
			return host, nil
		}
		return net.JoinHostPort(host, strconv.Itoa(port)), nil
	}
	return "", fmt.Errorf("unknown property %q", property)
}
