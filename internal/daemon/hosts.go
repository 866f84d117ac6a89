package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/remote"
	"github.com/graph-network-harness/harness/internal/sshx"
)

// hostCheckTimeout bounds the contact with one node for Hosts.
const hostCheckTimeout = 15 * time.Second

// Hosts implements httpapi.Backend: every node asked for is contacted at once.
func (d *daemon) Hosts(ctx context.Context, req api.HostsRequest) (api.HostsResponse, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.HostsResponse{}, err
	}
	stack := orch.Stack()
	nodes, err := nodesOf(stack, req.Nodes)
	if err != nil {
		return api.HostsResponse{}, err
	}
	rs := d.remotesOf(stack)
	out := api.HostsResponse{Stack: stack.Name, Hosts: make([]api.Host, len(nodes))}
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, hostCheckTimeout)
			defer cancel()
			out.Hosts[i] = hostOf(ctx, rs, nd)
		})
	}
	wg.Wait()
	return out, nil
}

// hostOf contacts nd and says what it answered.
func hostOf(ctx context.Context, rs *remote.Remotes, nd *config.Node) api.Host {
	h := api.Host{Name: nd.Name, Host: nd.Host, Port: nd.SSHPort, User: nd.SSHUser, Network: nd.Network}
	c, err := rs.Node(nd).Check(ctx)
	if err != nil {
		h.Error = err.Error()
		return h
	}
	h.Reachable, h.RTT, h.OS = true, api.Duration(c.RTT), c.OS
	if c.Agent != nil {
		h.Agent = &api.HostAgent{Version: c.Agent.Version, PID: c.Agent.PID, Started: c.Agent.Started, Current: c.Current}
	}
	return h
}

// nodesOf returns the nodes of stack named in names, all when none, in file order; an unknown
// name is CodeNotFound.
func nodesOf(stack *config.Stack, names []string) ([]*config.Node, error) {
	var all []*config.Node
	for _, n := range stack.Networks {
		all = append(all, n.Nodes...)
	}
	if len(names) == 0 {
		return all, nil
	}
	out := make([]*config.Node, 0, len(names))
	for _, name := range names {
		nd := stack.Node(name)
		if nd == nil {
			return nil, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("%s: no node %q in %s", stack.Name, name, stack.File)}
		}
		out = append(out, nd)
	}
	return out, nil
}

// Trust implements httpapi.Backend: the key that the node offers, recorded in known_hosts
// when the caller confirmed its fingerprint.
func (d *daemon) Trust(ctx context.Context, req api.TrustRequest) (api.TrustResponse, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.TrustResponse{}, err
	}
	stack := orch.Stack()
	nodes, err := nodesOf(stack, []string{req.Node})
	if err != nil {
		return api.TrustResponse{}, err
	}
	nd := nodes[0]
	rs := d.remotesOf(stack)
	key, err := rs.ScanKey(ctx, nd)
	if err != nil {
		return api.TrustResponse{}, fmt.Errorf("node %s: %w", nd.Name, err)
	}
	resp := api.TrustResponse{
		Node: nd.Name, Host: net.JoinHostPort(nd.Host, strconv.Itoa(nd.SSHPort)), KeyType: key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key), File: rs.KnownHosts(),
	}
	if req.Fingerprint == "" {
		return resp, nil
	}
	if req.Fingerprint != resp.Fingerprint {
		return resp, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf(
			"node %s (%s) now offers the %s key %s, not the confirmed %s: nothing recorded", nd.Name, resp.Host, resp.KeyType, resp.Fingerprint, req.Fingerprint)}
	}
	if err := rs.Trust(nd, key); err != nil {
		if errors.Is(err, sshx.ErrHostKeyChanged) {
			return resp, &api.Error{Code: api.CodeConflict, Message: err.Error()}
		}
		return resp, err
	}
	resp.Recorded = true
	d.log.Info("host key trusted", "node", nd.Name, "host", resp.Host, "fingerprint", resp.Fingerprint, "file", resp.File)
	return resp, nil
}
