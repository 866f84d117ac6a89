// Package remote is the controller's side of the remote nodes: for each node of the services
// file, the targets of the harness agent on that host, reached over SSH. The first use of a
// node installs the agent when needed (bootstrap) and starts it; the orchestrator drives the
// targets as it drives the local node's.
//
// Bootstrap, on the first connection to a node, and again whenever its agent does not answer:
//
//  1. `uname -sm` and $HOME: the host must have this binary's OS and architecture.
//  2. Ask the agent (HOME/.harness/agent/agent.sock) for its Info: when its executable's
//     checksum is this binary's, done.
//  3. Otherwise `BIN agent start --dir HOME/.harness/agent`, where BIN is
//     HOME/.harness/bin/VERSION-SHA8/harness. When BIN is missing, upload it first over SFTP
//     to a temporary name, check its SHA-256 on the host, and rename it into place: a
//     half-written binary never has BIN's name. `agent start` replaces an agent of another
//     binary (its services keep running; the new agent adopts them) and returns when the
//     agent answers.
//  4. Ask again, and insist on the checksum.
//
// The agent's socket is reached through a direct-streamlocal channel; when sshd refuses those
// (AllowStreamLocalForwarding no), through `BIN agent dial` on an exec channel. Health checks
// of a node's services dial from the node, through direct-tcpip channels.
//
// Every failure to reach a node or its agent wraps target.ErrUnreachable and names the node.
//
// Concurrency: Remotes and Remote are safe for concurrent use; a node's bootstrap runs once at
// a time. Close once, after the last use.
package remote

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/agent"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/sshx"
	"github.com/graph-network-harness/harness/target"
)

// Options configures the remote nodes of a controller.
type Options struct {
	// KnownHosts is the known_hosts file that the nodes' host keys are checked against.
	KnownHosts string
	// Executable is the harness binary installed on the nodes as their agent. Default: this
	// process's executable.
	Executable string
	// Version is this harness's version: part of the install path on the nodes.
	Version string
	// Logger receives the bootstrap's progress. Default: discard.
	Logger *slog.Logger
}

// Remotes are the remote nodes of a controller, over one pool of SSH connections.
type Remotes struct {
	opts   Options
	log    *slog.Logger
	pool   *sshx.Pool
	binary func() (binary, error)
	ctx    context.Context // ends with Close: the monitors
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	nodes map[sshx.Addr]*Remote
}

// binary is the executable installed on the nodes.
type binary struct {
	path, sum string
}

// New returns the remote nodes; it contacts none.
func New(opts Options) *Remotes {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Remotes{
		opts: opts,
		log:  log,
		pool: sshx.NewPool(sshx.Options{
			KnownHosts: opts.KnownHosts, Logger: log,
			HandshakeTimeout: 10 * time.Second, MaxBackoff: 2 * pingEvery,
		}),
		ctx: ctx, cancel: cancel,
		nodes: map[sshx.Addr]*Remote{},
		binary: sync.OnceValues(func() (binary, error) {
			exe := opts.Executable
			if exe == "" {
				var err error
				if exe, err = os.Executable(); err != nil {
					return binary{}, fmt.Errorf("the harness executable: %w", err)
				}
			}
			sum, err := agent.FileChecksum(exe)
			if err != nil {
				return binary{}, fmt.Errorf("the harness executable: %w", err)
			}
			return binary{path: exe, sum: sum}, nil
		}),
	}
}

// Addr is where nd is reached over SSH.
func Addr(nd *config.Node) sshx.Addr {
	return sshx.Addr{Name: nd.Name, Host: nd.Host, Port: nd.SSHPort, User: nd.SSHUser, KeyFile: nd.SSHKey}
}

// How a node's reachability is watched: a round trip to its sshd every pingEvery, which
// must come back within pingTimeout.
const (
	pingEvery   = 2 * time.Second
	pingTimeout = 2 * time.Second
	// pingMisses is how many pings in a row may go unanswered in time before the node is
	// down: a busy sshd (transfers, a loaded machine) answers late, a cut link never.
	pingMisses = 3
)

// Node returns the remote node nd, one value per address; it contacts nothing until used.
func (rs *Remotes) Node(nd *config.Node) *Remote {
	addr := Addr(nd)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r := rs.nodes[addr]; r != nil {
		return r
	}
	r := &Remote{rs: rs, addr: addr}
	r.client = agent.NewClient(nd.Name, agent.ClientOptions{Dial: r.dialAgent, DialNode: r.dialNode, Ping: r.Ping})
	rs.nodes[addr] = r
	return r
}

// Targets returns the targets of nd's agent, "process" and "docker": the orchestrator's
// Options.Nodes. From the first call on, the node is pinged every pingEvery (Err): it runs
// services.
func (rs *Remotes) Targets(nd *config.Node) (map[string]target.Target, error) {
	r := rs.Node(nd)
	r.watch.Do(func() { rs.wg.Go(func() { r.monitor(rs.ctx) }) })
	return r.Targets(), nil
}

// Err is why nd did not answer its last ping: nil when it did, or when nothing runs there
// (its targets were never asked for). It contacts nothing.
func (rs *Remotes) Err(nd *config.Node) error {
	rs.mu.Lock()
	r := rs.nodes[Addr(nd)]
	rs.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Err()
}

// Close closes the connections to the nodes; their agents and services keep running.
func (rs *Remotes) Close() error {
	rs.cancel()
	rs.wg.Wait()
	rs.mu.Lock()
	for _, r := range rs.nodes {
		r.client.Close()
	}
	rs.mu.Unlock()
	return rs.pool.Close()
}

// Remote is one remote node.
type Remote struct {
	rs     *Remotes
	addr   sshx.Addr
	client *agent.Client

	boot  sync.Mutex // held by the bootstrap: one at a time
	watch sync.Once  // starts the monitor

	mu      sync.Mutex
	down    error  // why the last ping failed; nil when it succeeded
	missed  int    // pings in a row without an answer in time
	home    string // the login user's home on the node; "" until probed
	uname   string // its `uname -sm`
	ready   bool   // an agent of this binary answered
	viaExec bool   // sshd refuses direct-streamlocal: reach the agent by `agent dial`
}

// Targets returns the targets of the node's agent, "process" and "docker".
func (r *Remote) Targets() map[string]target.Target {
	return map[string]target.Target{"process": r.client.Target("process"), "docker": r.client.Target("docker")}
}

// Info asks the node's agent who it is, installing and starting it when needed.
func (r *Remote) Info(ctx context.Context) (agent.Info, error) { return r.client.Info(ctx) }

// Interfaces reads the network interfaces of the node through its agent, installing and
// starting it when needed.
func (r *Remote) Interfaces(ctx context.Context) ([]network.Interface, error) {
	return r.client.Interfaces(ctx)
}

// Dial connects to address as the node sees it: from the node, through its sshd.
func (r *Remote) Dial(ctx context.Context, nw, address string) (net.Conn, error) {
	return r.dialNode(ctx, nw, address)
}

// Ping makes a round trip to the node's sshd within pingTimeout. After pingMisses pings in a
// row without an answer in time (or at once, when there is no connection), the node is down
// (Err) and its connection is closed, so that what waits on it (a Wait, a followed log) fails
// with target.ErrUnreachable rather than hang, and the next use dials again. A ping that
// missed returns its error before that: a check gated on it is inconclusive.
func (r *Remote) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	conn, err := r.rs.pool.Get(ctx, r.addr)
	late := false
	if err == nil {
		if err = conn.Ping(ctx); err != nil {
			r.mu.Lock()
			r.missed++
			late = r.missed < pingMisses && ctx.Err() != nil
			r.mu.Unlock()
			if !late {
				if ctx.Err() != nil {
					err = fmt.Errorf("no answer to %d pings in a row (%s each): %w", pingMisses, pingTimeout, err)
				}
				conn.Close()
			}
		}
	}
	if err != nil {
		err = r.unreachable(err)
	}
	r.mu.Lock()
	was := r.down
	if !late {
		r.down = err
	}
	if err == nil {
		r.missed = 0
	}
	r.mu.Unlock()
	if late {
		return err
	}
	switch {
	case was == nil && err != nil:
		r.rs.log.Warn("node unreachable", "node", r.addr.Name, "err", err)
	case was != nil && err == nil:
		r.rs.log.Info("node reachable again", "node", r.addr.Name)
	}
	return err
}

// Err is why the node did not answer its last ping; nil when it did, or before the first.
func (r *Remote) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down
}

// Check is what a node says of itself.
type Check struct {
	RTT   time.Duration // of an SSH request on the open connection
	OS    string        // its `uname -sm`
	Agent *agent.Info   // the agent that answers; nil when none does
	// Current: the agent runs this binary (else its next use replaces it).
	Current bool
}

// Check contacts the node: a round trip, its OS, and its agent's Info when one answers. It
// installs and starts nothing. A node of another platform is an error.
func (r *Remote) Check(ctx context.Context) (Check, error) {
	conn, err := r.rs.pool.Get(ctx, r.addr)
	if err != nil {
		return Check{}, r.unreachable(err)
	}
	began := time.Now()
	if err := conn.Ping(ctx); err != nil {
		return Check{}, r.unreachable(err)
	}
	c := Check{RTT: time.Since(began)}
	r.mu.Lock()
	probed := r.home != ""
	r.mu.Unlock()
	if !probed {
		if err := r.probe(ctx, conn); err != nil {
			return Check{}, err
		}
	}
	r.mu.Lock()
	c.OS = r.uname
	r.mu.Unlock()
	if info, err := r.info(ctx, conn); err == nil {
		c.Agent = &info
		if b, err := r.rs.binary(); err == nil {
			c.Current = info.Checksum == b.sum
		}
	}
	return c, nil
}

// ScanKey returns the host key that nd offers, unchecked: show its fingerprint before Trust.
func (rs *Remotes) ScanKey(ctx context.Context, nd *config.Node) (ssh.PublicKey, error) {
	return sshx.ScanHostKey(ctx, hostport(nd), pingEvery+pingTimeout)
}

// KnownHosts is the known_hosts file of the nodes.
func (rs *Remotes) KnownHosts() string {
	if rs.opts.KnownHosts == "" {
		return "~/.ssh/known_hosts"
	}
	return rs.opts.KnownHosts
}

// Trust records key as the host key of nd in KnownHosts (sshx.Trust), and forgets the failed
// connections to nd, so that it is dialed again at once.
func (rs *Remotes) Trust(nd *config.Node, key ssh.PublicKey) error {
	if err := sshx.Trust(rs.KnownHosts(), hostport(nd), key); err != nil {
		return err
	}
	rs.pool.Reset(Addr(nd))
	return nil
}

// hostport is where nd's sshd listens.
func hostport(nd *config.Node) string {
	port := nd.SSHPort
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(nd.Host, strconv.Itoa(port))
}

// monitor pings the node every pingEvery until ctx ends.
func (r *Remote) monitor(ctx context.Context) {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Ping(ctx)
		}
	}
}

// unreachable wraps err, a failure to reach the node or its agent.
func (r *Remote) unreachable(err error) error {
	if errors.Is(err, target.ErrUnreachable) {
		return err
	}
	return fmt.Errorf("%w: %w", target.ErrUnreachable, err)
}

// dialNode connects to address as the node sees it.
func (r *Remote) dialNode(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := r.rs.pool.Get(ctx, r.addr)
	if err != nil {
		return nil, r.unreachable(err)
	}
	return conn.DialContext(ctx, network, address)
}

// dialAgent opens a connection to the node's agent, bootstrapping it when it does not answer.
func (r *Remote) dialAgent(ctx context.Context) (net.Conn, error) {
	conn, err := r.rs.pool.Get(ctx, r.addr)
	if err != nil {
		return nil, r.unreachable(err)
	}
	if err := r.bootstrap(ctx, conn); err != nil {
		return nil, r.unreachable(err)
	}
	nc, err := r.open(ctx, conn)
	if err == nil {
		return nc, nil
	}
	// The agent is gone (killed, the host rebooted): start it again.
	r.setReady(false)
	if err := r.bootstrap(ctx, conn); err != nil {
		return nil, r.unreachable(err)
	}
	if nc, err = r.open(ctx, conn); err != nil {
		return nil, r.unreachable(err)
	}
	return nc, nil
}

func (r *Remote) setReady(ready bool) {
	r.mu.Lock()
	r.ready = ready
	r.mu.Unlock()
}

// The paths on a node, under the login user's home.
func (r *Remote) agentDir() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return path.Join(r.home, ".harness", "agent")
}

func (r *Remote) binPath(b binary) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return path.Join(r.home, ".harness", "bin", pathSafe(r.rs.opts.Version)+"-"+b.sum[:8], "harness")
}

// pathSafe is v with every byte but [A-Za-z0-9._+-] replaced by '_'; "dev" when empty.
func pathSafe(v string) string {
	if v == "" {
		return "dev"
	}
	return strings.Map(func(c rune) rune {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._+-", c)) {
			return c
		}
		return '_'
	}, v)
}

// exec reports whether the agent is reached through `agent dial` rather than streamlocal.
func (r *Remote) exec() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.viaExec
}

// open connects to the agent's socket over conn.
func (r *Remote) open(ctx context.Context, conn *sshx.Conn) (net.Conn, error) {
	if !r.exec() {
		return conn.DialUnix(ctx, path.Join(r.agentDir(), agent.SocketName))
	}
	b, err := r.rs.binary()
	if err != nil {
		return nil, err
	}
	// The session lasts as long as the connection: it ends when the returned conn is closed.
	s, err := conn.Start(context.WithoutCancel(ctx), shellQuote(r.binPath(b))+" agent dial --dir "+shellQuote(r.agentDir()))
	if err != nil {
		return nil, err
	}
	go func() { _, _ = io.Copy(io.Discard, s.Stderr) }()
	return &sessionConn{s: s, gone: func() { r.setReady(false) }}, nil
}

// bootstrap makes sure that an agent of this binary serves the node (see the package doc).
func (r *Remote) bootstrap(ctx context.Context, conn *sshx.Conn) error {
	r.boot.Lock()
	defer r.boot.Unlock()
	r.mu.Lock()
	ready, probed := r.ready, r.home != ""
	r.mu.Unlock()
	if ready {
		return nil
	}
	b, err := r.rs.binary()
	if err != nil {
		return err
	}
	if !probed {
		if err := r.probe(ctx, conn); err != nil {
			return err
		}
	}
	info, err := r.info(ctx, conn)
	if err == nil && info.Checksum == b.sum {
		r.setReady(true)
		return nil
	}
	began := time.Now()
	bin := r.binPath(b)
	start := shellQuote(bin) + " agent start --dir " + shellQuote(r.agentDir())
	res, err := conn.Run(ctx, start, nil)
	if err == nil && res.ExitCode == 127 { // not installed yet
		if err := r.install(ctx, conn, b, bin); err != nil {
			return err
		}
		res, err = conn.Run(ctx, start, nil)
	}
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("node %s: %s: exit status %d: %s", r.addr.Name, start, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	info, err = r.info(ctx, conn)
	var refused *ssh.OpenChannelError
	if err != nil && errors.As(err, &refused) && !r.exec() {
		// The agent answers on its host (agent start said so), but sshd does not forward to
		// its socket (AllowStreamLocalForwarding no): reach it through `agent dial`.
		r.rs.log.Info("sshd does not forward to the agent's socket; reaching it through `agent dial`", "node", r.addr.Name, "err", err)
		r.mu.Lock()
		r.viaExec = true
		r.mu.Unlock()
		info, err = r.info(ctx, conn)
	}
	if err != nil {
		return fmt.Errorf("node %s: the agent started but does not answer: %w", r.addr.Name, err)
	}
	if info.Checksum != b.sum {
		return fmt.Errorf("node %s: the agent (pid %d) runs an executable of checksum %.12s, not this harness's %.12s", r.addr.Name, info.PID, info.Checksum, b.sum)
	}
	r.rs.log.Info("agent ready", "node", r.addr.Name, "pid", info.PID, "version", info.Version, "took", time.Since(began))
	r.setReady(true)
	return nil
}

// probe learns the node's home and checks its OS and architecture.
func (r *Remote) probe(ctx context.Context, conn *sshx.Conn) error {
	res, err := conn.Run(ctx, `uname -sm && printf '%s\n' "$HOME"`, nil)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if res.ExitCode != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], "/") {
		return fmt.Errorf("node %s: uname -sm and $HOME: exit status %d, output %q %q", r.addr.Name, res.ExitCode, res.Stdout, res.Stderr)
	}
	goos, goarch := platform(lines[0])
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		return fmt.Errorf("node %s is %s (%s/%s), this harness is built for %s/%s: run a harness built for the node's platform", r.addr.Name, lines[0], goos, goarch, runtime.GOOS, runtime.GOARCH)
	}
	r.mu.Lock()
	r.home, r.uname = lines[1], lines[0]
	r.mu.Unlock()
	return nil
}

// platform maps the output of `uname -sm` to GOOS and GOARCH.
func platform(uname string) (goos, goarch string) {
	kernel, machine, _ := strings.Cut(uname, " ")
	goos = strings.ToLower(kernel)
	switch machine {
	case "x86_64", "amd64":
		goarch = "amd64"
	case "aarch64", "arm64":
		goarch = "arm64"
	case "i386", "i686":
		goarch = "386"
	default: // riscv64, ppc64le, s390x, …
		goarch = machine
	}
	return goos, goarch
}

// info asks the agent for its Info over a connection of its own.
func (r *Remote) info(ctx context.Context, conn *sshx.Conn) (agent.Info, error) {
	c := agent.NewClient(r.addr.Name, agent.ClientOptions{Dial: func(ctx context.Context) (net.Conn, error) { return r.open(ctx, conn) }})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Info(ctx)
}

// install uploads b to bin on the node: to a temporary name, checked, then renamed.
func (r *Remote) install(ctx context.Context, conn *sshx.Conn, b binary, bin string) error {
	began := time.Now()
	fail := func(err error) error { return fmt.Errorf("node %s: install %s: %w", r.addr.Name, bin, err) }
	fc, err := conn.SFTP(ctx)
	if err != nil {
		return fail(err)
	}
	local, err := os.Open(b.path)
	if err != nil {
		return fail(err)
	}
	defer local.Close()
	dir := path.Dir(bin)
	if err := fc.MkdirAll(dir); err != nil {
		return fail(err)
	}
	tmp := path.Join(dir, "harness.tmp-"+rand.Text()[:8])
	f, err := fc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fail(err)
	}
	n, err := f.ReadFrom(local)
	if err == nil {
		err = f.Chmod(0o755)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = fc.Remove(tmp)
		return fail(err)
	}
	check := fmt.Sprintf("cd %s && printf '%%s  %%s\\n' %s %s | sha256sum -c --status && mv -f %s harness",
		shellQuote(dir), b.sum, path.Base(tmp), path.Base(tmp))
	res, err := conn.Run(ctx, check, nil)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("the uploaded file does not have the checksum %.12s (sha256sum: exit status %d: %s)", b.sum, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	if err != nil {
		_ = fc.Remove(tmp)
		return fail(err)
	}
	r.rs.log.Info("agent installed", "node", r.addr.Name, "path", bin, "bytes", n, "took", time.Since(began))
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sessionConn is a net.Conn over the pipes of an exec session (`agent dial`).
// An output that ends before its first byte is `agent dial` finding no agent: gone calls
// the Remote's bootstrap back, as a refused streamlocal channel does.
type sessionConn struct {
	s    *sshx.Session
	gone func()
	read bool // a byte came
	once sync.Once
}

func (c *sessionConn) Read(b []byte) (int, error) {
	n, err := c.s.Stdout.Read(b)
	if n > 0 {
		c.read = true
	} else if errors.Is(err, io.EOF) && !c.read {
		c.gone()
	}
	return n, err
}

func (c *sessionConn) Write(b []byte) (int, error) { return c.s.Stdin.Write(b) }
func (c *sessionConn) Close() error {
	var err error
	c.once.Do(func() { err = c.s.Close() })
	return err
}
func (c *sessionConn) LocalAddr() net.Addr              { return execAddr{} }
func (c *sessionConn) RemoteAddr() net.Addr             { return execAddr{} }
func (c *sessionConn) SetDeadline(time.Time) error      { return nil }
func (c *sessionConn) SetReadDeadline(time.Time) error  { return nil }
func (c *sessionConn) SetWriteDeadline(time.Time) error { return nil }

type execAddr struct{}

func (execAddr) Network() string { return "ssh-exec" }
func (execAddr) String() string  { return "agent dial" }
