package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/graph-network-harness/harness/internal/dag"
)

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// validName reports whether s can name a stack, a service or a network.
func validName(s string) bool { return namePattern.MatchString(s) }

// Service returns the service called name, or nil.
func (s *Stack) Service(name string) *Service {
	if svc := s.byName[name]; svc != nil && svc.Name == name {
		return svc
	}
	// Not indexed: a stack built or changed in Go, or no such service.
	for _, svc := range s.Services {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

// Network returns the network called name, or nil.
func (s *Stack) Network(name string) *Network {
	for _, n := range s.Networks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// LocalPath makes p, a path of this host written in the services file, absolute: relative to
// the file's directory, with ~ the home directory.
func (s *Stack) LocalPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "~"); ok && (rest == "" || rest[0] == '/') {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(s.Dir, p)
}

// Node returns the node whose name or host is name, or nil.
func (s *Stack) Node(name string) *Node {
	for _, n := range s.Networks {
		for _, nd := range n.Nodes {
			if nd.Name == name || nd.Host == name {
				return nd
			}
		}
	}
	return nil
}

// Graph returns the dependency graph of the services: an edge from a service to each
// service it depends on, services in file order.
func (s *Stack) Graph() *dag.Graph {
	g := dag.New()
	for _, svc := range s.Services {
		g.Add(svc.Name)
	}
	for _, svc := range s.Services {
		for _, dep := range svc.Dependencies {
			if s.Service(dep.Service) != nil {
				g.AddEdge(svc.Name, dep.Service)
			}
		}
	}
	return g
}

// NodeName is where the service runs: "local" for processes and containers of this host,
// else the name of its node.
func (s *Stack) NodeName(svc *Service) string {
	if svc.Type == TypeRemote || svc.Type == TypePackage {
		if nd := s.Node(svc.Host); nd != nil {
			return nd.Name
		}
		return svc.Host
	}
	return "local"
}

// IsContainer reports whether the service runs as a container.
func (svc *Service) IsContainer() bool {
	return svc.Type == TypeDocker || svc.Type == TypeRemote && svc.Binary == ""
}

// Templates returns every value of the service that may hold service references, in the
// order of the file's keys: args, command, entrypoint, env, health check.
func (svc *Service) Templates() []Template {
	out := append([]Template(nil), svc.Args...)
	out = append(out, svc.Command...)
	out = append(out, svc.Entrypoint...)
	for _, e := range svc.Env {
		out = append(out, e.Value)
	}
	if h := svc.HealthCheck; h != nil {
		out = append(out, h.Command)
		out = append(out, h.Args...)
		if h.HTTP != nil {
			out = append(out, h.HTTP.URL)
			for _, v := range h.HTTP.Headers {
				out = append(out, v)
			}
		}
	}
	return out
}

// defaultName derives a stack name from a directory name, as compose does.
func defaultName(dir string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(filepath.Base(dir)) {
		switch {
		case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '_':
			if b.Len() > 0 {
				b.WriteRune(r)
			}
		}
	}
	if b.Len() == 0 {
		return "default"
	}
	return b.String()
}
