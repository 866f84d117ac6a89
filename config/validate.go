package config

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Validate checks a stack and returns every problem, errors first. Load and Parse validate
// already; Validate is for stacks built in Go.
func Validate(s *Stack) Diagnostics {
	c := &collector{}
	s.validate(c)
	c.diags.sort()
	return c.diags
}

var (
	logLevels     = []string{"debug", "info", "warn", "error"}
	networkTypes  = []string{string(NetworkLocal), string(NetworkLAN), string(NetworkWireGuard)}
	serviceTypes  = []string{string(TypeProcess), string(TypeDocker), string(TypeRemote), string(TypePackage)}
	policies      = []string{string(RestartNo), string(RestartOnFailure), string(RestartAlways), string(RestartUnlessStopped)}
	conditions    = []string{string(ConditionStarted), string(ConditionHealthy), string(ConditionCompletedSuccessfully)}
	checkKinds    = []string{string(CheckExec), string(CheckHTTP), string(CheckTCP), string(CheckGRPC), string(CheckLogLine)}
	signals       = []string{"SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM", "SIGWINCH", "SIGSTOP", "SIGCONT"}
	statusPattern = regexp.MustCompile(`^[1-5]([0-9][0-9]|xx)$`)
	nodeName      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// applies lists the service keys that only some types take.
var applies = map[string][]ServiceType{
	"host":          {TypeRemote, TypePackage},
	"binary":        {TypeProcess, TypeRemote},
	"args":          {TypeProcess, TypeRemote},
	"working_dir":   {TypeProcess, TypeDocker, TypeRemote},
	"user":          {TypeProcess, TypeDocker, TypeRemote},
	"image":         {TypeDocker, TypeRemote},
	"build":         {TypeDocker, TypeRemote},
	"command":       {TypeDocker, TypeRemote},
	"entrypoint":    {TypeDocker, TypeRemote},
	"volumes":       {TypeDocker, TypeRemote},
	"package":       {TypePackage},
	"version":       {TypePackage},
	"install_path":  {TypePackage},
	"keep_releases": {TypePackage},
}

// appliesKeys are the keys of applies in order, sorted once rather than per service.
var appliesKeys = slices.Sorted(maps.Keys(applies))

func (s *Stack) validate(c *collector) {
	top := s.pos
	if top.has("version") && !slices.Contains(SupportedVersions, s.Version) {
		c.errorf(top.at("version", top.self()), "unsupported version %q; this harness reads version %q", s.Version, strings.Join(SupportedVersions, `", "`))
	}
	if !validName(s.Name) {
		c.errorf(top.at("name", top.self()), "invalid stack name %q: want lowercase letters, digits, '-' and '_', starting with a letter or digit", s.Name)
	}
	st := s.Settings
	if !slices.Contains(logLevels, st.LogLevel) {
		c.errorf(st.pos.at("log_level", top.self()), "settings: log_level %q is not one of %s", st.LogLevel, strings.Join(logLevels, ", "))
	}
	if st.Parallelism < 1 {
		c.errorf(st.pos.at("parallelism", top.self()), "settings: parallelism must be at least 1, got %d", st.Parallelism)
	}
	s.validateNetworks(c)
	for _, svc := range s.Services {
		s.validateService(c, svc)
	}
	s.validatePorts(c)
	s.validateGraph(c)
}

func (s *Stack) validateNetworks(c *collector) {
	type subnet struct {
		what string
		p    netip.Prefix
		pos  Pos
	}
	var subnets []subnet
	nodes := map[string]*Node{}
	locals := 0
	var meshes []*Network // wireguard networks seen, for their interface and port
	for _, n := range s.Networks {
		at := n.pos.self()
		what := fmt.Sprintf("network %q", n.Name)
		if !validName(n.Name) {
			c.errorf(at, "invalid network name %q: want lowercase letters, digits, '-' and '_'", n.Name)
		}
		switch n.Type {
		case "":
			c.errorf(at, "%s: type is missing; want one of %s", what, strings.Join(networkTypes, ", "))
		case NetworkLocal, NetworkLAN, NetworkWireGuard:
		default:
			c.errorf(n.pos.at("type", at), "%s: unknown type %q; want one of %s%s", what, n.Type, strings.Join(networkTypes, ", "), Hint(string(n.Type), networkTypes))
		}
		for key, types := range map[string][]NetworkType{
			"container_subnet": {NetworkLocal},
			"nodes":            {NetworkLAN, NetworkWireGuard},
			"listen_port":      {NetworkWireGuard},
			"interface":        {NetworkWireGuard},
		} {
			if n.pos.has(key) && n.Type != "" && !slices.Contains(types, n.Type) {
				c.errorf(n.pos.at(key, at), "%s: %s does not apply to a %s network", what, key, n.Type)
			}
		}
		if n.Type == NetworkLocal {
			if locals++; locals == 2 {
				c.errorf(at, "%s: a stack has one local network", what)
			}
		}
		if (n.Type == NetworkLAN || n.Type == NetworkWireGuard) && !n.pos.has("subnet") {
			c.errorf(at, "%s: subnet is required for a %s network", what, n.Type)
		}
		if n.Type == NetworkWireGuard {
			if n.ListenPort < 1 || n.ListenPort > 65535 {
				c.errorf(n.pos.at("listen_port", at), "%s: listen_port %d is outside 1-65535", what, n.ListenPort)
			}
			if len(n.Interface) > 15 || !nodeName.MatchString(n.Interface) {
				c.errorf(n.pos.at("interface", at), "%s: interface %q is not a valid interface name (at most 15 letters, digits, '-', '_' or '.')", what, n.Interface)
			}
			// A host may be a member of several meshes: each needs its own interface and port.
			for _, m := range meshes {
				if m.Interface == n.Interface {
					c.errorf(n.pos.at("interface", at), "%s: interface %q is also network %q's: give each wireguard network its own interface", what, n.Interface, m.Name)
				}
				if m.ListenPort == n.ListenPort {
					c.errorf(n.pos.at("listen_port", at), "%s: listen_port %d is also network %q's: give each wireguard network its own listen_port", what, n.ListenPort, m.Name)
				}
			}
			meshes = append(meshes, n)
			for _, nd := range n.Nodes {
				if nd.Endpoint != "" {
					if _, port, err := net.SplitHostPort(nd.Endpoint); err != nil || port == "" {
						c.errorf(nd.pos.at("endpoint", nd.pos.self()), "%s: node %q: endpoint %q: want HOST:PORT", what, nd.Name, nd.Endpoint)
					}
				}
			}
		}
		if n.Subnet.IsValid() {
			subnets = append(subnets, subnet{what + " subnet", n.Subnet, n.pos.at("subnet", at)})
		}
		if n.ContainerSubnet.IsValid() {
			subnets = append(subnets, subnet{what + " container_subnet", n.ContainerSubnet, n.pos.at("container_subnet", at)})
		}
		for _, nd := range n.Nodes {
			s.validateNode(c, n, nd, nodes)
		}
		if !n.Implicit && n.Type != NetworkLocal && !slices.ContainsFunc(s.Services, func(svc *Service) bool { return svc.Network == n.Name }) {
			c.warnf(at, "%s is not used by any service", what)
		}
	}
	for i, a := range subnets {
		for _, b := range subnets[:i] {
			if a.p.Overlaps(b.p) {
				c.errorf(a.pos, "%s %s overlaps %s %s", a.what, a.p, b.what, b.p)
			}
		}
	}
}

func (s *Stack) validateNode(c *collector, n *Network, nd *Node, seen map[string]*Node) {
	at := nd.pos.self()
	what := fmt.Sprintf("network %q: node %q", n.Name, nd.Name)
	if nd.Host == "" {
		c.errorf(at, "network %q: node: host is required", n.Name)
		return
	}
	if nd.SSHUser == "" {
		c.errorf(at, "%s: ssh_user is required", what)
	}
	if !nodeName.MatchString(nd.Name) {
		c.errorf(nd.pos.at("name", at), "%s: invalid node name", what)
	}
	if nd.SSHPort < 1 || nd.SSHPort > 65535 {
		c.errorf(nd.pos.at("ssh_port", at), "%s: ssh_port %d is outside 1-65535", what, nd.SSHPort)
	}
	if nd.Endpoint != "" && n.Type != NetworkWireGuard {
		c.errorf(nd.pos.at("endpoint", at), "%s: endpoint applies only to wireguard nodes", what)
	}
	if prev, dup := seen[nd.Name]; dup {
		c.errorf(nd.pos.at("name", at), "%s: node name already used in network %q (line %d)", what, prev.Network, prev.pos.self().Line)
	}
	seen[nd.Name] = nd
}

func (s *Stack) validateService(c *collector, svc *Service) {
	at := svc.pos.self()
	what := fmt.Sprintf("service %q", svc.Name)
	pos := func(key string) Pos { return svc.pos.at(key, at) }
	if !validName(svc.Name) {
		c.errorf(at, "invalid service name %q: want lowercase letters, digits, '-' and '_', starting with a letter or digit", svc.Name)
	}
	if svc.pos.has("dependencies") && svc.pos.has("depends_on") {
		c.errorf(pos("depends_on"), "%s: use dependencies or depends_on, not both", what)
	}
	if svc.pos.has("env") && svc.pos.has("environment") {
		c.errorf(pos("environment"), "%s: use env or environment, not both", what)
	}
	switch svc.Type {
	case "":
		c.errorf(at, "%s: type is missing; want one of %s", what, strings.Join(serviceTypes, ", "))
		return
	case TypeProcess, TypeDocker, TypeRemote, TypePackage:
	default:
		c.errorf(pos("type"), "%s: unknown type %q; want one of %s%s", what, svc.Type, strings.Join(serviceTypes, ", "), Hint(string(svc.Type), serviceTypes))
		return
	}
	for _, key := range appliesKeys {
		if svc.pos.has(key) && !slices.Contains(applies[key], svc.Type) {
			c.errorf(pos(key), "%s: %s does not apply to a %s service", what, key, svc.Type)
		}
	}
	image := svc.Image != "" || svc.Build != nil
	if svc.Build != nil && svc.Build.Context == "" {
		c.errorf(pos("build"), "%s: build: context is required", what)
	}
	switch svc.Type {
	case TypeProcess:
		if svc.Binary == "" {
			c.errorf(at, "%s: binary is required for a process service", what)
		}
	case TypeDocker:
		if !image {
			c.errorf(at, "%s: image or build is required for a docker service", what)
		}
	case TypeRemote:
		if svc.Binary == "" && !image {
			c.errorf(at, "%s: a remote service needs binary (a process) or image/build (a container)", what)
		}
		if svc.Binary != "" && image {
			c.errorf(pos("binary"), "%s: a remote service runs binary or image/build, not both", what)
		}
	case TypePackage:
		if svc.Package == "" {
			c.errorf(at, "%s: package is required for a package service", what)
		}
	}
	s.validatePlace(c, svc, what)
	s.validatePaths(c, svc, what)
	s.validateRefs(c, svc)
	s.validateDependencies(c, svc, what)
	if svc.HealthCheck != nil {
		validateCheck(c, svc.HealthCheck, what)
	}
	validateRestart(c, svc, what)
	if !slices.Contains(signals, svc.StopSignal) {
		c.errorf(pos("stop_signal"), "%s: unknown stop_signal %q; want one of %s", what, svc.StopSignal, strings.Join(signals, ", "))
	}
	if svc.pos.has("keep_releases") && svc.KeepReleases < 1 {
		c.errorf(pos("keep_releases"), "%s: keep_releases must be at least 1", what)
	}
	for _, v := range svc.Volumes {
		if v.Target != "" && !strings.HasPrefix(v.Target, "/") {
			c.errorf(pos("volumes"), "%s: volume target %q must be an absolute path", what, v.Target)
		}
		if !v.Bind && v.Source != "" && !validName(v.Source) {
			c.errorf(pos("volumes"), "%s: %q is neither a path (start it with ./ or /) nor a volume name", what, v.Source)
		}
	}
}

// validatePlace checks the network of a local service and the node of a remote one.
func (s *Stack) validatePlace(c *collector, svc *Service, what string) {
	at := svc.pos.self()
	if svc.Type == TypeRemote || svc.Type == TypePackage {
		if svc.Host == "" {
			c.errorf(at, "%s: host is required for a %s service: the node it runs on", what, svc.Type)
			return
		}
		nd := s.Node(svc.Host)
		if nd == nil {
			c.errorf(svc.pos.at("host", at), "%s: unknown node %q%s", what, svc.Host, knownList("nodes", s.nodeNames(), svc.Host))
			return
		}
		if svc.Network != nd.Network {
			c.errorf(svc.pos.at("network", at), "%s: node %q is on network %q, not %q", what, nd.Name, nd.Network, svc.Network)
		}
		return
	}
	n := s.Network(svc.Network)
	switch {
	case n == nil:
		c.errorf(svc.pos.at("network", at), "%s: unknown network %q%s", what, svc.Network, knownList("networks", s.networkNames(), svc.Network))
	case n.Type != NetworkLocal:
		c.errorf(svc.pos.at("network", at), "%s: a %s service runs on this host, so its network must be the local one, not %s network %q (use type remote with host: NODE)", what, svc.Type, n.Type, n.Name)
	}
}

// validatePaths warns about local paths that do not exist yet: they may be built later.
func (s *Stack) validatePaths(c *collector, svc *Service, what string) {
	switch {
	case svc.Type == TypeProcess && strings.Contains(svc.Binary, "/"):
		if _, err := os.Stat(s.LocalPath(svc.Binary)); err != nil {
			c.warnf(svc.pos.at("binary", svc.pos.self()), "%s: binary %s does not exist yet", what, svc.Binary)
		}
	case svc.Type == TypeProcess && svc.Binary != "":
		if !c.onPath(svc.Binary) {
			c.warnf(svc.pos.at("binary", svc.pos.self()), "%s: binary %s is not on PATH", what, svc.Binary)
		}
	case svc.Type == TypePackage && svc.Package != "":
		if _, err := os.Stat(s.LocalPath(svc.Package)); err != nil {
			c.warnf(svc.pos.at("package", svc.pos.self()), "%s: package %s does not exist yet", what, svc.Package)
		}
	}
}

func (s *Stack) validateRefs(c *collector, svc *Service) {
	for _, t := range svc.Templates() {
		for _, p := range t.parts {
			if p.ref.Service != "" && s.Service(p.ref.Service) == nil {
				c.errorf(p.pos, "%s: unknown service %q%s", p.ref, p.ref.Service, knownList("services", s.serviceNames(), p.ref.Service))
			}
		}
	}
}

func (s *Stack) validateDependencies(c *collector, svc *Service, what string) {
	seen := map[string]bool{}
	for _, dep := range svc.Dependencies {
		target := s.Service(dep.Service)
		switch {
		case dep.Service == svc.Name:
			c.errorf(dep.pos, "%s depends on itself", what)
		case target == nil:
			c.errorf(dep.pos, "%s: unknown dependency %q%s", what, dep.Service, knownList("services", s.serviceNames(), dep.Service))
		case seen[dep.Service]:
			c.errorf(dep.pos, "%s: dependency %q is listed twice", what, dep.Service)
		case !slices.Contains(conditions, string(dep.Condition)):
			c.errorf(dep.pos, "%s: dependency %q: unknown condition %q; want one of %s%s", what, dep.Service, dep.Condition, strings.Join(conditions, ", "), Hint(string(dep.Condition), conditions))
		case dep.Condition == ConditionHealthy && target.HealthCheck == nil:
			c.errorf(dep.pos, "%s: dependency %q: condition healthy needs a health_check on %q", what, dep.Service, dep.Service)
		}
		seen[dep.Service] = true
	}
}

// validateGraph reports a dependency cycle as a path, at the edge that closes it.
func (s *Stack) validateGraph(c *collector) {
	cycle := s.Graph().Cycle()
	if len(cycle) < 3 { // a self-dependency is reported with the dependency
		return
	}
	from := s.Service(cycle[0])
	at := from.pos.self()
	for _, dep := range from.Dependencies {
		if dep.Service == cycle[1] {
			at = dep.pos
		}
	}
	c.errorf(at, "dependency cycle: %s", strings.Join(cycle, " → "))
}

func validateCheck(c *collector, h *HealthCheck, what string) {
	at := h.pos.self()
	what += ": health_check"
	var kinds []string
	for _, k := range checkKinds {
		// Written in a file, or set in a check built in Go (it has no positions).
		if h.pos.has(k) || (h.pos == nil && h.has(CheckKind(k))) {
			kinds = append(kinds, k)
		}
	}
	switch {
	case len(kinds) == 0:
		c.errorf(at, "%s: no check; want one of %s", what, strings.Join(checkKinds, ", "))
	case len(kinds) > 1:
		c.errorf(h.pos.at(kinds[1], at), "%s: one check per service, got %s", what, strings.Join(kinds, " and "))
	case h.Kind() == "": // command or log_line written but empty
		c.errorf(h.pos.at(kinds[0], at), "%s: %s is empty", what, kinds[0])
	}
	if h.pos.has("args") && !h.pos.has("command") {
		c.errorf(h.pos.at("args", at), "%s: args needs command", what)
	}
	port := func(key string, p int, written Pos) {
		if p < 1 || p > 65535 {
			if written.Line == 0 {
				written = h.pos.at(key, at)
			}
			c.errorf(written, "%s: %s port %d is outside 1-65535", what, key, p)
		}
	}
	if h.TCP != nil {
		port("tcp", h.TCP.Port, h.TCP.pos)
	}
	if h.GRPC != nil {
		port("grpc", h.GRPC.Port, h.GRPC.pos)
	}
	if hc := h.HTTP; hc != nil {
		p := h.pos.at("http", at)
		if raw, ok := hc.URL.literal(); ok {
			if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				c.errorf(p, "%s: http: want an http:// or https:// URL, got %q", what, raw)
			}
		}
		if !statusPattern.MatchString(hc.ExpectedStatus) {
			c.errorf(p, "%s: http: expected_status %q: want a status such as 200 or a class such as 2xx", what, hc.ExpectedStatus)
		}
	}
	if h.LogLine != "" {
		if _, err := regexp.Compile(h.LogLine); err != nil {
			c.errorf(h.pos.at("log_line", at), "%s: log_line: %v", what, err)
		}
	}
	if h.Retries < 1 {
		c.errorf(h.pos.at("retries", at), "%s: retries must be at least 1", what)
	}
	if h.SuccessThreshold < 1 {
		c.errorf(h.pos.at("success_threshold", at), "%s: success_threshold must be at least 1", what)
	}
	if h.pos.has("timeout") && h.Timeout >= h.Interval {
		c.warnf(h.pos.at("timeout", at), "%s: timeout %s is not shorter than interval %s, so a slow check delays the next one", what, h.Timeout, h.Interval)
	}
}

func validateRestart(c *collector, svc *Service, what string) {
	at := svc.pos.at("restart", svc.pos.self())
	pos := func(key string) Pos { return svc.restartPos.at(key, at) }
	r := svc.Restart
	if !slices.Contains(policies, string(r.Policy)) {
		c.errorf(pos("policy"), "%s: unknown restart policy %q; want one of %s%s", what, r.Policy, strings.Join(policies, ", "), Hint(string(r.Policy), policies))
	}
	if r.MaxRestarts < 0 {
		c.errorf(pos("max_restarts"), "%s: restart: max_restarts must not be negative", what)
	}
	if r.Backoff.Multiplier < 1 {
		c.errorf(pos("backoff.multiplier"), "%s: restart: backoff multiplier must be at least 1", what)
	}
	if r.Backoff.Jitter < 0 || r.Backoff.Jitter > 1 {
		c.errorf(pos("backoff.jitter"), "%s: restart: backoff jitter must be between 0 and 1", what)
	}
	if r.Backoff.Max < r.Backoff.Initial {
		c.errorf(pos("backoff.max"), "%s: restart: backoff max %s is below initial %s", what, r.Backoff.Max, r.Backoff.Initial)
	}
}

// validatePorts checks each port and that no two services publish one host port on one host.
func (s *Stack) validatePorts(c *collector) {
	type key struct {
		node, proto string
		port        int
	}
	type owner struct {
		svc string
		ip  string
		pos Pos
	}
	published := map[key][]owner{}
	for _, svc := range s.Services {
		what := fmt.Sprintf("service %q", svc.Name)
		for _, p := range svc.Ports {
			at := p.pos
			if at.File == "" {
				at = svc.pos.at("ports", svc.pos.self())
			}
			switch {
			case p.Target < 1 || p.Target > 65535:
				c.errorf(at, "%s: port %d is outside 1-65535", what, p.Target)
				continue
			case p.Published < 0 || p.Published > 65535:
				c.errorf(at, "%s: host port %d is outside 1-65535", what, p.Published)
				continue
			case p.Protocol != "tcp" && p.Protocol != "udp":
				c.errorf(at, "%s: port protocol %q: want tcp or udp", what, p.Protocol)
			case p.HostIP != "" && !validIP(p.HostIP):
				c.errorf(at, "%s: host address %q is not an IP address", what, p.HostIP)
			case !svc.IsContainer() && p.Published != p.Target:
				c.errorf(at, "%s: %d:%d maps a host port to another port, which only containers do", what, p.Published, p.Target)
			}
			if p.Published == 0 {
				continue
			}
			k := key{s.NodeName(svc), p.Protocol, p.Published}
			for _, o := range published[k] {
				if o.ip == "" || p.HostIP == "" || o.ip == p.HostIP {
					c.errorf(at, "%s: host port %d/%s on %s is already published by service %q at line %d", what, p.Published, p.Protocol, k.node, o.svc, o.pos.Line)
					break
				}
			}
			published[k] = append(published[k], owner{svc.Name, strings.TrimPrefix(p.HostIP, "0.0.0.0"), at})
		}
	}
}

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// knownList helps with an unknown name: the closest known one, or the list of known ones.
func knownList(what string, known []string, name string) string {
	if h := Hint(name, known); h != "" {
		return h
	}
	if len(known) == 0 {
		return fmt.Sprintf(" (there are no %s)", what)
	}
	return fmt.Sprintf(" (known %s: %s)", what, strings.Join(known, ", "))
}

func (s *Stack) serviceNames() []string {
	var out []string
	for _, svc := range s.Services {
		out = append(out, svc.Name)
	}
	return out
}

func (s *Stack) networkNames() []string {
	var out []string
	for _, n := range s.Networks {
		out = append(out, n.Name)
	}
	return out
}

func (s *Stack) nodeNames() []string {
	var out []string
	for _, n := range s.Networks {
		for _, nd := range n.Nodes {
			out = append(out, nd.Name)
		}
	}
	return out
}
