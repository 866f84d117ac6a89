package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/httpapi"
	"github.com/graph-network-harness/harness/internal/node"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/internal/remote"
	"github.com/graph-network-harness/harness/internal/telemetry"
	"github.com/graph-network-harness/harness/target"
)

// Options configure Run.
type Options struct {
	// DataDir holds everything of this daemon (see the package doc). Required.
	DataDir string
	// Listen is an extra listener, "tcp://HOST:PORT" with TLS; empty for the socket only.
	Listen string
	// Version is what the daemon reports as its version.
	Version string
	Logger  *slog.Logger
	// Targets adds or replaces targets by name ("process", "docker").
	Targets map[string]target.Target
}

// remotesLocked returns the remote nodes whose host keys are in knownHosts; d.mu is held.
func (d *daemon) remotesLocked(knownHosts string) *remote.Remotes {
	rs := d.remotes[knownHosts]
	if rs == nil {
		rs = remote.New(remote.Options{KnownHosts: knownHosts, Version: d.opts.Version, Logger: d.log})
		d.remotes[knownHosts] = rs
	}
	return rs
}

// remotesOf returns the remote nodes of stack.
func (d *daemon) remotesOf(stack *config.Stack) *remote.Remotes {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.remotesLocked(stack.Settings.KnownHosts)
}

// closeRemotes closes the connections to the remote nodes, after the last orchestrator.
func (d *daemon) closeRemotes() error {
	var errs []error
	for _, rs := range d.remotes {
		errs = append(errs, rs.Close())
	}
	return errors.Join(errs...)
}

// shutdownGrace bounds how long Run waits for requests in flight once it is asked to stop.
const shutdownGrace = 5 * time.Second

// daemon is the Backend of the API.
type daemon struct {
	opts    Options
	log     *slog.Logger
	reg     *registry.Registry
	targets map[string]target.Target
	metrics *telemetry.Metrics
	started time.Time
	stop    context.CancelFunc // ends Run: Shutdown

	// runCtx is the supervision lifetime of every stack.
	runCtx context.Context
	mu     sync.Mutex
	stacks map[string]*stackRun
	files  map[string]fileStamp // by services file: what it was at its last load
	wg     sync.WaitGroup       // the orchestrators' Run
	// remotes are the remote nodes, by the known_hosts file of the stacks that use them.
	remotes map[string]*remote.Remotes
}

var _ httpapi.Backend = (*daemon)(nil)

// Run runs a daemon on opts.DataDir until ctx ends or a client asks it to stop, then stops
// supervising (services keep running) and returns. It fails at once with ErrLocked when
// another daemon holds the data dir.
func Run(ctx context.Context, opts Options) (err error) {
	if opts.DataDir == "" {
		return errors.New("daemon: no data dir")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	lock, err := lockDataDir(opts.DataDir)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	defer lock.Close()
	reg, err := registry.Open(filepath.Join(opts.DataDir, "registry.db"), registry.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	defer func() { err = errors.Join(err, reg.Close()) }()
	local, err := node.NewLocal(node.LocalOptions{DataDir: opts.DataDir, Logger: log})
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	defer func() { err = errors.Join(err, local.Close()) }()
	targets := local.Targets()
	for name, t := range opts.Targets {
		targets[name] = t
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	d := &daemon{
		opts: opts, log: log, reg: reg, targets: targets, started: time.Now(), stop: stop,
		metrics: telemetry.NewMetrics(),
		runCtx:  ctx, stacks: map[string]*stackRun{}, files: map[string]fileStamp{},
		remotes: map[string]*remote.Remotes{},
	}
	defer func() { err = errors.Join(err, d.closeRemotes()) }()
	defer d.wg.Wait() // after stop: the orchestrators end their supervision

	ln, err := httpapi.Listen(filepath.Join(opts.DataDir, api.SocketName))
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	listeners := []net.Listener{ln}
	if opts.Listen != "" {
		tln, err := listenTLS(opts.Listen, filepath.Join(opts.DataDir, "certs"))
		if err != nil {
			ln.Close()
			return fmt.Errorf("daemon: --listen %s: %w", opts.Listen, err)
		}
		listeners = append(listeners, tln)
	}
	d.metrics.SetSource(d.serviceStates)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.metrics.Handler())
	mux.Handle("/", httpapi.NewHandler(d, log))
	srv := &http.Server{
		Handler:           mux,
		BaseContext:       func(_ net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug), // refused TLS clients and the like
	}
	d.resume(ctx)
	served := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { served <- srv.Serve(l) }()
		log.Info("daemon listening", "addr", l.Addr().String())
	}
	log.Info("daemon started", "pid", os.Getpid(), "data_dir", opts.DataDir)

	pending, serveErr := len(listeners), error(nil)
	select {
	case <-ctx.Done():
	case serveErr = <-served: // a listener failed: stop, as for a shutdown
		stop()
		pending--
	}
	// Requests in flight end with ctx (their base context): give them a moment to answer.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	for range pending {
		<-served
	}
	if serveErr != nil {
		return fmt.Errorf("daemon: serve: %w", serveErr)
	}
	log.Info("daemon stopped; services keep running")
	return nil
}

// Daemon implements httpapi.Backend.
func (d *daemon) Daemon() api.Daemon {
	return api.Daemon{PID: os.Getpid(), Version: d.opts.Version, DataDir: d.opts.DataDir, StartedAt: d.started}
}

// Shutdown implements httpapi.Backend: it ends Run.
func (d *daemon) Shutdown() { d.stop() }

// listenTLS listens on addr, "tcp://HOST:PORT", with TLS and a client certificate required,
// the certificates in certDir (made on first use).
func listenTLS(addr, certDir string) (net.Listener, error) {
	hostPort, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return nil, errors.New("want tcp://HOST:PORT")
	}
	cfg, err := tlsConfig(certDir)
	if err != nil {
		return nil, err
	}
	return tls.Listen("tcp", hostPort, cfg)
}

// serviceStates is what the metrics report of every service at a scrape.
func (d *daemon) serviceStates() []telemetry.ServiceState {
	d.mu.Lock()
	runs := make([]*stackRun, 0, len(d.stacks))
	for _, r := range d.stacks {
		runs = append(runs, r)
	}
	d.mu.Unlock()
	var out []telemetry.ServiceState
	for _, r := range runs {
		for _, rec := range r.orch.Status() {
			out = append(out, telemetry.ServiceState{Stack: rec.Key.Stack, Service: rec.Key.Service,
				State: string(rec.State), Health: string(rec.Health), Restarts: rec.Restarts})
		}
	}
	return out
}
