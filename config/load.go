package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SupportedVersions are the values of the top-level version key this package reads.
var SupportedVersions = []string{"1.0"}

// Options control how a file is read.
type Options struct {
	// Lookup returns the variables that ${VAR} reads; nil means the environment of this
	// process. A daemon passes the environment of the command that asked for the load.
	Lookup Lookup
	// Strict makes unset variables without a default errors instead of warnings.
	Strict bool
}

// Load reads, interpolates, normalizes and validates the services file at path. Variables
// come from opts.Lookup, then from a .env file beside path. On a file with errors it returns
// an *Error holding every diagnostic, and the partly read stack, good for a summary only.
func Load(path string, opts Options) (*Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse is Load for a file already in memory; path names it in diagnostics and anchors
// relative paths.
func Parse(path string, data []byte, opts Options) (*Stack, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c := &collector{strict: opts.Strict}
	lookup := opts.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	lookup = withDotenv(filepath.Join(filepath.Dir(abs), ".env"), filepath.Join(filepath.Dir(path), ".env"), lookup, c)
	d := &decoder{file: path, c: c, x: &expander{lookup: lookup, c: c}, budget: maxNodes}
	s := &Stack{File: abs, Dir: filepath.Dir(abs), pos: fields{".": {File: path}}}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p, msg := YAMLError(path, err)
		c.errorf(p, "%s", msg)
	} else if len(doc.Content) == 0 {
		c.errorf(Pos{File: path, Line: 1, Col: 1}, "the file is empty; want at least version and services")
	} else {
		d.stack(doc.Content[0], s)
		d.envFiles(s)
		s.normalize()
		s.validate(c)
	}
	c.diags.sort()
	c.diags = slices.Compact(c.diags) // a value reached through several aliases is reported once
	if len(c.diags.Errors()) > 0 {
		return s, &Error{Diagnostics: c.diags}
	}
	s.Warnings = c.diags
	return s, nil
}

// withDotenv returns a lookup that falls back to the .env file at path when it exists.
func withDotenv(path, display string, lookup Lookup, c *collector) Lookup {
	env, err := readDotenv(path, display, c, lookup)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.errorf(Pos{File: display}, "read .env: %v", err)
		}
		return lookup
	}
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok {
			return v, true
		}
		if v, ok := env.Lookup(name); ok {
			s, _ := v.literal()
			return s, true
		}
		return "", false
	}
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlParserProblems are the errors of the YAML parser (as opposed to its scanner). yaml.v3
// numbers their lines from 0 while it numbers scanner errors from 1, so they need one more.
var yamlParserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found duplicate %TAG directive",
	"found incompatible YAML document",
}

// YAMLError finds the line a YAML syntax error of yaml.v3 names (the parser gives no column)
// in the file at path, and returns the message without the "yaml: line N:" prefix that the
// position already carries.
func YAMLError(path string, err error) (Pos, string) {
	p := Pos{File: path, Line: 1, Col: 1}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
		p.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		if m[0] == 0 {
			msg = strings.TrimPrefix(msg[m[1]:], ": ")
			if slices.Contains(yamlParserProblems, msg) {
				p.Line++
			}
		}
		p.Line = max(p.Line, 1)
	}
	return p, msg
}

// stack decodes the top level.
func (d *decoder) stack(n *yaml.Node, s *Stack) {
	var versionSeen bool
	top := d.mapping(n, "top level", handlers{
		"version": func(v *yaml.Node) {
			versionSeen = true
			s.Version = d.str(v, "version")
		},
		"name":        func(v *yaml.Node) { s.Name = d.str(v, "name") },
		"description": func(v *yaml.Node) { s.Description = d.str(v, "description") },
		"settings":    func(v *yaml.Node) { d.settings(v, &s.Settings) },
		"networks": func(v *yaml.Node) {
			d.each(v, "networks", func(k, v *yaml.Node) { s.Networks = append(s.Networks, d.network(k, v)) })
		},
		"services": func(v *yaml.Node) {
			d.each(v, "services", func(k, v *yaml.Node) { s.Services = append(s.Services, d.service(k, v)) })
		},
	})
	top["."] = d.pos(n)
	s.pos = top
	if isNull(n) { // "~" or a lone "---": mapping reports nothing for a null
		d.c.errorf(Pos{File: d.file, Line: 1, Col: 1}, "the file is empty; want at least version and services")
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	if !versionSeen {
		d.c.errorf(top["."], "version is missing; want version: %q", SupportedVersions[0])
	}
	if !top.has("services") {
		d.c.errorf(top["."], "services is missing (it may be empty: services: {})")
	}
}

func (d *decoder) settings(n *yaml.Node, st *Settings) {
	st.pos = d.mapping(n, "settings", handlers{
		"log_level":             func(v *yaml.Node) { st.LogLevel = d.str(v, "settings.log_level") },
		"health_check_interval": func(v *yaml.Node) { st.HealthCheckInterval = d.duration(v, "settings.health_check_interval", false) },
		"startup_timeout":       func(v *yaml.Node) { st.StartupTimeout = d.duration(v, "settings.startup_timeout", false) },
		"shutdown_timeout":      func(v *yaml.Node) { st.ShutdownTimeout = d.duration(v, "settings.shutdown_timeout", false) },
		"parallelism":           func(v *yaml.Node) { st.Parallelism, _ = d.integer(v, "settings.parallelism") },
		"known_hosts":           func(v *yaml.Node) { st.KnownHosts = d.str(v, "settings.known_hosts") },
	})
}

func (d *decoder) network(k, n *yaml.Node) *Network {
	nw := &Network{Name: k.Value}
	what := fmt.Sprintf("network %q", nw.Name)
	nw.pos = d.mapping(n, what, handlers{
		"type":             func(v *yaml.Node) { nw.Type = NetworkType(d.str(v, what+": type")) },
		"subnet":           func(v *yaml.Node) { nw.Subnet = d.prefix(v, what+": subnet") },
		"container_subnet": func(v *yaml.Node) { nw.ContainerSubnet = d.prefix(v, what+": container_subnet") },
		"listen_port":      func(v *yaml.Node) { nw.ListenPort, _ = d.integer(v, what+": listen_port") },
		"interface":        func(v *yaml.Node) { nw.Interface = d.str(v, what+": interface") },
		"nodes": func(v *yaml.Node) {
			d.list(v, what+": nodes", func(v *yaml.Node) { nw.Nodes = append(nw.Nodes, d.nodeOf(v, nw)) })
		},
	})
	nw.pos["."] = d.pos(k)
	return nw
}

func (d *decoder) nodeOf(n *yaml.Node, nw *Network) *Node {
	nd := &Node{Network: nw.Name}
	what := fmt.Sprintf("network %q: node", nw.Name)
	nd.pos = d.mapping(n, what, handlers{
		"name":     func(v *yaml.Node) { nd.Name = d.str(v, what+" name") },
		"host":     func(v *yaml.Node) { nd.Host = d.str(v, what+" host") },
		"ssh_user": func(v *yaml.Node) { nd.SSHUser = d.str(v, what+" ssh_user") },
		"ssh_port": func(v *yaml.Node) { nd.SSHPort, _ = d.integer(v, what+" ssh_port") },
		"ssh_key":  func(v *yaml.Node) { nd.SSHKey = d.str(v, what+" ssh_key") },
		"endpoint": func(v *yaml.Node) { nd.Endpoint = d.str(v, what+" endpoint") },
	})
	if n = d.node(n); n != nil {
		nd.pos["."] = d.pos(n)
	}
	return nd
}

// envFiles reads each service's env_file entries, relative to the stack's directory, under
// its env: a variable of env wins over the same one of a file, a later file over an earlier.
func (d *decoder) envFiles(s *Stack) {
	for _, svc := range s.Services {
		var env Env
		for i, name := range svc.EnvFile {
			path, display := name, name
			if !filepath.IsAbs(path) {
				path, display = filepath.Join(s.Dir, name), filepath.Join(filepath.Dir(d.file), name)
			}
			vars, err := readDotenv(path, display, d.c, d.x.lookup)
			if err != nil {
				at := svc.pos.at("env_file", svc.pos.self())
				if i < len(svc.envFilePos) {
					at = svc.envFilePos[i]
				}
				d.c.errorf(at, "service %q: env_file: %v", svc.Name, err)
				continue
			}
			for _, v := range vars {
				env = env.With(v.Name, v.Value)
			}
		}
		for _, v := range svc.Env {
			env = env.With(v.Name, v.Value)
		}
		svc.Env = env
	}
}
