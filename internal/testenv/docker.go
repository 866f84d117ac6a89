package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// defaultDockerHost is where Debian's dockerd listens when DOCKER_HOST is unset.
const defaultDockerHost = "unix:///var/run/docker.sock"

// Docker returns the host of a Docker engine that answers, in DOCKER_HOST form
// ("unix:///var/run/docker.sock"), ready for the engine API client. It uses DOCKER_HOST when
// set, else the default socket, and stops the test when no engine answers there.
func Docker(t testing.TB) string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = defaultDockerHost
	}
	socket, err := dockerSocket(host)
	if err != nil {
		missing(t, "docker engine: %v", err)
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pingDocker(ctx, socket); err != nil {
		missing(t, "no docker engine answers at %s: %v", host, err)
		return ""
	}
	return host
}

// dockerSocket returns the socket path of a unix:// Docker host. Other schemes are refused:
// tests talk only to an engine on this machine.
func dockerSocket(host string) (string, error) {
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok || path == "" {
		return "", fmt.Errorf("DOCKER_HOST=%q: only unix:// sockets are supported in tests", host)
	}
	return path, nil
}

// dockerHTTPClient returns an HTTP client whose every request goes to the unix socket, whatever
// the host in the URL.
func dockerHTTPClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
}

// dockerGet sends GET path to the engine at socket and returns the body of a 200 answer.
func dockerGet(ctx context.Context, socket, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := dockerHTTPClient(socket).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// pingDocker checks that the engine at socket answers GET /_ping with OK.
func pingDocker(ctx context.Context, socket string) error {
	body, err := dockerGet(ctx, socket, "/_ping")
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(string(body)); got != "OK" {
		return fmt.Errorf("GET /_ping: answer %q, want OK", got)
	}
	return nil
}
