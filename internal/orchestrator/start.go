package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/dag"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/target"
)

// Result says what a Start or Stop did to each service it planned for.
type Result struct {
	Plan Plan
	// Failed maps a service that could not be started, or did not become ready, to why.
	Failed map[string]error
	// Blocked maps a service that was not started to the dependency that failed.
	Blocked map[string]string
}

// Err summarizes the result as an error, nil when every service is fine.
func (r Result) Err() error {
	if len(r.Failed) == 0 && len(r.Blocked) == 0 {
		return nil
	}
	var parts []string
	for _, a := range r.Plan.Actions {
		if err, ok := r.Failed[a.Service]; ok {
			parts = append(parts, fmt.Sprintf("%s: %v", a.Service, err))
		} else if dep, ok := r.Blocked[a.Service]; ok {
			parts = append(parts, fmt.Sprintf("%s: blocked by %s", a.Service, dep))
		}
	}
	return errors.New(strings.Join(parts, "; "))
}

// Start starts the named services (all when none) and their dependencies in dependency
// order, in parallel up to settings.parallelism, each after its dependencies met their
// conditions, and returns when every one of them is ready (healthy when it has a check,
// else started) or failed. A service that runs from the same configuration is left alone.
func (o *Orchestrator) Start(ctx context.Context, names ...string) (Result, error) {
	if err := o.Ready(ctx); err != nil {
		return Result{}, err
	}
	plan, err := PlanStart(o.view().stack, names, o.observed(), Hash)
	if err != nil {
		return Result{}, err
	}
	res := Result{Plan: plan, Failed: map[string]error{}, Blocked: map[string]string{}}
	verbs := map[string]Verb{}
	for _, a := range plan.Actions {
		verbs[a.Service] = a.Verb
	}
	if slices.ContainsFunc(plan.Actions, func(a Action) bool { return a.Verb != VerbKeep }) {
		if err := o.ensureMeshes(ctx); err != nil {
			return res, err
		}
	}
	walkErr := dag.Walk(ctx, plan.graph, dag.WalkOptions{Limit: o.view().stack.Settings.Parallelism}, func(ctx context.Context, name string) error {
		return o.startOne(ctx, o.view().insts[name], verbs[name])
	})
	var werr *dag.WalkError
	if errors.As(walkErr, &werr) {
		for name, err := range werr.Failed {
			var blocked *blockedError
			if errors.As(err, &blocked) {
				res.Blocked[name] = blocked.dep
			} else {
				res.Failed[name] = err
			}
		}
		for name, dep := range werr.Skipped {
			res.Blocked[name] = dep
			o.block(o.view().insts[name], fmt.Sprintf("dependency %s did not start", dep))
		}
	} else if walkErr != nil {
		return res, walkErr
	}
	if len(res.Failed) > 0 {
		o.releaseBridge(ctx)
	}
	// Every started service must be ready before Start returns.
	for _, a := range plan.Actions {
		if _, bad := res.Failed[a.Service]; bad || res.Blocked[a.Service] != "" {
			continue
		}
		inst := o.view().insts[a.Service]
		cond := config.ConditionStarted
		if inst.healthChecked() {
			cond = config.ConditionHealthy
		}
		if err := o.await(ctx, inst, cond); err != nil {
			res.Failed[a.Service] = err
		}
	}
	return res, res.Err()
}

// blockedError is a service that was not started because a dependency failed.
type blockedError struct{ dep string }

func (e *blockedError) Error() string { return "blocked by " + e.dep }

// startOne waits for the dependencies of inst, then starts it as verb says.
func (o *Orchestrator) startOne(ctx context.Context, inst *instance, verb Verb) error {
	if verb == VerbKeep {
		return nil
	}
	waiting := false
	for _, dep := range inst.service().Dependencies {
		if ok, _ := met(o.view().insts[dep.Service].record(), dep.Condition); !ok && !waiting {
			// Show that it waits (status, events) rather than looking stopped.
			waiting = true
			o.update(inst, func(r *registry.Record) {
				if r.State == lifecycle.Running || r.State == lifecycle.Stopping {
					return
				}
				r.State = lifecycle.Starting
				r.Health = lifecycle.HealthNone
				r.Message = fmt.Sprintf("waiting for %s (%s)", dep.Service, dep.Condition)
			})
		}
		if err := o.await(ctx, o.view().insts[dep.Service], dep.Condition); err != nil {
			if ctx.Err() != nil {
				if waiting {
					o.update(inst, func(r *registry.Record) {
						if r.State == lifecycle.Starting {
							r.State, r.Message = lifecycle.Stopped, "start cancelled"
						}
					})
				}
				return err
			}
			o.block(inst, fmt.Sprintf("dependency %s: %v", dep.Service, err))
			return &blockedError{dep: dep.Service}
		}
	}
	inst.op.Lock()
	defer inst.op.Unlock()
	// The plan was made from the records, which a concurrent Start may have changed since;
	// what runs now decides.
	inst.mu.Lock()
	r := inst.run
	inst.mu.Unlock()
	if r != nil {
		if r.hash == Hash(inst.configured()) {
			return nil
		}
		verb = VerbRecreate
	}
	if verb == VerbRecreate {
		if err := o.stopLocked(ctx, inst, "configuration changed"); err != nil {
			return err
		}
	}
	inst.mu.Lock()
	inst.wanted = true
	inst.streak = 0 // a start on request begins a new backoff sequence
	inst.mu.Unlock()
	return o.launch(ctx, inst, 0)
}

// block records that inst was not started because of a dependency.
func (o *Orchestrator) block(inst *instance, why string) {
	o.update(inst, func(r *registry.Record) {
		if r.State == lifecycle.Running || r.State == lifecycle.Stopping {
			return
		}
		r.State = lifecycle.Blocked
		r.Health = lifecycle.HealthNone
		r.Message = why
	})
}

// launch starts one run of inst and supervises it; restarts counts the runs before it.
// The caller holds inst.op.
func (o *Orchestrator) launch(ctx context.Context, inst *instance, restarts int) error {
	if _, err := o.supervision(); err != nil {
		return err
	}
	if inst.record().State != lifecycle.Starting { // already starting when it waited for dependencies
		// Stored while the target starts it (a package's release may be installed first):
		// whoever waits for it waits for the next record.
		o.submit(inst, func(r *registry.Record) {
			r.State = lifecycle.Starting
			r.Health = lifecycle.HealthNone
			r.Message = ""
		}, nil)
	}
	svc := inst.service()
	tgt, err := o.target(svc)
	if err != nil {
		o.fail(inst, err)
		return err
	}
	if restarts > 0 {
		o.repairMeshes(ctx, o.view().stack.NodeName(svc))
	}
	spec, err := o.spec(ctx, tgt, svc)
	if err == nil && svc.Type == config.TypePackage {
		spec, err = o.packageSpec(ctx, inst, spec)
		svc = inst.service() // as its release runs it
	}
	if err != nil {
		o.fail(inst, err)
		return err
	}
	spec.ConfigHash = Hash(inst.configured())
	launched := time.Now()
	inst.mu.Lock()
	inst.launched = launched
	inst.mu.Unlock()
	h, err := tgt.Start(ctx, spec)
	if err != nil {
		err = fmt.Errorf("start %s: %w", inst.key.Service, err)
		o.fail(inst, err)
		return err
	}
	health := lifecycle.HealthNone
	if svc.HealthCheck != nil {
		health = lifecycle.HealthStarting
	} else {
		// Started is ready. Told before the record says so: whoever waited for the record
		// finds the observation made.
		o.obs.Ready(inst.key.Stack, inst.key.Service, time.Since(launched))
	}
	// Stored while the next service starts: whoever waits for this one waits for the record,
	// and inst.run, set by supervise, is what a stop or a second start looks at.
	o.submit(inst, func(r *registry.Record) {
		r.Handle = h
		r.Node = o.view().stack.NodeName(svc)
		r.ConfigHash = spec.ConfigHash
		r.Message = ""
		r.State = lifecycle.Running
		r.Health = health
		r.Restarts = restarts
		r.StartedAt = launched
		r.Endpoints = endpoints(o.view().stack, svc, spec, o.meshAddr(o.view().stack.NodeName(svc)))
		r.Release = inst.release()
	}, nil)
	o.supervise(inst, tgt, h, spec.ConfigHash, launched)
	return nil
}

// fail records that inst could not be started.
func (o *Orchestrator) fail(inst *instance, err error) {
	o.update(inst, func(r *registry.Record) {
		r.State = lifecycle.Failed
		r.Health = lifecycle.HealthNone
		r.Message = err.Error()
	})
}

// observed reads what runs now, from the records.
func (o *Orchestrator) observed() map[string]Observed {
	out := make(map[string]Observed, len(o.view().insts))
	for name, inst := range o.view().insts {
		rec := inst.record()
		out[name] = Observed{Running: rec.State == lifecycle.Running || rec.State == lifecycle.Starting, ConfigHash: rec.ConfigHash}
	}
	return out
}

// spec renders everything tgt needs to start svc.
func (o *Orchestrator) spec(ctx context.Context, tgt target.Target, svc *config.Service) (target.Spec, error) {
	v := o.view()
	resolve := o.resolver(svc)
	env, err := v.stack.Environ(svc, resolve)
	if err != nil {
		return target.Spec{}, err
	}
	if a := o.meshAddr(v.stack.NodeName(svc)); a.IsValid() {
		if _, set := svc.Env.Lookup("HARNESS_MESH_IP"); !set {
			env = append(env, "HARNESS_MESH_IP="+a.String())
		}
	}
	spec := target.Spec{
		Stack:      v.stack.Name,
		Service:    svc.Name,
		Env:        env,
		User:       svc.User,
		StopSignal: svc.StopSignal,
		LogPath:    o.LogPath(svc.Name),
		ConfigHash: Hash(svc),
		Labels:     svc.Labels,
	}
	if svc.IsContainer() {
		if svc.Type == config.TypeRemote {
			spec.LogPath = "" // the agent keeps it
		}
		return spec, o.containerSpec(ctx, tgt, svc, &spec)
	}
	args, err := renderAll(svc.Args, resolve)
	if err != nil {
		return target.Spec{}, fmt.Errorf("args: %w", err)
	}
	if svc.Type == config.TypeRemote || svc.Type == config.TypePackage {
		// On its node: binary and working_dir are paths there, the environment is only
		// what the service declares, and the agent keeps the log.
		spec.Argv = append([]string{svc.Binary}, args...)
		spec.Dir, spec.LogPath = svc.WorkingDir, ""
		return spec, nil
	}
	spec.Env = append(append([]string(nil), v.environ...), env...)
	spec.Argv = []string{svc.Binary}
	if strings.Contains(svc.Binary, "/") && !filepath.IsAbs(svc.Binary) {
		spec.Argv[0] = filepath.Join(v.stack.Dir, svc.Binary)
	}
	spec.Argv = append(spec.Argv, args...)
	spec.Dir = v.stack.Dir
	if svc.WorkingDir != "" {
		spec.Dir = v.stack.LocalPath(svc.WorkingDir)
	}
	return spec, nil
}

// resolver renders the service references of from: each callee at the address from's node
// reaches it at (network.Resolve).
func (o *Orchestrator) resolver(from *config.Service) config.Resolver {
	return func(r config.Ref) (string, error) {
		callee := o.view().insts[r.Service]
		if callee == nil {
			return "", fmt.Errorf("%w: %q", ErrUnknownService, r.Service)
		}
		to, err := o.callee(callee.service()) // a package's ports may come from its manifest
		if err != nil {
			return "", err
		}
		addr, err := network.Resolve(o.place(from), to)
		if err != nil {
			return "", err
		}
		return config.PropertyValue(r.Property, addr.Host, addr.Port)
	}
}

// AddressFrom is the address at which a process on node (network.Local, or a node's name)
// reaches service.
func (o *Orchestrator) AddressFrom(node, service string) (network.Address, error) {
	inst := o.view().insts[service]
	if inst == nil {
		return network.Address{}, fmt.Errorf("%w: %q", ErrUnknownService, service)
	}
	to, err := o.callee(inst.service())
	if err != nil {
		return network.Address{}, err
	}
	return network.Resolve(network.Place{Node: node, Mesh: o.onMesh(node), MeshAddr: o.meshAddr(node)}, to)
}

// place is where svc runs.
func (o *Orchestrator) place(svc *config.Service) network.Place {
	node := o.view().stack.NodeName(svc)
	return network.Place{Node: node, Container: svc.IsContainer(), Mesh: o.onMesh(node), MeshAddr: o.meshAddr(node)}
}

// onMesh reports whether node is on a wireguard network.
func (o *Orchestrator) onMesh(node string) bool {
	st := o.view().stack
	nd := st.Node(node)
	if node == network.Local || nd == nil {
		return false
	}
	n := st.Network(nd.Network)
	return n != nil && n.Type == config.NetworkWireGuard
}

// callee is svc as a caller reaches it: its place, its ports, and its node's addresses (a
// local container's on the stack's bridge).
func (o *Orchestrator) callee(svc *config.Service) (network.Callee, error) {
	c := network.Callee{Place: o.place(svc), Name: svc.Name, Port: firstPort(svc)}
	if c.Container {
		c.Port = publishedPort(svc)
		if len(svc.Ports) > 0 {
			c.BridgePort = svc.Ports[0].Target
		}
	}
	if c.Node != network.Local {
		c.NodeAddr = o.view().stack.Node(svc.Host).Host
		return c, nil
	}
	if c.Container {
		ip, err := o.containerAddr(svc.Name)
		if err != nil {
			return c, err
		}
		c.BridgeIP, _ = netip.ParseAddr(ip)
	}
	return c, nil
}

// firstPort is the host port of svc's first port, 0 when it has none.
func firstPort(svc *config.Service) int {
	if len(svc.Ports) == 0 {
		return 0
	}
	return svc.Ports[0].HostPort()
}

// publishedPort is the first port that container svc publishes on its host; 0 when none.
func publishedPort(svc *config.Service) int {
	for _, p := range svc.Ports {
		if p.Published != 0 {
			return p.Published
		}
	}
	return 0
}

// endpoints are the addresses a service started from spec is reached at: a local process on
// loopback, a local container on its bridge and its published ports, a remote process at its
// node's address on the node's network (mesh, the node's address on its wireguard network),
// a remote container at the ports it publishes there.
func endpoints(st *config.Stack, svc *config.Service, spec target.Spec, mesh netip.Addr) []registry.Endpoint {
	nd := st.Node(svc.Host)
	remote := (svc.Type == config.TypeRemote || svc.Type == config.TypePackage) && nd != nil
	if c := spec.Container; c != nil && !remote {
		return containerEndpoints(svc, c.Network, c.IP)
	}
	network, ip := "loopback", "127.0.0.1"
	if remote {
		network, ip = nd.Network, nd.Host
		if st.Network(nd.Network).Type == config.NetworkWireGuard && mesh.IsValid() {
			ip = mesh.String()
		}
	}
	var out []registry.Endpoint
	for _, p := range svc.Ports {
		port := p.HostPort()
		if spec.Container != nil {
			port = p.Published
		}
		if port != 0 {
			out = append(out, registry.Endpoint{Network: network, IP: ip, Port: port})
		}
	}
	return out
}
