package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/agent"
	"github.com/graph-network-harness/harness/internal/network/wireguard"
	"github.com/graph-network-harness/harness/internal/node"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/internal/remote"
	"github.com/graph-network-harness/harness/target"
)

// Options configure a Manager.
type Options struct {
	// ConfigFile is the services.yaml to load; ignored when Stack is set.
	ConfigFile string
	// Stack is a stack loaded or built in code.
	Stack *config.Stack
	// DataDir holds the registry and the logs (DataDir/logs/STACK/SERVICE.log). Required.
	DataDir string
	// Environ is the environment services inherit and ${VAR} reads; nil means os.Environ().
	Environ []string
	// Targets adds or replaces targets by name ("process", "docker").
	Targets map[string]target.Target
	// AgentBinary is the harness binary (cmd/harness) that remote nodes run as their agent,
	// installed over SSH on first use: the embedding program is not one. Required only by
	// stacks with remote services, and by stacks whose local services talk to services on a
	// wireguard node (this host then joins the mesh with a device run by this binary; its key
	// is in DataDir/wireguard).
	AgentBinary string
	Logger      *slog.Logger
}

// Manager runs one stack.
type Manager struct {
	edit    sync.Mutex // serializes changes of the stack
	reg     *registry.Registry
	orch    *orchestrator.Orchestrator
	local   *node.Local
	remotes *remote.Remotes
	cancel  context.CancelFunc
	done    chan error
}

// New loads the stack, opens the data dir, adopts what already runs from an earlier Manager
// or daemon, and starts supervising. It starts no service.
func New(ctx context.Context, opts Options) (*Manager, error) {
	if opts.DataDir == "" {
		return nil, errors.New("harness: Options.DataDir is required")
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	stack := opts.Stack
	if stack == nil {
		s, err := config.Load(opts.ConfigFile, config.Options{Lookup: config.EnvironLookup(environ)})
		if err != nil {
			return nil, fmt.Errorf("harness: %w", err)
		}
		stack = s
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("harness: data dir: %w", err)
	}
	reg, err := registry.Open(filepath.Join(opts.DataDir, "registry.db"), registry.Options{Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	local, err := node.NewLocal(node.LocalOptions{DataDir: opts.DataDir, Logger: opts.Logger})
	if err != nil {
		reg.Close()
		return nil, fmt.Errorf("harness: %w", err)
	}
	targets := local.Targets()
	for name, t := range opts.Targets {
		targets[name] = t
	}
	remotes := remote.New(remote.Options{KnownHosts: stack.Settings.KnownHosts, Executable: opts.AgentBinary, Logger: opts.Logger})
	nodes := remotes.Targets
	if opts.AgentBinary == "" {
		nodes = func(nd *config.Node) (map[string]target.Target, error) {
			return nil, errors.New("harness: Options.AgentBinary is not set: the harness binary that remote nodes run as their agent")
		}
	}
	var mesh wireguard.Node
	if opts.AgentBinary != "" {
		mesh = agent.LocalMesh(opts.AgentBinary, opts.DataDir)
	}
	orch, err := orchestrator.New(orchestrator.Options{
		Stack: stack, Registry: reg, Targets: targets, Environ: environ, Nodes: nodes,
		LogDir: filepath.Join(opts.DataDir, "logs"), Logger: opts.Logger, Mesh: mesh,
	})
	if err != nil {
		remotes.Close()
		local.Close()
		reg.Close()
		return nil, fmt.Errorf("harness: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Manager{reg: reg, orch: orch, local: local, remotes: remotes, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- orch.Run(runCtx) }()
	if err := orch.Ready(ctx); err != nil { // waits until what runs is adopted
		m.Close()
		return nil, fmt.Errorf("harness: %w", err)
	}
	return m, nil
}

// Stack returns the stack the Manager runs, with the services StartService added.
func (m *Manager) Stack() *config.Stack { return m.orch.Stack() }

// Start starts the named services (all when none) and their dependencies, and returns when
// each is ready (healthy when it has a check, else started). A service already running from
// the same configuration is left alone.
func (m *Manager) Start(ctx context.Context, names ...string) error {
	_, err := m.orch.Start(ctx, names...)
	return err
}

// StartService adds svc to the stack under name, or replaces the service of that name, and
// starts it as Start does, with its dependencies. svc is completed and checked as a service
// read from services.yaml is (defaults, dependencies implied by ${svc.prop} references,
// validation with the rest of the stack): an invalid service is a *config.Error and changes
// nothing. A replaced service that runs from another definition is recreated; one that runs
// from the same definition is left alone.
func (m *Manager) StartService(ctx context.Context, name string, svc config.Service) error {
	svc.Name = name
	m.edit.Lock()
	stack, err := m.orch.Stack().WithService(svc)
	if err == nil {
		err = m.orch.Update(stack, nil)
	}
	m.edit.Unlock()
	if err != nil {
		return fmt.Errorf("harness: service %s: %w", name, err)
	}
	return m.Start(ctx, name)
}

// Stop stops the named services (all when none) and what depends on them, dependents first.
func (m *Manager) Stop(ctx context.Context, names ...string) error {
	_, err := m.orch.Stop(ctx, names...)
	return err
}

// Down stops every service, removes their instances (containers) and the stack's networks,
// and forgets their handles; named volumes are removed too when volumes is set.
func (m *Manager) Down(ctx context.Context, volumes bool) error {
	_, err := m.orch.Down(ctx, volumes)
	return err
}

// ServiceStatus is the state of one service.
type ServiceStatus = registry.Record

// Status returns every service's state, in file order.
func (m *Manager) Status() []ServiceStatus { return m.orch.Status() }

// Event is one change of a service's state, health or record.
type Event = registry.Event

// Watch delivers every change after revision since (0: from the oldest kept) until ctx ends.
func (m *Manager) Watch(ctx context.Context, since uint64) (<-chan Event, error) {
	w, err := m.reg.Watch(ctx, since)
	if err != nil {
		return nil, err
	}
	return w.Events(), nil
}

// Logs opens the stored output of a service: lines "TIME STREAM TEXT".
func (m *Manager) Logs(ctx context.Context, service string, opts target.LogOptions) (io.ReadCloser, error) {
	return m.orch.Logs(ctx, service, opts)
}

// Shutdown stops every service, then closes the Manager.
func (m *Manager) Shutdown(ctx context.Context) error {
	return errors.Join(m.Stop(ctx), m.Close())
}

// Close stops supervision and releases the data dir. The services keep running; the next
// Manager or daemon on the same data dir adopts them.
func (m *Manager) Close() error {
	m.cancel()
	err := <-m.done
	return errors.Join(err, m.remotes.Close(), m.local.Close(), m.reg.Close())
}
