package config

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Defaults that services-yaml.md promises.
const (
	DefaultHealthCheckInterval = 30 * time.Second
	DefaultStartupTimeout      = 300 * time.Second
	DefaultShutdownTimeout     = 30 * time.Second
	DefaultParallelism         = 16
	DefaultCheckTimeout        = 10 * time.Second
	DefaultStartInterval       = time.Second
	DefaultRetries             = 3
	DefaultKeepReleases        = 5
	DefaultListenPort          = 51820
	DefaultInterface           = "wg-harness"
	DefaultSSHPort             = 22
)

// localSubnet is the default subnet of the local network.
var localSubnet = netip.MustParsePrefix("127.0.0.0/8")

// normalize fills every default, so the rest of harness reads one explicit form, and adds the
// dependencies that service references imply. It runs before validation and never fails.
func (s *Stack) normalize() {
	if s.Name == "" {
		s.Name = defaultName(s.Dir)
	}
	st := &s.Settings
	st.LogLevel = or(st.LogLevel, "info")
	st.HealthCheckInterval = or(st.HealthCheckInterval, Duration(DefaultHealthCheckInterval))
	st.StartupTimeout = or(st.StartupTimeout, Duration(DefaultStartupTimeout))
	st.ShutdownTimeout = or(st.ShutdownTimeout, Duration(DefaultShutdownTimeout))
	if !st.pos.has("parallelism") {
		st.Parallelism = DefaultParallelism
	}
	st.KnownHosts = or(st.KnownHosts, "~/.ssh/known_hosts")

	if !slices.ContainsFunc(s.Networks, func(n *Network) bool { return n.Type == NetworkLocal }) && s.Network("local") == nil {
		s.Networks = slices.Insert(s.Networks, 0, &Network{Name: "local", Type: NetworkLocal, Implicit: true})
	}
	for _, n := range s.Networks {
		switch n.Type {
		case NetworkLocal:
			if !n.Subnet.IsValid() {
				n.Subnet = localSubnet
			}
		case NetworkWireGuard:
			n.ListenPort = or(n.ListenPort, DefaultListenPort)
			n.Interface = or(n.Interface, DefaultInterface)
		}
		for _, nd := range n.Nodes {
			nd.Name = or(nd.Name, nd.Host)
			nd.SSHPort = or(nd.SSHPort, DefaultSSHPort)
		}
	}
	s.byName = make(map[string]*Service, len(s.Services))
	for _, svc := range s.Services {
		if s.byName[svc.Name] == nil {
			s.byName[svc.Name] = svc
		}
	}
	for _, svc := range s.Services {
		s.normalizeService(svc)
	}
}

func (s *Stack) normalizeService(svc *Service) {
	if svc.Network == "" {
		switch svc.Type {
		case TypeRemote, TypePackage:
			if nd := s.Node(svc.Host); nd != nil {
				svc.Network = nd.Network
			}
		default:
			if i := slices.IndexFunc(s.Networks, func(n *Network) bool { return n.Type == NetworkLocal }); i >= 0 {
				svc.Network = s.Networks[i].Name
			}
		}
	}
	svc.StartupTimeout = or(svc.StartupTimeout, s.Settings.StartupTimeout)
	svc.ShutdownTimeout = or(svc.ShutdownTimeout, s.Settings.ShutdownTimeout)
	svc.StopSignal = signalName(or(svc.StopSignal, "SIGTERM"))
	if svc.Build != nil {
		svc.Build.Dockerfile = or(svc.Build.Dockerfile, "Dockerfile")
	}
	if svc.Type == TypePackage {
		svc.KeepReleases = or(svc.KeepReleases, DefaultKeepReleases)
		svc.InstallPath = or(svc.InstallPath, "/opt/harness/"+svc.Name)
	}
	for i := range svc.Ports {
		p := &svc.Ports[i]
		p.Protocol = or(strings.ToLower(p.Protocol), "tcp")
		if !svc.IsContainer() {
			p.Published = or(p.Published, p.Target)
		}
	}

	r := &svc.Restart
	r.Policy = or(r.Policy, RestartNo)
	r.Backoff.Initial = or(r.Backoff.Initial, Duration(time.Second))
	r.Backoff.Max = or(r.Backoff.Max, Duration(time.Minute))
	// An explicit multiplier or jitter is kept even when 0: jitter 0 means none, and
	// multiplier 0 is reported by validation rather than silently replaced.
	if !svc.restartPos.has("backoff.multiplier") {
		r.Backoff.Multiplier = 2
	}
	if !svc.restartPos.has("backoff.jitter") {
		r.Backoff.Jitter = 0.2
	}
	r.ResetAfter = or(r.ResetAfter, Duration(5*time.Minute))

	if svc.HealthCheck != nil {
		s.CompleteHealthCheck(svc.HealthCheck)
	}

	for i := range svc.Dependencies {
		dep := &svc.Dependencies[i]
		if dep.Condition == "" {
			dep.Condition = ConditionStarted
			if target := s.Service(dep.Service); target != nil && target.HealthCheck != nil {
				dep.Condition = ConditionHealthy
			}
		}
	}
	for _, t := range svc.Templates() {
		for _, p := range t.parts {
			name := p.ref.Service
			if name == "" || name == svc.Name || s.Service(name) == nil || slices.ContainsFunc(svc.Dependencies, func(d Dependency) bool { return d.Service == name }) {
				continue
			}
			svc.Dependencies = append(svc.Dependencies, Dependency{Service: name, Condition: ConditionStarted, Implicit: true, pos: p.pos})
		}
	}
}

// signalName writes a signal the canonical way: "term", "TERM" and "SIGTERM" are SIGTERM.
func signalName(s string) string {
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	return s
}

// or returns v, or def when v is the zero value.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// CompleteHealthCheck gives the timing keys that h leaves out the stack's defaults, as
// loading does for the checks of the file; Load calls it, and so does whoever adds a check
// from elsewhere (a package's manifest).
func (s *Stack) CompleteHealthCheck(h *HealthCheck) {
	h.Interval = or(h.Interval, s.Settings.HealthCheckInterval)
	h.Timeout = or(h.Timeout, min(Duration(DefaultCheckTimeout), h.Interval))
	h.StartInterval = or(h.StartInterval, min(Duration(DefaultStartInterval), h.Interval))
	if !h.pos.has("retries") && h.Retries == 0 {
		h.Retries = DefaultRetries
	}
	if !h.pos.has("success_threshold") && h.SuccessThreshold == 0 {
		h.SuccessThreshold = 1
	}
	if h.HTTP != nil {
		h.HTTP.Method = or(h.HTTP.Method, "GET")
		h.HTTP.ExpectedStatus = or(h.HTTP.ExpectedStatus, "2xx")
	}
}
