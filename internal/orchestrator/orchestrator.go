package orchestrator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/network/wireguard"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/target"
)

// Errors of the orchestrator.
var (
	ErrUnknownService = errors.New("unknown service")
	ErrNotRunning     = errors.New("orchestrator is not running (call Run first)")
	ErrNoTarget       = errors.New("no target for this service type")
)

// Options configure an Orchestrator.
type Options struct {
	Stack    *config.Stack
	Registry *registry.Registry
	// Targets run the services, by the target name of config.ServiceType: "process", "docker".
	Targets map[string]target.Target
	// Nodes returns the targets of a remote node ("process", "docker" on that host), for the
	// services of type remote. It is called once per node, when a service on it is first
	// needed, and should not contact the node: its targets do, when used. Nil: remote
	// services fail with ErrNoTarget.
	Nodes func(nd *config.Node) (map[string]target.Target, error)
	// LogDir holds the services' logs: LogDir/STACK/SERVICE.log.
	LogDir string
	// Environ is the environment of the command that asked for the start (NAME=value): the
	// base of every process service's environment.
	Environ []string
	Logger  *slog.Logger
	// Observer, when not nil, is told of probes, readiness and restarts (for metrics).
	Observer Observer
	// Mesh is the controller's host as a member of a WireGuard mesh, for stacks whose local
	// services talk to services on wireguard nodes. Nil: such a stack fails to start with
	// ErrNoMesh.
	Mesh wireguard.Node
}

// Observer is told what happens to the services of a stack, for metrics. Its methods are
// called synchronously from supervision and start goroutines, never with a lock of the
// orchestrator held: they must return quickly, be safe for concurrent use, and not call
// back into the Orchestrator.
type Observer interface {
	// ProbeDone reports one check of the health probe of a run (kind is the check's kind,
	// config.CheckKind): how long it took, up to its timeout, and whether it passed. A
	// check interrupted because the run or the supervision ended is not reported.
	ProbeDone(stack, service, kind string, d time.Duration, healthy bool)
	// Ready reports that a run launched by this orchestrator became ready for the first
	// time, d after its launch: healthy for a service with a health check, else started.
	// It is reported at most once per run, never for an adopted run (its launch was not
	// seen).
	Ready(stack, service string, d time.Duration)
	// Restarted reports a restart launched by the restart policy: after an exit, or after
	// the run turned unhealthy. Starts and recreations on request are not restarts.
	Restarted(stack, service string)
}

// noObserver is the Observer of an orchestrator given none.
type noObserver struct{}

func (noObserver) ProbeDone(string, string, string, time.Duration, bool) {}
func (noObserver) Ready(string, string, time.Duration)                   {}
func (noObserver) Restarted(string, string)                              {}

// Orchestrator starts, supervises and stops the services of one stack.
type Orchestrator struct {
	reg     *registry.Registry
	targets map[string]target.Target
	nodes   remoteNodes
	logDir  string
	log     *slog.Logger
	obs     Observer      // never nil
	ipam    *network.IPAM // the addresses of containers and mesh members, kept in the registry
	mesh    wireguard.Node
	meshMu  sync.Mutex // serializes bring-ups, repairs and rotations of the meshes
	bridge  bridgeMu
	cur     atomic.Pointer[view]

	mu      sync.Mutex      // guards the fields below, and serializes Update
	runCtx  context.Context // the supervision lifetime, set while Run runs
	adopted chan struct{}   // closed once Run adopted what was running
	workers sync.WaitGroup  // every supervision goroutine
}

// view is the stack an orchestrator runs and an instance per service. It is never changed in
// place: Update stores a new one. Instances outlive views: a service keeps its instance.
type view struct {
	stack   *config.Stack
	insts   map[string]*instance
	environ []string // the base of every process service's environment
}

func (o *Orchestrator) view() *view { return o.cur.Load() }

// New returns an Orchestrator for opts.Stack. Nothing is started or adopted until Run.
func New(opts Options) (*Orchestrator, error) {
	if opts.Stack == nil || opts.Registry == nil {
		return nil, errors.New("orchestrator: a stack and a registry are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	obs := opts.Observer
	if obs == nil {
		obs = noObserver{}
	}
	o := &Orchestrator{
		reg:     opts.Registry,
		ipam:    network.NewIPAM(opts.Registry.IPAMStore()),
		targets: opts.Targets,
		nodes:   remoteNodes{open: opts.Nodes, targets: map[nodeKey]map[string]target.Target{}},
		mesh:    opts.Mesh,
		logDir:  opts.LogDir,
		log:     log,
		obs:     obs,
		adopted: make(chan struct{}),
	}
	v := &view{stack: opts.Stack, insts: make(map[string]*instance, len(opts.Stack.Services)), environ: opts.Environ}
	for _, svc := range opts.Stack.Services {
		v.insts[svc.Name] = newInstance(opts.Stack.Name, svc)
	}
	o.cur.Store(v)
	return o, nil
}

// Update makes stack the one the orchestrator runs, while it runs: a new service gets an
// instance, a changed one its new definition. A running instance of a changed service keeps
// running as it was started until a Start recreates it; a restart starts the new definition.
// Services can be added or changed, not removed, and the stack keeps its name. environ, when
// not nil, replaces Options.Environ for what starts from now on.
func (o *Orchestrator) Update(stack *config.Stack, environ []string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	cur := o.view()
	if stack.Name != cur.stack.Name {
		return fmt.Errorf("update: the stack is %q, not %q", cur.stack.Name, stack.Name)
	}
	for name := range cur.insts {
		if stack.Service(name) == nil {
			return fmt.Errorf("update: service %q cannot be removed while harness runs the stack", name)
		}
	}
	if environ == nil {
		environ = cur.environ
	}
	v := &view{stack: stack, insts: make(map[string]*instance, len(stack.Services)), environ: environ}
	for _, svc := range stack.Services {
		inst := cur.insts[svc.Name]
		if inst == nil {
			inst = newInstance(stack.Name, svc)
		}
		inst.setService(stack, svc)
		v.insts[svc.Name] = inst
	}
	o.cur.Store(v)
	return nil
}

// Service returns the definition of service as it runs (a package service completed by the
// manifest of its release), nil when the stack has no such service.
func (o *Orchestrator) Service(service string) *config.Service {
	if inst := o.view().insts[service]; inst != nil {
		return inst.service()
	}
	return nil
}

// Stack returns the stack the orchestrator runs.
func (o *Orchestrator) Stack() *config.Stack { return o.view().stack }

// Run adopts what the registry records as running, supervises it and everything started
// later, and returns when ctx ends. Stopping Run stops supervision only: services keep running
// and the next Run adopts them.
func (o *Orchestrator) Run(ctx context.Context) error {
	o.mu.Lock()
	if o.runCtx != nil {
		o.mu.Unlock()
		return errors.New("orchestrator: Run is already running")
	}
	o.runCtx = ctx
	adopted := o.adopted
	select {
	case <-adopted: // an earlier Run adopted: this one adopts again
		adopted = make(chan struct{})
		o.adopted = adopted
	default:
	}
	o.mu.Unlock()

	err := o.adopt(ctx)
	close(adopted)
	<-ctx.Done()
	o.mu.Lock()
	o.runCtx = nil
	o.mu.Unlock()
	o.workers.Wait()
	return err
}

// Ready waits until Run has adopted what was running (Run may be called after Ready), so
// that a plan never starts a service twice.
func (o *Orchestrator) Ready(ctx context.Context) error {
	o.mu.Lock()
	adopted := o.adopted
	o.mu.Unlock()
	select {
	case <-adopted:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// supervision returns the context supervision goroutines run under, or ErrNotRunning.
func (o *Orchestrator) supervision() (context.Context, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.runCtx == nil || o.runCtx.Err() != nil {
		return nil, ErrNotRunning
	}
	return o.runCtx, nil
}

// go runs fn as a supervision goroutine that Run waits for.
func (o *Orchestrator) spawn(fn func()) {
	o.workers.Add(1)
	go func() {
		defer o.workers.Done()
		fn()
	}()
}

// adopt resumes supervision of every instance the registry records as started.
func (o *Orchestrator) adopt(ctx context.Context) error {
	recs, _, err := o.reg.List(o.view().stack.Name)
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	var errs []error
	for _, rec := range recs {
		inst := o.view().insts[rec.Key.Service]
		if inst == nil || rec.Handle.IsZero() {
			continue
		}
		inst.setRecord(rec)
		if err := o.adoptOne(ctx, inst, rec); err != nil {
			errs = append(errs, fmt.Errorf("adopt %s: %w", rec.Key.Service, err))
		}
	}
	return errors.Join(errs...)
}

func (o *Orchestrator) adoptOne(ctx context.Context, inst *instance, rec registry.Record) error {
	if !rec.State.Active() {
		return nil
	}
	tgt, err := o.target(inst.service())
	if err != nil {
		return err
	}
	o.adoptRelease(inst, rec)
	// It was started and not stopped: it is wanted, so its restart policy applies; unless a
	// stop was under way when its supervisor ended.
	inst.mu.Lock()
	inst.wanted = rec.State != lifecycle.Stopping
	inst.mu.Unlock()
	st, err := tgt.Inspect(ctx, rec.Handle)
	if err == nil && st.Running {
		o.supervise(inst, tgt, rec.Handle, rec.ConfigHash, time.Time{})
		return nil
	}
	if err != nil && !errors.Is(err, target.ErrNotFound) {
		return err
	}
	// It ended while nobody watched: record that, and let the restart policy decide.
	exit := target.Exit{Code: -1, At: time.Now()}
	if st.Exit != nil {
		exit = *st.Exit
	}
	o.exited(ctx, inst, tgt, nil, exit, "while harness was not supervising it")
	return nil
}

// target returns the Target that runs svc.
func (o *Orchestrator) target(svc *config.Service) (target.Target, error) {
	name := string(svc.Type)
	if svc.IsContainer() {
		name = "docker"
	}
	targets := o.targets
	switch svc.Type {
	case config.TypeRemote, config.TypePackage:
		if !svc.IsContainer() {
			name = "process"
		}
		nd := o.view().stack.Node(svc.Host)
		if nd == nil {
			return nil, fmt.Errorf("%w: no node %q", ErrNoTarget, svc.Host)
		}
		var err error
		if targets, err = o.nodes.of(nd); err != nil {
			return nil, err
		}
	}
	if t := targets[name]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNoTarget, name)
}

// remoteNodes are the targets of the remote nodes, opened once per way of reaching each: a
// node whose address or login changed in the services file is opened again.
type remoteNodes struct {
	open    func(nd *config.Node) (map[string]target.Target, error)
	mu      sync.Mutex
	targets map[nodeKey]map[string]target.Target
}

// nodeKey is how a node is reached.
type nodeKey struct {
	name, host, user, key string
	port                  int
}

func (r *remoteNodes) of(nd *config.Node) (map[string]target.Target, error) {
	if r.open == nil {
		return nil, fmt.Errorf("%w: no remote nodes here (node %s)", ErrNoTarget, nd.Name)
	}
	k := nodeKey{name: nd.Name, host: nd.Host, user: nd.SSHUser, key: nd.SSHKey, port: nd.SSHPort}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.targets[k]; ok {
		return t, nil
	}
	t, err := r.open(nd)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", nd.Name, err)
	}
	r.targets[k] = t
	return t, nil
}

// Hash is the configuration hash of a service: a changed hash means its instance must be
// recreated.
func Hash(svc *config.Service) string {
	b, _ := json.Marshal(svc)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Logs opens the stored output of service, as lines "TIME STREAM TEXT", oldest first; with
// opts.Follow it goes on with new lines until ctx ends or the reader is closed.
func (o *Orchestrator) Logs(ctx context.Context, service string, opts target.LogOptions) (io.ReadCloser, error) {
	svc := o.view().stack.Service(service)
	if svc == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownService, service)
	}
	if svc.Type == config.TypeRemote || svc.Type == config.TypePackage {
		tgt, err := o.target(svc)
		if err != nil {
			return nil, err
		}
		if sl, ok := tgt.(serviceLogger); ok {
			return sl.ServiceLogs(ctx, o.view().stack.Name, service, opts)
		}
	}
	ropts := logfile.ReadOptions{Tail: opts.Tail, Since: opts.Since, Follow: opts.Follow}
	return logfile.NewReader(ctx, o.LogPath(service), ropts, func(err error) error { return fmt.Errorf("logs %s: %w", service, err) }), nil
}

// serviceLogger is a target that keeps the logs of its services itself: a remote node's,
// whose agent writes them on the node.
type serviceLogger interface {
	ServiceLogs(ctx context.Context, stack, service string, opts target.LogOptions) (io.ReadCloser, error)
}

// LogPath is where the output of svc is written.
func (o *Orchestrator) LogPath(service string) string {
	return filepath.Join(o.logDir, o.view().stack.Name, service+".log")
}

// Status returns the record of every service, in file order; a service never started is
// stopped.
func (o *Orchestrator) Status() []registry.Record {
	out := make([]registry.Record, 0, len(o.view().stack.Services))
	for _, svc := range o.view().stack.Services {
		out = append(out, o.view().insts[svc.Name].record())
	}
	return out
}

// update changes the record of inst durably, then announces the change to waiters.
func (o *Orchestrator) update(inst *instance, fn func(*registry.Record)) registry.Record {
	done := make(chan registry.Record, 1)
	o.submit(inst, fn, func(rec registry.Record) { done <- rec })
	return <-done
}

// submit queues a change of the record of inst and returns at once; once the change is
// durable it is announced to waiters, then then (if not nil) is called with the record. Every
// change of a record goes through here, so they are announced in the order they were made.
func (o *Orchestrator) submit(inst *instance, fn func(*registry.Record), then func(registry.Record)) {
	inst.submitted()
	o.reg.UpdateAsync(inst.key, func(r *registry.Record) error {
		before := r.State
		fn(r)
		if r.State == "" {
			r.State = lifecycle.Stopped
		}
		if r.Health == "" {
			r.Health = lifecycle.HealthNone
		}
		if before != "" && before != r.State {
			if err := lifecycle.Transition(before, r.State); err != nil {
				o.log.Warn("unexpected transition", "service", inst.key.Service, "err", err)
			}
		}
		return nil
	}, func(rec registry.Record, err error) {
		if err != nil {
			// The registry is the source of truth; a failed write is logged and the in-memory
			// state still moves on, so waiters are not stuck.
			o.log.Error("registry update", "service", inst.key.Service, "err", err)
			rec = inst.record()
			fn(&rec)
		}
		inst.stored(rec)
		if then != nil {
			then(rec)
		}
	})
}
