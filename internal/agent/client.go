package agent

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
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/graph-network-harness/harness/internal/deploy"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/network/wireguard"
	"github.com/graph-network-harness/harness/target"
)

// agentNode is the node name in the handles of the agent's own targets: to the agent, its
// host is local. The client shows them under the name the controller knows the host by.
const agentNode = "local"

// Client talks to one agent through ClientOptions.Dial, which opens a new connection to the
// agent's socket (over SSH: a direct-streamlocal channel). It is safe for concurrent use;
// each request in flight has a connection of its own, and idle ones are reused.
type Client struct {
	node string
	http *http.Client
	opts ClientOptions
}

// ClientOptions are how a Client reaches the agent and its node.
type ClientOptions struct {
	// Dial opens a connection to the agent's socket. Required.
	Dial func(ctx context.Context) (net.Conn, error)
	// DialNode connects to an address as the node sees it (over SSH: a direct-tcpip
	// channel): the targets' DialContext, with which health checks reach the node's
	// services. nil: dial from here.
	DialNode func(ctx context.Context, network, address string) (net.Conn, error)
	// Ping is the targets' Ping: nil when the node answers, else an error wrapping
	// target.ErrUnreachable. nil: the node is this host, always reachable.
	Ping func(ctx context.Context) error
}

// NewClient returns a client of the agent on node.
func NewClient(node string, opts ClientOptions) *Client {
	tr := &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return opts.Dial(ctx) },
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		// Uploads go through an SSH channel: large writes make large SSH packets, where the
		// default 4 KB buffer makes many small ones that the node's sshd copies and frames.
		WriteBufferSize: 256 << 10,
	}
	if opts.DialNode == nil {
		var d net.Dialer
		opts.DialNode = d.DialContext
	}
	if opts.Ping == nil {
		opts.Ping = func(context.Context) error { return nil }
	}
	return &Client{node: node, http: &http.Client{Transport: tr}, opts: opts}
}

// Close closes the idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Info asks the agent who it is.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	err := c.call(ctx, "info", struct{}{}, &info)
	return info, err
}

// Interfaces reads the network interfaces of the agent's node, and their addresses.
func (c *Client) Interfaces(ctx context.Context) ([]network.Interface, error) {
	var ifs []network.Interface
	err := c.call(ctx, "interfaces", struct{}{}, &ifs)
	return ifs, err
}

// Target returns the agent's target name ("process", "docker") as a target.Target whose
// handles name this client's node.
func (c *Client) Target(name string) target.Target { return &remoteTarget{c: c, name: name} }

// ServiceLogs opens the agent's log of a service (see logfile.NewReader for the form).
func (c *Client) ServiceLogs(ctx context.Context, stack, service string, opts target.LogOptions) (io.ReadCloser, error) {
	return c.post(ctx, "service-logs", serviceLogsRequest{Stack: stack, Service: service, Logs: opts})
}

// Put writes body to the file at path on the agent's node (absolute, or "~/" for its user's
// home) with mode: whole or not at all. A non-empty sum (hex SHA-256) is checked before the
// file takes its name.
func (c *Client) Put(ctx context.Context, path string, mode os.FileMode, body io.Reader, sum string) (PutResult, error) {
	q := url.Values{"path": {path}, "mode": {strconv.FormatUint(uint64(mode.Perm()), 8)}}
	if sum != "" {
		q.Set("sha256", sum)
	}
	rc, err := c.send(ctx, "put?"+q.Encode(), "application/octet-stream", body, false)
	if err != nil {
		return PutResult{}, err
	}
	defer rc.Close()
	var res PutResult
	if err := json.NewDecoder(rc).Decode(&res); err != nil {
		return PutResult{}, fmt.Errorf("agent on %s: put: %w", c.node, err)
	}
	return res, nil
}

// call posts req to /v1/op and decodes the answer into resp.
func (c *Client) call(ctx context.Context, op string, req, resp any) error {
	body, err := c.post(ctx, op, req)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(resp); err != nil {
		return fmt.Errorf("agent on %s: %s: %w", c.node, op, err)
	}
	return nil
}

// post posts req to /v1/op and returns the answer's body, which the caller closes; an error
// answer is a *remoteError.
func (c *Client) post(ctx context.Context, op string, req any) (io.ReadCloser, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, op, "application/json", bytes.NewReader(b), idempotent[op])
}

// send posts body to /v1/op (op may carry a query) and returns the answer's body, which the
// caller closes; an error answer is a *remoteError.
func (c *Client) send(ctx context.Context, op, contentType string, body io.Reader, retry bool) (io.ReadCloser, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent/v1/"+op, body)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", contentType)
	if retry {
		// net/http then sends the request again on a new connection when a kept-alive one
		// turns out dead (the agent was restarted): the new connection starts the agent.
		hr.Header.Set("Idempotency-Key", "1")
	}
	res, err := c.http.Do(hr)
	// An agent that is going away (killed, being replaced) may accept a connection and drop
	// it unanswered (a failed dial is no drop: it is ErrUnreachable): while the node itself
	// answers, an operation that changes nothing is sent again until the next dial finds
	// the agent gone, and starts another, or one answers. A node that does not answer (its
	// connection was closed for it) fails the operation as before.
	resend := func() bool {
		return retry && hr.GetBody != nil && dropped(err) && !errors.Is(err, target.ErrUnreachable) && ctx.Err() == nil
	}
	for deadline := time.Now().Add(resendWait); resend() && time.Now().Before(deadline); {
		time.Sleep(resendEvery)
		if c.opts.Ping(ctx) != nil {
			break
		}
		if hr.Body, err = hr.GetBody(); err != nil {
			return nil, err
		}
		res, err = c.http.Do(hr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, target.ErrUnreachable) {
			err = fmt.Errorf("%w: %w", target.ErrUnreachable, err)
		}
		return nil, fmt.Errorf("agent on %s: %w", c.node, err)
	}
	if res.StatusCode/100 == 2 {
		return res.Body, nil
	}
	defer res.Body.Close()
	var e wireError
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&e); err != nil || e.Message == "" {
		return nil, fmt.Errorf("agent on %s: %s: %s", c.node, op, res.Status)
	}
	return nil, &remoteError{node: c.node, msg: e.Message, kind: kinds[e.Kind]}
}

// How long, and how often, send sends again an operation whose connection was dropped.
const (
	resendWait  = 2 * time.Second
	resendEvery = 10 * time.Millisecond
)

// dropped reports whether err is a connection that the agent ended without an answer.
func dropped(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// idempotent are the operations that may be sent twice: they change nothing.
var idempotent = map[string]bool{
	"info": true, "interfaces": true, "inspect": true, "wait": true, "logs": true, "service-logs": true,
	"ensure-network": true, "remove-stack": true, "context-stat": true,
	"releases": true, "release-activate": true,
	"wireguard-key": true, "wireguard-up": true, "wireguard-show": true, "wireguard-down": true,
}

// remoteError is an error the agent answered: its message as the agent wrote it, and the
// target sentinel it wrapped there.
type remoteError struct {
	node, msg string
	kind      error
}

func (e *remoteError) Error() string { return "on " + e.node + ": " + e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// remoteTarget is a target of the agent.
type remoteTarget struct {
	c    *Client
	name string
}

var (
	_ target.Target    = (*remoteTarget)(nil)
	_ target.Execer    = (*remoteTarget)(nil)
	_ target.Signaler  = (*remoteTarget)(nil)
	_ target.Dialer    = (*remoteTarget)(nil)
	_ target.Pinger    = (*remoteTarget)(nil)
	_ target.Networker = (*remoteTarget)(nil)
	_ deploy.Node      = (*remoteTarget)(nil)
	_ wireguard.Node   = (*remoteTarget)(nil)
)

// WireguardKey is the public key of the node's interface name, a new one with rotate.
func (t *remoteTarget) WireguardKey(ctx context.Context, name string, rotate bool) (wireguard.Key, error) {
	var k wireguardKey
	err := t.c.call(ctx, "wireguard-key", wireguardRequest{Name: name, Rotate: rotate}, &k)
	return k.PublicKey, err
}

// WireguardUp makes the node's interface what ifc says, and reports whether it started its
// device. A failure after the start is answered as a success with Error.
func (t *remoteTarget) WireguardUp(ctx context.Context, ifc wireguard.Interface) (bool, error) {
	var resp wireguardUp
	if err := t.c.call(ctx, "wireguard-up", wireguardRequest{Interface: ifc}, &resp); err != nil {
		return false, err
	}
	if resp.Error != "" {
		return resp.Started, fmt.Errorf("on %s: %s", t.c.node, resp.Error)
	}
	return resp.Started, nil
}

// WireguardShow reads the device of the node's interface name.
func (t *remoteTarget) WireguardShow(ctx context.Context, name string) (wireguard.Status, error) {
	var st wireguard.Status
	err := t.c.call(ctx, "wireguard-show", wireguardRequest{Name: name}, &st)
	return st, err
}

// WireguardDown removes the node's interface name.
func (t *remoteTarget) WireguardDown(ctx context.Context, name string) (bool, error) {
	var removed bool
	err := t.c.call(ctx, "wireguard-down", wireguardRequest{Name: name}, &removed)
	return removed, err
}

// EnsureNetwork ensures the network n on the node (the agent's target must be a Networker).
func (t *remoteTarget) EnsureNetwork(ctx context.Context, n target.Network) (target.Network, error) {
	var out target.Network
	err := t.c.call(ctx, "ensure-network", networkRequest{Target: t.name, Network: n}, &out)
	return out, err
}

// RemoveStack removes the networks (and with volumes the named volumes) of stack on the node.
func (t *remoteTarget) RemoveStack(ctx context.Context, stack string, volumes bool) error {
	return t.c.call(ctx, "remove-stack", networkRequest{Target: t.name, Stack: stack, Volumes: volumes}, &struct{}{})
}

// Releases lists the releases installed in dir on the node.
func (t *remoteTarget) Releases(ctx context.Context, dir string) (deploy.Listing, error) {
	var l deploy.Listing
	err := t.c.call(ctx, "releases", releaseRequest{Dir: dir}, &l)
	return l, err
}

// Upload sends the archive of SHA-256 sum to its place in dir on the node.
func (t *remoteTarget) Upload(ctx context.Context, dir, sum string, body io.Reader) (int64, error) {
	res, err := t.c.Put(ctx, deploy.Dir(dir).ArchivePath(sum), 0o644, body, sum)
	return res.Size, err
}

// Install installs the release of an uploaded archive in dir on the node.
func (t *remoteTarget) Install(ctx context.Context, dir string, req deploy.InstallRequest) (deploy.Release, error) {
	var rel deploy.Release
	err := t.c.call(ctx, "release-install", releaseRequest{Dir: dir, Install: req}, &rel)
	return rel, err
}

// Activate makes the release id current in dir on the node.
func (t *remoteTarget) Activate(ctx context.Context, dir, id string, keep int) (deploy.Release, error) {
	var rel deploy.Release
	err := t.c.call(ctx, "release-activate", releaseRequest{Dir: dir, ID: id, Keep: keep}, &rel)
	return rel, err
}

// DialContext connects to address as the agent's node sees it.
func (t *remoteTarget) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return t.c.opts.DialNode(ctx, network, address)
}

// Ping reports whether the agent's node answers.
func (t *remoteTarget) Ping(ctx context.Context) error { return t.c.opts.Ping(ctx) }

// toAgent is h as the agent knows it; a handle of another node or target names nothing there.
func (t *remoteTarget) toAgent(h target.Handle) (handleRequest, error) {
	if h.Node != t.c.node || h.Target != t.name {
		return handleRequest{}, fmt.Errorf("handle %s is not of %s on %s: %w", h, t.name, t.c.node, target.ErrNotFound)
	}
	h.Node = agentNode
	return handleRequest{Handle: h}, nil
}

// Start starts spec on the node. A container built from a context of this host has the
// context sent to the node first (once per content), and is built there.
func (t *remoteTarget) Start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	if spec.Container != nil && spec.Container.Build != nil {
		var err error
		if spec, err = t.c.shipContext(ctx, spec); err != nil {
			return target.Handle{}, err
		}
	}
	var h target.Handle
	if err := t.c.call(ctx, "start", startRequest{Target: t.name, Spec: spec}, &h); err != nil {
		return target.Handle{}, err
	}
	h.Node = t.c.node
	return h, nil
}

// do runs op on h with req filled in by fill, decoding the answer into resp.
func (t *remoteTarget) do(ctx context.Context, op string, h target.Handle, fill func(*handleRequest), resp any) error {
	req, err := t.toAgent(h)
	if err != nil {
		return err
	}
	if fill != nil {
		fill(&req)
	}
	if resp == nil {
		resp = &struct{}{}
	}
	return t.c.call(ctx, op, req, resp)
}

func (t *remoteTarget) Wait(ctx context.Context, h target.Handle) (target.Exit, error) {
	var e target.Exit
	err := t.do(ctx, "wait", h, nil, &e)
	return e, err
}

func (t *remoteTarget) Stop(ctx context.Context, h target.Handle, grace time.Duration) error {
	return t.do(ctx, "stop", h, func(r *handleRequest) { r.Grace = grace }, nil)
}

func (t *remoteTarget) Remove(ctx context.Context, h target.Handle) error {
	return t.do(ctx, "remove", h, nil, nil)
}

func (t *remoteTarget) Inspect(ctx context.Context, h target.Handle) (target.Status, error) {
	var st target.Status
	err := t.do(ctx, "inspect", h, nil, &st)
	return st, err
}

func (t *remoteTarget) Exec(ctx context.Context, h target.Handle, argv []string) (target.ExecResult, error) {
	var res execResponse
	err := t.do(ctx, "exec", h, func(r *handleRequest) { r.Argv = argv }, &res)
	return target.ExecResult{ExitCode: res.ExitCode, Output: res.Output}, err
}

func (t *remoteTarget) Signal(ctx context.Context, h target.Handle, sig string) error {
	return t.do(ctx, "signal", h, func(r *handleRequest) { r.Signal = sig }, nil)
}

// ServiceLogs opens the agent's log of a service (Client.ServiceLogs).
func (t *remoteTarget) ServiceLogs(ctx context.Context, stack, service string, opts target.LogOptions) (io.ReadCloser, error) {
	return t.c.ServiceLogs(ctx, stack, service, opts)
}

func (t *remoteTarget) Logs(ctx context.Context, h target.Handle, opts target.LogOptions) (io.ReadCloser, error) {
	req, err := t.toAgent(h)
	if err != nil {
		return nil, err
	}
	req.Logs = opts
	return t.c.post(ctx, "logs", req)
}
