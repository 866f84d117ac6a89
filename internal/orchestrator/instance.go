package orchestrator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/deploy"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/target"
)

// instance is the orchestrator's view of one service instance: its last record, and the
// supervision of its current run.
type instance struct {
	key registry.Key

	// op serializes start, stop and restart of this instance, so that concurrent requests
	// never start it twice.
	op sync.Mutex

	mu       sync.Mutex
	svc      *config.Service // its definition: replaced by Update, never changed in place
	eff      *config.Service // svc completed by the manifest of rel (package services)
	rel      *registry.Release
	man      *deploy.Manifest
	rec      registry.Record
	changed  chan struct{} // closed and replaced at every record change
	pending  int           // changes submitted and not yet stored
	wanted   bool          // it should run: started and not stopped since
	run      *run          // the supervised run, nil when none
	launched time.Time     // when the current run was started, for startup_timeout
	streak   int           // restarts since the last run that lasted reset_after
}

// run is the supervision of one started instance.
type run struct {
	handle   target.Handle
	hash     string             // the configuration hash it was started from
	launched time.Time          // when it was launched, zero when adopted: readiness counts from it
	cancel   context.CancelFunc // ends the probe and the exit watcher
	done     chan struct{}      // closed when the exit watcher returned
}

func newInstance(stack string, svc *config.Service) *instance {
	key := registry.Key{Stack: stack, Service: svc.Name}
	return &instance{
		svc:     svc,
		key:     key,
		rec:     registry.Record{Key: key, State: lifecycle.Stopped, Health: lifecycle.HealthNone},
		changed: make(chan struct{}),
	}
}

// service returns the definition of the instance's service, as it runs: for a package
// service, completed by the manifest of its release.
func (i *instance) service() *config.Service {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.eff != nil {
		return i.eff
	}
	return i.svc
}

// configured returns the definition of the instance's service in the services file; its
// Hash is the instance's configuration hash.
func (i *instance) configured() *config.Service {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.svc
}

// setService replaces the definition of the service, from st.
func (i *instance) setService(st *config.Stack, svc *config.Service) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.svc = svc
	if i.man != nil {
		i.eff = effective(st, svc, i.man)
	}
}

// setRelease records that the instance runs the package release rel of manifest m.
func (i *instance) setRelease(st *config.Stack, rel *registry.Release, m *deploy.Manifest) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rel, i.man, i.eff = rel, m, effective(st, i.svc, m)
}

// release returns the package release the instance runs; nil when none.
func (i *instance) release() *registry.Release {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rel
}

func (i *instance) record() registry.Record {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rec
}

func (i *instance) setRecord(rec registry.Record) {
	i.mu.Lock()
	i.rec = rec
	close(i.changed)
	i.changed = make(chan struct{})
	i.mu.Unlock()
}

// submitted counts a change on its way to the registry; stored, its end.
func (i *instance) submitted() {
	i.mu.Lock()
	i.pending++
	i.mu.Unlock()
}

func (i *instance) stored(rec registry.Record) {
	i.mu.Lock()
	i.pending--
	i.mu.Unlock()
	i.setRecord(rec)
}

// snapshot returns the record, a channel closed at its next change, and whether changes
// are on their way: then the record may be about to move on.
func (i *instance) snapshot() (registry.Record, <-chan struct{}, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rec, i.changed, i.pending > 0
}

// healthChecked reports whether readiness means healthy for this service.
func (i *instance) healthChecked() bool { return i.service().HealthCheck != nil }

// met reports whether rec satisfies cond: true when met, an error when it never will
// (until something starts the service again), false to wait.
func met(rec registry.Record, cond config.Condition) (bool, error) {
	switch rec.State {
	case lifecycle.Failed:
		return false, fmt.Errorf("%s failed: %s", rec.Key.Service, rec.Message)
	case lifecycle.Blocked:
		return false, fmt.Errorf("%s is blocked: %s", rec.Key.Service, rec.Message)
	case lifecycle.Stopped, lifecycle.Stopping:
		if !rec.Handle.IsZero() && cond != config.ConditionCompletedSuccessfully {
			return false, fmt.Errorf("%s was stopped", rec.Key.Service)
		}
	}
	switch cond {
	case config.ConditionStarted:
		return rec.State == lifecycle.Running || rec.State == lifecycle.Exited, nil
	case config.ConditionHealthy:
		if rec.State == lifecycle.Exited {
			return false, fmt.Errorf("%s exited before it was healthy", rec.Key.Service)
		}
		return rec.State == lifecycle.Running && rec.Health == lifecycle.HealthHealthy, nil
	case config.ConditionCompletedSuccessfully:
		return rec.State == lifecycle.Exited, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// await waits until inst meets cond, fails, or its startup_timeout (counted from its launch)
// passes.
func (o *Orchestrator) await(ctx context.Context, inst *instance, cond config.Condition) error {
	return o.awaitWith(ctx, inst, cond, met)
}

// awaitReady waits as await does, and fails as soon as inst turns unhealthy, or exits.
func (o *Orchestrator) awaitReady(ctx context.Context, inst *instance, cond config.Condition) error {
	return o.awaitWith(ctx, inst, cond, func(rec registry.Record, cond config.Condition) (bool, error) {
		switch {
		case rec.State == lifecycle.Running && rec.Health == lifecycle.HealthUnhealthy:
			return false, fmt.Errorf("%s is unhealthy: %s", rec.Key.Service, rec.Message)
		case rec.State == lifecycle.Exited:
			return false, fmt.Errorf("%s exited: %s", rec.Key.Service, rec.Message)
		}
		return met(rec, cond)
	})
}

func (o *Orchestrator) awaitWith(ctx context.Context, inst *instance, cond config.Condition, met func(registry.Record, config.Condition) (bool, error)) error {
	for {
		rec, changed, pending := inst.snapshot()
		ok, err := met(rec, cond)
		if ok || (err != nil && !pending) {
			return err
		}
		inst.mu.Lock()
		timeout := inst.svc.StartupTimeout.Std()
		deadline := inst.launched.Add(timeout)
		launched := !inst.launched.IsZero()
		inst.mu.Unlock()
		var timer *time.Timer
		var expired <-chan time.Time
		if launched {
			timer = time.NewTimer(time.Until(deadline))
			expired = timer.C
		}
		select {
		case <-changed:
		case <-expired:
			return &TimeoutError{Service: inst.key.Service, After: timeout, Condition: cond}
		case <-ctx.Done():
			return ctx.Err()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// TimeoutError reports a service that did not meet a condition within its startup_timeout.
// The service is left running.
type TimeoutError struct {
	Service   string
	After     time.Duration
	Condition config.Condition
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s not %s after %s (startup_timeout); left running", e.Service, e.Condition, e.After)
}
