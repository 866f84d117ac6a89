package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/graph-network-harness/harness/api"
)

// ErrUnreachable means that no daemon answers on the data dir's socket. Errors wrap it with
// the dial error, which names the socket and the real cause ("dial unix DATA/harness.sock:
// connect: no such file or directory").
var ErrUnreachable = errors.New("daemon unreachable")

// maxErrorBytes bounds how much of an error response is read.
const maxErrorBytes = 1 << 20

// Client talks to the daemon of one data dir. It is safe for concurrent use. It keeps no
// connection open between requests, so it needs no Close.
type Client struct {
	socket string // or HOST:PORT for NewTLS
	base   string // the scheme and placeholder host of every request URL
	http   *http.Client
}

// New returns a client of the daemon whose data dir is dataDir (socket dataDir/api.SocketName).
func New(dataDir string) *Client {
	socket := filepath.Join(dataDir, api.SocketName)
	return &Client{
		socket: socket,
		base:   "http://harness",
		http: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				conn, err := d.DialContext(ctx, "unix", socket)
				if err != nil {
					return nil, &dialError{err}
				}
				return conn, nil
			},
			// A connection per request: a CLI makes a few requests, and an idle connection
			// would outlive them as a goroutine of this process.
			DisableKeepAlives: true,
		}},
	}
}

// Socket returns the path of the daemon's socket.
func (c *Client) Socket() string { return c.socket }

// Start starts services and their dependencies and waits until they are ready (unless
// req.NoWait). Services that fail are in the response, not an error.
func (c *Client) Start(ctx context.Context, req api.StartRequest) (api.StartResponse, error) {
	var resp api.StartResponse
	return resp, c.do(ctx, "start", http.MethodPost, api.PathStart, req, &resp)
}

// Stop stops services and the running services that depend on them.
func (c *Client) Stop(ctx context.Context, req api.StopRequest) (api.StopResponse, error) {
	var resp api.StopResponse
	return resp, c.do(ctx, "stop", http.MethodPost, api.PathStop, req, &resp)
}

// Status returns the state of a stack's services.
func (c *Client) Status(ctx context.Context, req api.StatusRequest) (api.Status, error) {
	var resp api.Status
	return resp, c.do(ctx, "status", http.MethodPost, api.PathStatus, req, &resp)
}

// StatusJSON is Status as the daemon wrote it (an api.Status in JSON), for a caller that only
// passes it on: decoding and encoding a thousand rows again costs more than the request.
func (c *Client) StatusJSON(ctx context.Context, req api.StatusRequest) (json.RawMessage, error) {
	var resp json.RawMessage
	return resp, c.do(ctx, "status", http.MethodPost, api.PathStatus, req, &resp)
}

// Exec runs req.Command where req.Service runs and waits for it to end. A command that ends
// with a non-zero exit code is a response (ExitCode), not an error; a service that does not
// run is an error (api.ErrConflict).
func (c *Client) Exec(ctx context.Context, req api.ExecRequest) (api.ExecResponse, error) {
	var resp api.ExecResponse
	return resp, c.do(ctx, "exec", http.MethodPost, api.PathExec, req, &resp)
}

// Hosts contacts the remote nodes of a stack (all when req.Nodes is empty) and returns what
// each answered; an unreachable node is in the response, not an error.
func (c *Client) Hosts(ctx context.Context, req api.HostsRequest) (api.HostsResponse, error) {
	var resp api.HostsResponse
	return resp, c.do(ctx, "hosts", http.MethodPost, api.PathHosts, req, &resp)
}

// Deploy deploys a release of a package service and waits until it is ready or rolled
// back; a deploy that failed is a response (Outcome, Error), not an error.
func (c *Client) Deploy(ctx context.Context, req api.DeployRequest) (api.DeployResponse, error) {
	var resp api.DeployResponse
	return resp, c.do(ctx, "deploy", http.MethodPost, api.PathDeploy, req, &resp)
}

// Releases lists the releases of a package service on its node, and its deploy history.
func (c *Client) Releases(ctx context.Context, req api.ReleasesRequest) (api.ReleasesResponse, error) {
	var resp api.ReleasesResponse
	return resp, c.do(ctx, "releases", http.MethodPost, api.PathReleases, req, &resp)
}

// RotateKeys gives every member of the stack's WireGuard meshes a new private key (made on its
// node) and reconfigures the meshes that are up with them.
func (c *Client) RotateKeys(ctx context.Context, req api.NetworkRequest) (api.RotateKeysResponse, error) {
	var resp api.RotateKeysResponse
	return resp, c.do(ctx, "rotate-keys", http.MethodPost, api.PathRotateKeys, req, &resp)
}

// Network reads the nodes of a stack: their interfaces, which reach which, and where every
// service is reached from each.
func (c *Client) Network(ctx context.Context, req api.NetworkRequest) (api.NetworkResponse, error) {
	var resp api.NetworkResponse
	return resp, c.do(ctx, "network", http.MethodPost, api.PathNetwork, req, &resp)
}

// Trust returns the host key a node offers; with req.Fingerprint it records that key in the
// stack's known_hosts file, if the node still offers it (api.ErrConflict otherwise).
func (c *Client) Trust(ctx context.Context, req api.TrustRequest) (api.TrustResponse, error) {
	var resp api.TrustResponse
	return resp, c.do(ctx, "hosts trust", http.MethodPost, api.PathTrust, req, &resp)
}

// Health runs the health checks of services once, now, and returns each result. An unhealthy
// service is in the response, not an error.
func (c *Client) Health(ctx context.Context, req api.HealthRequest) (api.HealthResponse, error) {
	var resp api.HealthResponse
	return resp, c.do(ctx, "health", http.MethodPost, api.PathHealth, req, &resp)
}

// Daemon describes the daemon; it is how a caller learns whether one runs. A daemon that is
// going away (killed, its threads still ending) may accept a connection and drop it unanswered:
// Daemon then asks again, every 10 ms for up to 2 s, until a daemon answers or none is there
// any more (ErrUnreachable).
func (c *Client) Daemon(ctx context.Context) (api.Daemon, error) {
	var resp api.Daemon
	err := c.do(ctx, "daemon", http.MethodGet, api.PathDaemon, nil, &resp)
	for deadline := time.Now().Add(goneWait); dropped(err) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return resp, fmt.Errorf("daemon: %w", ctx.Err())
		case <-time.After(goneEvery):
		}
		err = c.do(ctx, "daemon", http.MethodGet, api.PathDaemon, nil, &resp)
	}
	return resp, err
}

// How long, and how often, Daemon asks again a daemon that drops its connections.
const (
	goneWait  = 2 * time.Second
	goneEvery = 10 * time.Millisecond
)

// dropped reports whether err is a connection that the server ended without an answer.
func dropped(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Shutdown asks the daemon to end supervision (services keep running) and returns its
// description. The daemon stops after answering: it may still answer for a moment.
func (c *Client) Shutdown(ctx context.Context) (api.Daemon, error) {
	var resp api.Daemon
	return resp, c.do(ctx, "shutdown", http.MethodPost, api.PathShutdown, nil, &resp)
}

// do sends in (nil: no body) to path and decodes a 200's body into out. Every error is wrapped
// once with op.
func (c *Client) do(ctx context.Context, op, method, path string, in, out any) error {
	resp, err := c.send(ctx, op, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return c.transportError(ctx, op, fmt.Errorf("decode response: %w", err))
	}
	return nil
}

// send sends the request and returns a 200 response; any other status becomes the *api.Error
// of its body.
func (c *Client) send(ctx context.Context, op, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	// The host is a placeholder: DialContext always dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, op, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", op, responseError(resp))
	}
	return resp, nil
}

// transportError wraps an error of the connection with op: the context's own error when it
// ended, ErrUnreachable with the dial error when the socket does not answer, else err without
// net/http's `Post "http://harness/v1/…":` prefix.
func (c *Client) transportError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	var de *dialError
	if errors.As(err, &de) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnreachable, de.err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// responseError reads the api.Error of an error response. A body that is not one (a proxy, a
// crash mid-answer) becomes a CodeInternal error that shows the status and the body.
func responseError(resp *http.Response) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var e api.Error
	if err == nil && json.Unmarshal(b, &e) == nil && e.Code != "" {
		return &e
	}
	msg := fmt.Sprintf("unexpected response %s", resp.Status)
	if text := strings.TrimSpace(string(b)); text != "" {
		msg += ": " + text
	}
	if err != nil {
		msg += fmt.Sprintf(" (read body: %v)", err)
	}
	return &api.Error{Code: api.CodeInternal, Message: msg}
}

// dialError marks an error of dialing the socket: the daemon is unreachable.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }

func (e *dialError) Unwrap() error { return e.err }
