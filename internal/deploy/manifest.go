package deploy

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/graph-network-harness/harness/config"
)

// ManifestFile is the name of the manifest at the top of every package.
const ManifestFile = "manifest.yaml"

// Manifest is what manifest.yaml says about a package: what it is, how its service runs, and
// what it needs from the stack and the host. Paths are slash-separated, relative to the
// release directory (the unpacked package), clean and without "..".
type Manifest struct {
	// Name and Version name the package and its release; both are path-safe
	// ([A-Za-z0-9][A-Za-z0-9._+-]*), so NAME-VERSION.tar.gz and releases/VERSION-… are too.
	Name    string `json:"name"`
	Version string `json:"version"`
	// Service is how the package's one service runs.
	Service Service `json:"service"`
	// Dependencies name the services of the stack the package talks to; their addresses are
	// given to it when it is deployed.
	Dependencies []string `json:"dependencies,omitempty"`
	// Environment is added to the service's environment. Values are taken literally.
	Environment map[string]string `json:"environment,omitempty"`
	// Requires is what the host must provide.
	Requires Requires `json:"requires,omitzero"`
}

// Service is the service of a package.
type Service struct {
	// Executable is the program, normally bin/NAME: a regular file of the package with an
	// executable bit.
	Executable string `json:"executable"`
	// Args are the arguments of Executable, taken literally.
	Args []string `json:"args,omitempty"`
	// WorkingDir is where the service runs; empty means the release directory itself.
	WorkingDir string `json:"working_dir,omitempty"`
	// Ports are the ports the service listens on, each in 1-65535, without duplicates.
	Ports []int `json:"ports,omitempty"`
	// HealthCheck has the shape of a services.yaml health check. Its values are taken
	// literally, and a timing key left out is 0, meaning the stack's default.
	HealthCheck *config.HealthCheck `json:"health_check,omitempty"`
}

// Requires is what a package needs from the host it is deployed to.
type Requires struct {
	// Commands must be found on the host's PATH (or at the absolute paths given).
	Commands []string `json:"commands,omitempty"`
}

// ArchiveName is the file name Build's output goes by: NAME-VERSION.tar.gz.
func (m *Manifest) ArchiveName() string { return m.Name + "-" + m.Version + ".tar.gz" }

var (
	packageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`) // as in services.yaml
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	httpStatus  = regexp.MustCompile(`^[1-5]([0-9][0-9]|xx)$`)
)

// maxManifest bounds the size of a manifest, which may come from an archive of unknown origin.
const maxManifest = 1 << 20

// ParseManifest decodes and validates a manifest held in memory; file names it in diagnostics.
// Only the manifest itself is checked, not the files it names (Load and Build do that). Every
// problem comes back at once, as a *config.Error whose diagnostics read FILE:LINE:COL: message.
func ParseManifest(file string, data []byte) (*Manifest, error) {
	m, _, diags := parseManifest(file, data)
	if len(diags) > 0 {
		sortDiagnostics(diags)
		return nil, &config.Error{Diagnostics: diags}
	}
	return m, nil
}

// places records where the values that the bundle checks look at were written.
type places struct {
	top, executable, workingDir config.Pos
}

// parseManifest decodes and validates data, and returns the manifest (partly read when there
// are problems), where its paths were written, and the problems.
func parseManifest(file string, data []byte) (*Manifest, places, config.Diagnostics) {
	d := &decoder{file: file}
	m := &Manifest{}
	at := places{top: config.Pos{File: file, Line: 1, Col: 1}}
	if len(data) > maxManifest {
		d.errorf(at.top, "the manifest is larger than %d bytes", maxManifest)
		return m, at, d.diags
	}
	var doc yaml.Node
	switch err := yaml.Unmarshal(data, &doc); {
	case err != nil:
		p, msg := config.YAMLError(file, err)
		d.errorf(p, "%s", msg)
	case len(doc.Content) == 0 || isNull(doc.Content[0]):
		d.errorf(at.top, "the manifest is empty; want at least name, version and service")
	default:
		d.manifest(doc.Content[0], m, &at)
	}
	return m, at, d.diags
}

// manifest decodes the top level and checks every value.
func (d *decoder) manifest(n *yaml.Node, m *Manifest, at *places) {
	at.top = d.pos(n)
	var svc map[string]config.Pos
	top := d.mapping(n, "manifest", map[string]func(*yaml.Node){
		"name":    func(v *yaml.Node) { m.Name = d.str(v, "name") },
		"version": func(v *yaml.Node) { m.Version = d.str(v, "version") },
		"service": func(v *yaml.Node) { svc = d.service(v, &m.Service) },
		"dependencies": func(v *yaml.Node) {
			seen := map[string]bool{}
			d.list(v, "dependencies", func(v *yaml.Node) {
				name := d.str(v, "dependencies")
				switch {
				case !serviceName.MatchString(name):
					d.errorf(d.pos(v), "dependencies: %q is not a service name ([a-z0-9][a-z0-9_-]*)", name)
				case seen[name]:
					d.errorf(d.pos(v), "dependencies: %q is listed twice", name)
				}
				seen[name] = true
				m.Dependencies = append(m.Dependencies, name)
			})
		},
		"environment": func(v *yaml.Node) { m.Environment = d.environment(v) },
		"requires": func(v *yaml.Node) {
			d.mapping(v, "requires", map[string]func(*yaml.Node){
				"commands": func(v *yaml.Node) {
					d.list(v, "requires.commands", func(v *yaml.Node) {
						c := d.str(v, "requires.commands")
						if c == "" || strings.ContainsAny(c, " \t\n\x00") {
							d.errorf(d.pos(v), "requires.commands: want a command name or an absolute path, got %q", c)
						}
						m.Requires.Commands = append(m.Requires.Commands, c)
					})
				},
			})
		},
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	for _, f := range []struct{ key, value string }{{"name", m.Name}, {"version", m.Version}} {
		p, written := top[f.key]
		switch {
		case !written:
			d.errorf(at.top, "%s is missing", f.key)
		case hasProblem(d.diags, p): // not a single value
		case f.value == "":
			d.errorf(p, "%s is empty", f.key)
		case !packageName.MatchString(f.value):
			d.errorf(p, "%s %q: want letters, digits and . _ + - only, starting with a letter or digit", f.key, f.value)
		}
	}
	if _, ok := top["service"]; !ok {
		d.errorf(at.top, "service is missing; want at least service.executable")
		return
	}
	at.executable, at.workingDir = svc["executable"], svc["working_dir"]
	switch p, ok := svc["executable"]; {
	case hasProblem(d.diags, p) || hasProblem(d.diags, top["service"]): // not a string, not a mapping
	case !ok:
		d.errorf(top["service"], "service.executable is missing; want the program's path in the package, such as bin/%s", or(m.Name, "NAME"))
	case m.Service.Executable != "":
		m.Service.Executable = d.relPath(p, "service.executable", m.Service.Executable)
	default:
		d.errorf(p, "service.executable is empty")
	}
	if p, ok := svc["working_dir"]; ok && m.Service.WorkingDir != "" {
		m.Service.WorkingDir = d.relPath(p, "service.working_dir", m.Service.WorkingDir)
	}
}

// service decodes the service mapping and returns where each key's value was written.
func (d *decoder) service(n *yaml.Node, s *Service) map[string]config.Pos {
	return d.mapping(n, "service", map[string]func(*yaml.Node){
		"executable": func(v *yaml.Node) { s.Executable = d.str(v, "service.executable") },
		"args": func(v *yaml.Node) {
			d.list(v, "service.args", func(v *yaml.Node) { s.Args = append(s.Args, d.str(v, "service.args")) })
		},
		"working_dir": func(v *yaml.Node) { s.WorkingDir = d.str(v, "service.working_dir") },
		"ports": func(v *yaml.Node) {
			d.list(v, "service.ports", func(v *yaml.Node) {
				p, ok := d.integer(v, "service.ports")
				switch {
				case !ok:
				case p < 1 || p > 65535:
					d.errorf(d.pos(v), "service.ports: port %d is outside 1-65535", p)
				case slices.Contains(s.Ports, p):
					d.errorf(d.pos(v), "service.ports: port %d is listed twice", p)
				}
				s.Ports = append(s.Ports, p)
			})
		},
		"health_check": func(v *yaml.Node) { s.HealthCheck = d.healthCheck(v, "service.health_check") },
	})
}

// environment decodes a mapping of variable names to values.
func (d *decoder) environment(n *yaml.Node) map[string]string {
	env := map[string]string{}
	d.each(n, "environment", func(k, v *yaml.Node) {
		if !envName.MatchString(k.Value) {
			d.errorf(d.pos(k), "environment: %q is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", k.Value)
		}
		env[k.Value] = d.str(v, "environment."+k.Value)
	})
	if len(env) == 0 {
		return nil
	}
	return env
}

// relPath checks a path of the manifest that names something inside the package, and returns
// it clean ("./bin/x" is "bin/x").
func (d *decoder) relPath(at config.Pos, what, p string) string {
	switch {
	case strings.HasPrefix(p, "/"):
		d.errorf(at, "%s %q: want a path relative to the package, such as bin/NAME", what, p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		d.errorf(at, "%s %q: \"..\" is not allowed: the path must stay inside the package", what, p)
	case strings.ContainsRune(p, 0):
		d.errorf(at, "%s %q: a path cannot hold a NUL byte", what, p)
	default:
		return path.Clean(p)
	}
	return p
}

// checkKinds are the keys of a health check that each make it one kind of check.
var checkKinds = []string{string(config.CheckExec), string(config.CheckHTTP), string(config.CheckTCP), string(config.CheckGRPC), string(config.CheckLogLine)}

// healthCheck decodes a health check of the services.yaml shape and checks it as
// services.yaml does: one kind, ports in range, an http(s) URL, a status or class, a valid
// regular expression, counts of at least 1.
func (d *decoder) healthCheck(n *yaml.Node, what string) *config.HealthCheck {
	h := &config.HealthCheck{}
	in := func(key string) string { return what + "." + key }
	port := func(v *yaml.Node, key string) int {
		p, ok := d.integer(v, in(key))
		if ok && (p < 1 || p > 65535) {
			d.errorf(d.pos(v), "%s: port %d is outside 1-65535", in(key), p)
		}
		return p
	}
	endpoint := func(v *yaml.Node, key string, host *string, extra map[string]func(*yaml.Node)) int {
		if v = d.node(v); v == nil {
			return 0
		}
		if v.Kind == yaml.ScalarNode {
			return port(v, key)
		}
		var p int
		keys := map[string]func(*yaml.Node){
			"host": func(v *yaml.Node) { *host = d.str(v, in(key+".host")) },
			"port": func(v *yaml.Node) { p = port(v, key+".port") },
		}
		for k, fn := range extra {
			keys[k] = fn
		}
		if _, ok := d.mapping(v, in(key), keys)["port"]; !ok && v.Kind == yaml.MappingNode {
			d.errorf(d.pos(v), "%s: port is missing", in(key))
		}
		return p
	}
	f := d.mapping(n, what, map[string]func(*yaml.Node){
		"command": func(v *yaml.Node) {
			ws := d.words(v, in("command"))
			if len(ws) > 0 {
				h.Command = config.Literal(ws[0])
				h.Args = append(literals(ws[1:]), h.Args...)
			}
		},
		"args": func(v *yaml.Node) {
			d.list(v, in("args"), func(v *yaml.Node) { h.Args = append(h.Args, config.Literal(d.str(v, in("args")))) })
		},
		"http": func(v *yaml.Node) { h.HTTP = d.httpCheck(v, in("http")) },
		"tcp": func(v *yaml.Node) {
			h.TCP = &config.TCPCheck{}
			h.TCP.Port = endpoint(v, "tcp", &h.TCP.Host, nil)
		},
		"grpc": func(v *yaml.Node) {
			h.GRPC = &config.GRPCCheck{}
			h.GRPC.Port = endpoint(v, "grpc", &h.GRPC.Host, map[string]func(*yaml.Node){
				"service": func(v *yaml.Node) { h.GRPC.Service = d.str(v, in("grpc.service")) },
			})
		},
		"log_line": func(v *yaml.Node) {
			h.LogLine = d.str(v, in("log_line"))
			if _, err := regexp.Compile(h.LogLine); err != nil {
				d.errorf(d.pos(v), "%s: %v", in("log_line"), err)
			}
		},
		"interval":       func(v *yaml.Node) { h.Interval = d.duration(v, in("interval"), false) },
		"timeout":        func(v *yaml.Node) { h.Timeout = d.duration(v, in("timeout"), false) },
		"start_period":   func(v *yaml.Node) { h.StartPeriod = d.duration(v, in("start_period"), true) },
		"start_interval": func(v *yaml.Node) { h.StartInterval = d.duration(v, in("start_interval"), false) },
		"retries":        func(v *yaml.Node) { h.Retries = d.count(v, in("retries")) },
		"success_threshold": func(v *yaml.Node) {
			h.SuccessThreshold = d.count(v, in("success_threshold"))
		},
	})
	if n = d.node(n); n == nil || n.Kind != yaml.MappingNode {
		return h
	}
	var kinds []string
	for _, k := range checkKinds {
		if _, ok := f[k]; ok {
			kinds = append(kinds, k)
		}
	}
	switch {
	case len(kinds) == 0:
		d.errorf(d.pos(n), "%s: no check; want one of %s", what, strings.Join(checkKinds, ", "))
	case len(kinds) > 1:
		d.errorf(f[kinds[1]], "%s: one check per service, got %s", what, strings.Join(kinds, " and "))
	case h.Kind() == "" && (kinds[0] == string(config.CheckExec) || kinds[0] == string(config.CheckLogLine)):
		d.errorf(f[kinds[0]], "%s: %s is empty", what, kinds[0])
	}
	if p, ok := f["args"]; ok && h.Command.IsZero() {
		d.errorf(p, "%s: args needs command", what)
	}
	return h
}

// httpCheck decodes a URL or {url, method, headers, expected_status, body_contains}.
func (d *decoder) httpCheck(n *yaml.Node, what string) *config.HTTPCheck {
	c := &config.HTTPCheck{}
	if n = d.node(n); n == nil {
		return c
	}
	var raw string
	urlAt, written := d.pos(n), true
	if n.Kind == yaml.ScalarNode {
		raw = d.str(n, what)
	} else {
		f := d.mapping(n, what, map[string]func(*yaml.Node){
			"url":    func(v *yaml.Node) { raw = d.str(v, what+".url") },
			"method": func(v *yaml.Node) { c.Method = strings.ToUpper(d.str(v, what+".method")) },
			"headers": func(v *yaml.Node) {
				c.Headers = map[string]config.Template{}
				d.each(v, what+".headers", func(k, v *yaml.Node) {
					c.Headers[k.Value] = config.Literal(d.str(v, what+".headers."+k.Value))
				})
			},
			"expected_status": func(v *yaml.Node) {
				c.ExpectedStatus = strings.ToLower(d.str(v, what+".expected_status"))
				if !httpStatus.MatchString(c.ExpectedStatus) {
					d.errorf(d.pos(v), "%s.expected_status %q: want a status such as 200 or a class such as 2xx", what, c.ExpectedStatus)
				}
			},
			"body_contains": func(v *yaml.Node) { c.BodyContains = d.str(v, what+".body_contains") },
		})
		if urlAt, written = f["url"]; !written && n.Kind == yaml.MappingNode {
			d.errorf(d.pos(n), "%s: url is missing", what)
		}
	}
	c.URL = config.Literal(raw)
	if written {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf(urlAt, "%s: want an http:// or https:// URL, got %q", what, raw)
		}
	}
	return c
}

func literals(ss []string) []config.Template {
	out := make([]config.Template, len(ss))
	for i, s := range ss {
		out[i] = config.Literal(s)
	}
	return out
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sortDiagnostics orders diagnostics by file, line and column; ties keep discovery order.
func sortDiagnostics(ds config.Diagnostics) {
	slices.SortStableFunc(ds, func(a, b config.Diagnostic) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
}

// describe names what a value of the manifest is, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}
