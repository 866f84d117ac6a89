package config

import (
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

func (d *decoder) service(k, n *yaml.Node) *Service {
	s := &Service{Name: k.Value}
	what := fmt.Sprintf("service %q", s.Name)
	in := func(key string) string { return what + ": " + key }
	deps := func(v *yaml.Node) { s.Dependencies = append(s.Dependencies, d.dependencies(v, in("dependencies"))...) }
	s.pos = d.mapping(n, what, handlers{
		"type":        func(v *yaml.Node) { s.Type = ServiceType(d.str(v, in("type"))) },
		"description": func(v *yaml.Node) { s.Description = d.str(v, in("description")) },
		"network":     func(v *yaml.Node) { s.Network = d.str(v, in("network")) },
		"host":        func(v *yaml.Node) { s.Host = d.str(v, in("host")) },
		"binary":      func(v *yaml.Node) { s.Binary = d.str(v, in("binary")) },
		"args":        func(v *yaml.Node) { s.Args = d.tmpls(v, in("args")) },
		"working_dir": func(v *yaml.Node) { s.WorkingDir = d.str(v, in("working_dir")) },
		"user":        func(v *yaml.Node) { s.User = d.str(v, in("user")) },
		"image":       func(v *yaml.Node) { s.Image = d.str(v, in("image")) },
		"build":       func(v *yaml.Node) { s.Build = d.build(v, in("build")) },
		"command":     func(v *yaml.Node) { s.Command = d.words(v, in("command")) },
		"entrypoint":  func(v *yaml.Node) { s.Entrypoint = d.words(v, in("entrypoint")) },
		"volumes": func(v *yaml.Node) {
			d.list(v, in("volumes"), func(v *yaml.Node) { s.Volumes = append(s.Volumes, d.volume(v, in("volumes"))) })
		},
		"package":       func(v *yaml.Node) { s.Package = d.str(v, in("package")) },
		"version":       func(v *yaml.Node) { s.Version = d.str(v, in("version")) },
		"install_path":  func(v *yaml.Node) { s.InstallPath = d.str(v, in("install_path")) },
		"keep_releases": func(v *yaml.Node) { s.KeepReleases, _ = d.integer(v, in("keep_releases")) },
		"env_file":      func(v *yaml.Node) { s.EnvFile, s.envFilePos = d.strs(v, in("env_file")) },
		"env":           func(v *yaml.Node) { s.Env = d.env(v, in("env")) },
		"environment":   func(v *yaml.Node) { s.Env = d.env(v, in("environment")) },
		"ports": func(v *yaml.Node) {
			d.list(v, in("ports"), func(v *yaml.Node) { s.Ports = append(s.Ports, d.port(v, in("ports"))...) })
		},
		"dependencies":     deps,
		"depends_on":       deps,
		"health_check":     func(v *yaml.Node) { s.HealthCheck = d.healthCheck(v, in("health_check")) },
		"restart":          func(v *yaml.Node) { s.Restart, s.restartPos = d.restart(v, in("restart")) },
		"startup_timeout":  func(v *yaml.Node) { s.StartupTimeout = d.duration(v, in("startup_timeout"), false) },
		"shutdown_timeout": func(v *yaml.Node) { s.ShutdownTimeout = d.duration(v, in("shutdown_timeout"), false) },
		"stop_signal":      func(v *yaml.Node) { s.StopSignal = d.str(v, in("stop_signal")) },
		"labels":           func(v *yaml.Node) { s.Labels = d.stringMap(v, in("labels")) },
	})
	s.pos["."] = d.pos(k)
	return s
}

// dependencies decodes a list of names or {service, condition}, or a compose-style mapping
// of name → {condition}.
func (d *decoder) dependencies(n *yaml.Node, what string) []Dependency {
	if n = d.node(n); n == nil || isNull(n) {
		return nil
	}
	var out []Dependency
	if n.Kind == yaml.MappingNode {
		d.each(n, what, func(k, v *yaml.Node) {
			dep := Dependency{Service: k.Value, pos: d.pos(k)}
			d.mapping(v, what+" "+k.Value, handlers{
				"condition": func(v *yaml.Node) { dep.Condition = Condition(d.str(v, what+" condition")) },
			})
			out = append(out, dep)
		})
		return out
	}
	d.list(n, what, func(v *yaml.Node) {
		if v = d.node(v); v == nil {
			return
		}
		dep := Dependency{pos: d.pos(v)}
		if v.Kind == yaml.ScalarNode {
			dep.Service = d.str(v, what)
		} else {
			f := d.mapping(v, what, handlers{
				"service":   func(v *yaml.Node) { dep.Service = d.str(v, what+" service") },
				"condition": func(v *yaml.Node) { dep.Condition = Condition(d.str(v, what+" condition")) },
			})
			if !f.has("service") && v.Kind == yaml.MappingNode {
				d.c.errorf(d.pos(v), "%s: service is missing", what)
				return
			}
			dep.pos = f.at("service", dep.pos)
		}
		out = append(out, dep)
	})
	return out
}

// healthCheck decodes every form: command+args, http (URL or mapping), tcp (port or
// mapping), grpc and log_line, with the timing keys.
func (d *decoder) healthCheck(n *yaml.Node, what string) *HealthCheck {
	h := &HealthCheck{}
	in := func(key string) string { return what + ": " + key }
	h.pos = d.mapping(n, what, handlers{
		"command": func(v *yaml.Node) {
			ws := d.words(v, in("command"))
			if len(ws) > 0 {
				h.Command, h.Args = ws[0], append(ws[1:], h.Args...)
			}
		},
		"args":              func(v *yaml.Node) { h.Args = append(h.Args, d.tmpls(v, in("args"))...) },
		"http":              func(v *yaml.Node) { h.HTTP = d.httpCheck(v, in("http")) },
		"tcp":               func(v *yaml.Node) { h.TCP = d.tcpCheck(v, in("tcp")) },
		"grpc":              func(v *yaml.Node) { h.GRPC = d.grpcCheck(v, in("grpc")) },
		"log_line":          func(v *yaml.Node) { h.LogLine = d.str(v, in("log_line")) },
		"interval":          func(v *yaml.Node) { h.Interval = d.duration(v, in("interval"), false) },
		"timeout":           func(v *yaml.Node) { h.Timeout = d.duration(v, in("timeout"), false) },
		"retries":           func(v *yaml.Node) { h.Retries, _ = d.integer(v, in("retries")) },
		"start_period":      func(v *yaml.Node) { h.StartPeriod = d.duration(v, in("start_period"), true) },
		"start_interval":    func(v *yaml.Node) { h.StartInterval = d.duration(v, in("start_interval"), false) },
		"success_threshold": func(v *yaml.Node) { h.SuccessThreshold, _ = d.integer(v, in("success_threshold")) },
	})
	if n = d.node(n); n != nil {
		h.pos["."] = d.pos(n)
	}
	return h
}

func (d *decoder) httpCheck(n *yaml.Node, what string) *HTTPCheck {
	c := &HTTPCheck{}
	if n = d.node(n); n != nil && n.Kind == yaml.ScalarNode {
		c.URL = d.tmpl(n, what)
		return c
	}
	d.mapping(n, what, handlers{
		"url":    func(v *yaml.Node) { c.URL = d.tmpl(v, what+".url") },
		"method": func(v *yaml.Node) { c.Method = strings.ToUpper(d.str(v, what+".method")) },
		"headers": func(v *yaml.Node) {
			for _, e := range d.env(v, what+".headers") {
				if c.Headers == nil {
					c.Headers = map[string]Template{}
				}
				c.Headers[e.Name] = e.Value
			}
		},
		"expected_status": func(v *yaml.Node) { c.ExpectedStatus = strings.ToLower(d.str(v, what+".expected_status")) },
		"body_contains":   func(v *yaml.Node) { c.BodyContains = d.str(v, what+".body_contains") },
	})
	return c
}

func (d *decoder) tcpCheck(n *yaml.Node, what string) *TCPCheck {
	c := &TCPCheck{}
	d.endpoint(n, what, &c.Host, &c.Port, &c.pos, nil)
	return c
}

func (d *decoder) grpcCheck(n *yaml.Node, what string) *GRPCCheck {
	c := &GRPCCheck{}
	d.endpoint(n, what, &c.Host, &c.Port, &c.pos, handlers{
		"service": func(v *yaml.Node) { c.Service = d.str(v, what+".service") },
	})
	return c
}

// endpoint decodes the address of a tcp or grpc check: a port, or {host, port} with the
// check's own extra keys; pos records where the port was written.
func (d *decoder) endpoint(n *yaml.Node, what string, host *string, port *int, pos *Pos, extra handlers) {
	if n = d.node(n); n != nil && n.Kind == yaml.ScalarNode {
		*port, _ = d.integer(n, what)
		*pos = d.pos(n)
		return
	}
	h := handlers{
		"host": func(v *yaml.Node) { *host = d.str(v, what+".host") },
		"port": func(v *yaml.Node) { *port, _ = d.integer(v, what+".port"); *pos = d.pos(v) },
	}
	maps.Copy(h, extra)
	d.mapping(n, what, h)
}

// restart decodes "no|on-failure[:N]|always|unless-stopped" or the mapping form. The fields
// say where each key was written ("backoff.jitter" for a backoff key), so that validation
// points at the value and normalize tells an explicit 0 from an omitted key.
func (d *decoder) restart(n *yaml.Node, what string) (Restart, fields) {
	r := Restart{}
	if n = d.node(n); n != nil && n.Kind == yaml.ScalarNode {
		policy, max, ok := strings.Cut(d.str(n, what), ":")
		r.Policy = RestartPolicy(policy)
		if ok {
			var err error
			if r.MaxRestarts, err = strconv.Atoi(max); err != nil || r.Policy != RestartOnFailure {
				d.c.errorf(d.pos(n), "%s: want on-failure:N with N an integer, got %q", what, n.Value)
			}
		}
		return r, fields{"policy": d.pos(n)}
	}
	var backoff fields
	f := d.mapping(n, what, handlers{
		"policy":       func(v *yaml.Node) { r.Policy = RestartPolicy(d.str(v, what+".policy")) },
		"max_restarts": func(v *yaml.Node) { r.MaxRestarts, _ = d.integer(v, what+".max_restarts") },
		"reset_after":  func(v *yaml.Node) { r.ResetAfter = d.duration(v, what+".reset_after", false) },
		"backoff": func(v *yaml.Node) {
			in := what + ".backoff"
			backoff = d.mapping(v, in, handlers{
				"initial":    func(v *yaml.Node) { r.Backoff.Initial = d.duration(v, in+".initial", false) },
				"max":        func(v *yaml.Node) { r.Backoff.Max = d.duration(v, in+".max", false) },
				"multiplier": func(v *yaml.Node) { r.Backoff.Multiplier = d.number(v, in+".multiplier") },
				"jitter":     func(v *yaml.Node) { r.Backoff.Jitter = d.number(v, in+".jitter") },
			})
		},
	})
	for k, p := range backoff {
		f["backoff."+k] = p
	}
	return r, f
}

// port decodes 8080, "8080", "8080:80", "127.0.0.1:9000:9000/udp", "[::1]:80:80" or the
// mapping {target, published, host_ip, protocol}.
func (d *decoder) port(n *yaml.Node, what string) []Port {
	if n = d.node(n); n == nil {
		return nil
	}
	p := Port{pos: d.pos(n)}
	if n.Kind == yaml.MappingNode {
		d.mapping(n, what, handlers{
			"target":    func(v *yaml.Node) { p.Target, _ = d.integer(v, what+".target") },
			"published": func(v *yaml.Node) { p.Published, _ = d.integer(v, what+".published") },
			"host_ip":   func(v *yaml.Node) { p.HostIP = d.str(v, what+".host_ip") },
			"protocol":  func(v *yaml.Node) { p.Protocol = d.str(v, what+".protocol") },
		})
		return []Port{p}
	}
	s := d.str(n, what)
	spec, proto, _ := strings.Cut(s, "/")
	p.Protocol = proto
	var parts []string
	if strings.HasPrefix(spec, "[") { // [v6]:host:container
		if end := strings.Index(spec, "]:"); end > 0 {
			p.HostIP = spec[1:end]
			spec = spec[end+2:]
		}
	}
	parts = strings.Split(spec, ":")
	if len(parts) == 3 && p.HostIP == "" {
		p.HostIP, parts = parts[0], parts[1:]
	}
	nums := make([]int, len(parts))
	for i, part := range parts {
		v, err := strconv.Atoi(part)
		if err != nil || strings.HasPrefix(part, "-") || len(parts) > 2 {
			msg := "want PORT, HOST:CONTAINER or IP:HOST:CONTAINER[/PROTOCOL]"
			if strings.Contains(part, "-") {
				msg = "port ranges are not supported; list each port"
			}
			d.c.errorf(p.pos, "%s: %s, got %q", what, msg, s)
			return nil
		}
		nums[i] = v
	}
	p.Target = nums[len(nums)-1]
	if len(nums) == 2 {
		p.Published = nums[0]
	}
	return []Port{p}
}

// volume decodes "SOURCE:TARGET[:ro|rw]" or "TARGET" (an anonymous volume is not supported:
// harness names every volume it creates).
func (d *decoder) volume(n *yaml.Node, what string) Volume {
	s := d.str(n, what)
	parts := strings.Split(s, ":")
	v := Volume{}
	switch {
	case len(parts) == 3 && (parts[2] == "ro" || parts[2] == "rw"):
		v.ReadOnly = parts[2] == "ro"
		fallthrough
	case len(parts) == 2:
		v.Source, v.Target = parts[0], parts[1]
	}
	if v.Source == "" || v.Target == "" {
		d.c.errorf(d.pos(n), "%s: want SOURCE:TARGET[:ro], got %q", what, s)
	}
	v.Bind = strings.HasPrefix(v.Source, ".") || strings.HasPrefix(v.Source, "/") || strings.HasPrefix(v.Source, "~")
	return v
}

// build decodes a context path or {context, dockerfile, args}.
func (d *decoder) build(n *yaml.Node, what string) *Build {
	b := &Build{}
	if n = d.node(n); n != nil && n.Kind == yaml.ScalarNode {
		b.Context = d.str(n, what)
		return b
	}
	d.mapping(n, what, handlers{
		"context":    func(v *yaml.Node) { b.Context = d.str(v, what+".context") },
		"dockerfile": func(v *yaml.Node) { b.Dockerfile = d.str(v, what+".dockerfile") },
		"args":       func(v *yaml.Node) { b.Args = d.stringMap(v, what+".args") },
	})
	return b
}

// prefix decodes a CIDR subnet, which must be a network address.
func (d *decoder) prefix(n *yaml.Node, what string) netip.Prefix {
	s := d.str(n, what)
	p, err := netip.ParsePrefix(s)
	if err != nil {
		d.c.errorf(d.pos(n), "%s: want a subnet in CIDR form such as 10.0.0.0/24, got %q", what, s)
		return netip.Prefix{}
	}
	if p.Masked() != p {
		d.c.errorf(d.pos(n), "%s: %s has host bits set; did you mean %s?", what, s, p.Masked())
	}
	return p.Masked()
}
