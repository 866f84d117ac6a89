package health

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/graph-network-harness/harness/config"
)

// CheckEnv is what FromConfig needs of the place a service runs.
type CheckEnv struct {
	// Host is the service's own address as the prober sees it (127.0.0.1 for a local
	// process, the container's address for a container); tcp and grpc checks without a host
	// use it.
	Host string
	// Render renders a Template (service references resolved for this service). Nil renders
	// templates that hold no reference and reports those that do.
	Render func(config.Template) (string, error)
	// Execer runs command checks; required for them.
	Execer Execer
	// Lines is the service's output; required for log_line checks.
	Lines LineSource
	// Dial opens the connections of http, tcp and grpc checks; nil: directly from here. A
	// service on a remote host is checked from that host through it.
	Dial DialFunc
}

// render renders t with env.Render, or, without one, as a literal.
func (env CheckEnv) render(t config.Template) (string, error) {
	if env.Render != nil {
		return env.Render(t)
	}
	return t.Render(func(r config.Ref) (string, error) {
		return "", errors.New("no renderer for service references")
	})
}

// FromConfig returns the Checker for a configured check. The error names the kind and the
// cause: a template that does not render, an invalid URL or regular expression, a part of env
// the kind needs but that is nil or empty.
func FromConfig(h *config.HealthCheck, env CheckEnv) (Checker, error) {
	if h == nil {
		return nil, errors.New("health check: none configured")
	}
	kind := h.Kind()
	if kind == "" {
		return nil, errors.New("health check: no kind set")
	}
	c, err := fromConfig(h, kind, env)
	if err != nil {
		return nil, fmt.Errorf("%s health check: %w", kind, err)
	}
	return c, nil
}

func fromConfig(h *config.HealthCheck, kind config.CheckKind, env CheckEnv) (Checker, error) {
	switch kind {
	case config.CheckExec:
		if env.Execer == nil {
			return nil, errors.New("no execer")
		}
		argv := make([]string, 0, 1+len(h.Args))
		for _, t := range append([]config.Template{h.Command}, h.Args...) {
			s, err := env.render(t)
			if err != nil {
				return nil, err
			}
			argv = append(argv, s)
		}
		return Exec(env.Execer, argv), nil
	case config.CheckHTTP:
		u, err := env.render(h.HTTP.URL)
		if err != nil {
			return nil, err
		}
		var headers map[string]string
		for name, t := range h.HTTP.Headers {
			v, err := env.render(t)
			if err != nil {
				return nil, fmt.Errorf("header %s: %w", name, err)
			}
			if headers == nil {
				headers = make(map[string]string, len(h.HTTP.Headers))
			}
			headers[name] = v
		}
		u = ownView(u, env.Host)
		o := HTTPOptions{
			URL: u, Method: h.HTTP.Method, Headers: headers,
			ExpectedStatus: h.HTTP.ExpectedStatus, BodyContains: h.HTTP.BodyContains,
		}
		if env.Dial != nil {
			o.Client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: env.Dial}}
		}
		c, err := newHTTP(o)
		if err != nil {
			return nil, err
		}
		return c, nil
	case config.CheckTCP:
		addr, err := address(h.TCP.Host, h.TCP.Port, env)
		if err != nil {
			return nil, err
		}
		return TCP(addr, env.Dial), nil
	case config.CheckGRPC:
		addr, err := address(h.GRPC.Host, h.GRPC.Port, env)
		if err != nil {
			return nil, err
		}
		return GRPC(addr, h.GRPC.Service, env.Dial), nil
	case config.CheckLogLine:
		if env.Lines == nil {
			return nil, errors.New("no line source")
		}
		re, err := regexp.Compile(h.LogLine)
		if err != nil {
			return nil, err
		}
		return LogLine(env.Lines, re), nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// address is host:port, host defaulting to the service's own address; a loopback host is the
// service's own address too (see isLoopback).
func address(host string, port int, env CheckEnv) (string, error) {
	if host == "" || isLoopback(host) {
		host = env.Host
	}
	if host == "" {
		return "", errors.New("no host: the check names none and the service's address is unknown")
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// isLoopback reports whether host names loopback: in a check, "localhost" and "127.0.0.1"
// mean the service's own network view (services-yaml.md), which for a container is the
// container, reached at its address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// ownView points a URL whose host is loopback at the service's own address.
func ownView(rawURL, host string) string {
	u, err := url.Parse(rawURL)
	if err != nil || host == "" || !isLoopback(u.Hostname()) {
		return rawURL // newHTTP reports a bad URL
	}
	if port := u.Port(); port != "" {
		u.Host = net.JoinHostPort(host, port)
	} else {
		u.Host = host
		if strings.Contains(host, ":") {
			u.Host = "[" + host + "]"
		}
	}
	return u.String()
}
