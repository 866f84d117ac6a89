package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/health"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/target"
)

// ErrServiceNotRunning: an operation on a service's current run found none.
var ErrServiceNotRunning = errors.New("service is not running")

// current returns the target and the handle of the current run of service.
func (o *Orchestrator) current(service string) (*instance, target.Target, target.Handle, error) {
	inst := o.view().insts[service]
	if inst == nil {
		return nil, nil, target.Handle{}, fmt.Errorf("%w: %q", ErrUnknownService, service)
	}
	inst.mu.Lock()
	r := inst.run
	inst.mu.Unlock()
	h := inst.record().Handle
	if r != nil {
		h = r.handle
	} else if !inst.record().State.Active() || h.IsZero() {
		return nil, nil, target.Handle{}, fmt.Errorf("%s: %w", service, ErrServiceNotRunning)
	}
	tgt, err := o.target(inst.service())
	if err != nil {
		return nil, nil, target.Handle{}, err
	}
	return inst, tgt, h, nil
}

// Exec runs argv where the current run of service runs (for a process: its host, its working
// directory and environment), through its target, and waits for it to end.
func (o *Orchestrator) Exec(ctx context.Context, service string, argv []string) (target.ExecResult, error) {
	_, tgt, h, err := o.current(service)
	if err != nil {
		return target.ExecResult{}, err
	}
	ex, ok := tgt.(target.Execer)
	if !ok {
		return target.ExecResult{}, fmt.Errorf("exec in %s: %w", service, target.ErrUnsupported)
	}
	return ex.Exec(ctx, h, argv)
}

// Check runs the health check of service once, now, where the service runs, within the
// check's timeout, and returns its verdict (nil: healthy) and how long it took. A log_line
// check watches the output as it comes and has no verdict of its own at one moment: it
// reports the probe's current one.
func (o *Orchestrator) Check(ctx context.Context, service string) (time.Duration, error) {
	inst, tgt, h, err := o.current(service)
	if err != nil {
		return 0, err
	}
	hc := inst.service().HealthCheck
	if hc == nil {
		return 0, fmt.Errorf("%s: no health check", service)
	}
	if hc.Kind() == config.CheckLogLine {
		rec := inst.record()
		if rec.Health == lifecycle.HealthHealthy {
			return 0, nil
		}
		return 0, fmt.Errorf("log line %q not seen yet (probe: %s)", hc.LogLine, rec.Health)
	}
	checker, err := health.FromConfig(hc, o.checkEnv(inst.service(), tgt, h, time.Now()))
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout.Std())
	defer cancel()
	t0 := time.Now()
	err = checker.Check(ctx)
	return time.Since(t0), err
}
