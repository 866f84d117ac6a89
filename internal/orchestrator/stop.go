package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/graph-network-harness/harness/internal/dag"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/target"
)

// Stop stops the named services (all when none) and every running service that depends on
// them, dependents first, in parallel up to settings.parallelism. Stopping a service that
// does not run succeeds. A stopped service is not restarted until it is started again.
func (o *Orchestrator) Stop(ctx context.Context, names ...string) (Result, error) {
	if err := o.Ready(ctx); err != nil {
		return Result{}, err
	}
	plan, err := PlanStop(o.view().stack, names, o.observed())
	if err != nil {
		return Result{}, err
	}
	res := Result{Plan: plan, Failed: map[string]error{}, Blocked: map[string]string{}}
	planned := map[string]bool{}
	for _, a := range plan.Actions {
		planned[a.Service] = true
	}
	walkErr := dag.Walk(ctx, plan.graph, dag.WalkOptions{Limit: o.view().stack.Settings.Parallelism, Reverse: true}, func(ctx context.Context, name string) error {
		inst := o.view().insts[name]
		inst.op.Lock()
		defer inst.op.Unlock()
		inst.mu.Lock()
		inst.wanted = false
		inst.mu.Unlock()
		if !planned[name] {
			o.settle(inst)
			return nil
		}
		return o.stopLocked(ctx, inst, "stopped on request")
	})
	var werr *dag.WalkError
	if errors.As(walkErr, &werr) {
		for name, err := range werr.Failed {
			res.Failed[name] = err
		}
		for name, dep := range werr.Skipped {
			res.Failed[name] = fmt.Errorf("not stopped: %s could not be stopped first", dep)
		}
	} else if walkErr != nil {
		return res, walkErr
	}
	return res, res.Err()
}

// settle marks a service that does not run as stopped (an exited, failed or blocked one).
func (o *Orchestrator) settle(inst *instance) {
	if st := inst.record().State; st == lifecycle.Stopped || st.Active() {
		return
	}
	o.update(inst, func(r *registry.Record) { r.State = lifecycle.Stopped })
}

// stopLocked stops the current run of inst, if any, and records it stopped with why. The
// caller holds inst.op.
func (o *Orchestrator) stopLocked(ctx context.Context, inst *instance, why string) error {
	inst.mu.Lock()
	r := inst.run
	inst.run = nil
	inst.mu.Unlock()
	rec := inst.record()
	if r == nil && !rec.State.Active() {
		o.settle(inst)
		return nil
	}
	h := rec.Handle
	if r != nil {
		h = r.handle // the record of a run just launched may not be stored yet
	}
	svc := inst.service()
	tgt, err := o.target(svc)
	if err != nil {
		return err
	}
	if r != nil {
		r.cancel() // end the probe and the exit watcher first: this stop is not a crash
	}
	o.update(inst, func(r *registry.Record) { r.State = lifecycle.Stopping })
	o.stopScript(ctx, inst, tgt, h)
	stopErr := tgt.Stop(ctx, h, svc.ShutdownTimeout.Std())
	if r != nil {
		<-r.done
	}
	if stopErr != nil {
		err := fmt.Errorf("stop %s: %w", inst.key.Service, stopErr)
		o.update(inst, func(r *registry.Record) {
			r.State = lifecycle.Failed
			r.Message = err.Error()
		})
		return err
	}
	st, _ := tgt.Inspect(ctx, h)
	o.update(inst, func(r *registry.Record) {
		r.State = lifecycle.Stopped
		r.Health = lifecycle.HealthNone
		r.Message = why
		if st.Exit != nil {
			r.LastExit = st.Exit
		}
	})
	return nil
}

// Down stops every service of the stack, as Stop does, then removes what they leave
// behind: their instances (a stopped container), the stack's networks and, with volumes,
// its named volumes. Logs and history stay. An instance that cannot be removed is reported
// as failed; the others are removed all the same.
func (o *Orchestrator) Down(ctx context.Context, volumes bool) (Result, error) {
	res, err := o.Stop(ctx)
	if err != nil {
		return res, err
	}
	v := o.view()
	for _, svc := range v.stack.Services {
		if err := o.remove(ctx, v.insts[svc.Name]); err != nil {
			res.Failed[svc.Name] = err
		}
	}
	if err := errors.Join(o.removeStack(ctx, volumes), o.downMeshes(ctx)); err != nil {
		return res, fmt.Errorf("down %s: %w", v.stack.Name, err)
	}
	return res, res.Err()
}

// remove removes the stopped instance of inst, if any, and forgets its handle and addresses.
func (o *Orchestrator) remove(ctx context.Context, inst *instance) error {
	inst.op.Lock()
	defer inst.op.Unlock()
	rec := inst.record()
	if rec.Handle.IsZero() || rec.State.Active() {
		return nil
	}
	tgt, err := o.target(inst.service())
	if err != nil {
		return err
	}
	if err := tgt.Remove(ctx, rec.Handle); err != nil && !errors.Is(err, target.ErrNotFound) {
		return fmt.Errorf("remove %s: %w", inst.key.Service, err)
	}
	o.update(inst, func(r *registry.Record) {
		r.Handle = target.Handle{}
		r.Endpoints = nil
	})
	return nil
}
