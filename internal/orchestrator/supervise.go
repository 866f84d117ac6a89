package orchestrator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/health"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/target"
)

// supervise watches one run of inst: its exit, and its health when it has a check. launched
// is when this orchestrator launched the run, zero for an adopted one.
func (o *Orchestrator) supervise(inst *instance, tgt target.Target, h target.Handle, hash string, launched time.Time) {
	sup, err := o.supervision()
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(sup)
	r := &run{handle: h, hash: hash, launched: launched, cancel: cancel, done: make(chan struct{})}
	inst.mu.Lock()
	inst.run = r
	inst.mu.Unlock()
	if inst.healthChecked() {
		o.spawn(func() { o.probe(ctx, inst, tgt, r) })
	}
	o.spawn(func() {
		defer close(r.done)
		exit, err := waitReachable(ctx, tgt, h)
		if ctx.Err() != nil {
			return // supervision ended, or the run is being stopped: the stopper records it
		}
		note := ""
		if err != nil {
			exit, note = target.Exit{Code: -1, At: time.Now()}, err.Error()
		}
		o.exited(sup, inst, tgt, r, exit, note)
	})
}

// unreachableRetry is the pause before waiting again for a run whose node was out of reach.
const unreachableRetry = time.Second

// waitReachable waits for the run h to end. While its node is out of reach nothing is known
// of the run: it waits again, so that a partition is never taken for an exit (and the run is
// never restarted twice).
func waitReachable(ctx context.Context, tgt target.Target, h target.Handle) (target.Exit, error) {
	for {
		exit, err := tgt.Wait(ctx, h)
		if !errors.Is(err, target.ErrUnreachable) {
			return exit, err
		}
		t := time.NewTimer(unreachableRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return exit, ctx.Err()
		case <-t.C:
		}
	}
}

// exited records the end of a run of inst (r nil: an adopted run that ended while nobody
// watched) and applies the restart policy.
func (o *Orchestrator) exited(ctx context.Context, inst *instance, tgt target.Target, r *run, exit target.Exit, note string) {
	inst.mu.Lock()
	current := inst.run == r
	if current {
		inst.run = nil
	}
	wanted := inst.wanted
	inst.mu.Unlock()
	if !current {
		return // a stale run: whoever replaced it records its end
	}
	if r != nil {
		r.cancel()
	}
	msg := describe(exit)
	if note != "" {
		msg += ": " + note
	}
	rec := o.update(inst, func(rec *registry.Record) {
		rec.LastExit = &exit
		rec.Health = lifecycle.HealthNone
		rec.Message = msg
		rec.State = lifecycle.Failed
		if exit.Success() {
			rec.State = lifecycle.Exited
		}
	})
	if !wanted || !restarts(inst.service().Restart, exit) {
		return
	}
	o.scheduleRestart(ctx, inst, rec, exit)
}

// restarts reports whether policy restarts a run that ended with exit.
func restarts(policy config.Restart, exit target.Exit) bool {
	switch policy.Policy {
	case config.RestartAlways, config.RestartUnlessStopped:
		return true
	case config.RestartOnFailure:
		return !exit.Success()
	}
	return false
}

// scheduleRestart starts inst again after the backoff its policy gives.
func (o *Orchestrator) scheduleRestart(ctx context.Context, inst *instance, rec registry.Record, exit target.Exit) {
	policy := inst.service().Restart
	if policy.MaxRestarts > 0 && rec.Restarts >= policy.MaxRestarts {
		o.update(inst, func(r *registry.Record) {
			r.Message += fmt.Sprintf("; gave up after %d restarts", rec.Restarts)
		})
		return
	}
	inst.mu.Lock()
	if !rec.StartedAt.IsZero() && exit.At.Sub(rec.StartedAt) >= policy.ResetAfter.Std() {
		inst.streak = 0
	}
	delay := Backoff(policy.Backoff, inst.streak, rand.Float64())
	inst.streak++
	inst.mu.Unlock()
	o.spawn(func() {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		inst.op.Lock()
		defer inst.op.Unlock()
		inst.mu.Lock()
		ok := inst.wanted && inst.run == nil
		inst.mu.Unlock()
		if ok && !inst.record().State.Active() {
			o.obs.Restarted(inst.key.Stack, inst.key.Service)
			_ = o.launch(ctx, inst, rec.Restarts+1) // a failed launch is recorded as failed
		}
	})
}

// Backoff is the delay before restart number n+1 (n from 0): Initial × Multiplier^n, at
// most Max, varied by ±Jitter using u, a uniform random number in [0, 1).
func Backoff(b config.Backoff, n int, u float64) time.Duration {
	d := float64(b.Initial.Std()) * math.Pow(b.Multiplier, float64(n))
	d = min(d, float64(b.Max.Std()))
	d *= 1 + b.Jitter*(2*u-1)
	return time.Duration(d)
}

// describe says how a run ended.
func describe(exit target.Exit) string {
	switch {
	case exit.Signal != "":
		return "killed by " + exit.Signal
	case exit.Code < 0:
		return "exited (status unknown)"
	}
	return fmt.Sprintf("exited with status %d", exit.Code)
}

// probe runs the health check of one run and records every change of health; a run that
// turns unhealthy is restarted when the policy restarts failures. Every check, and the first
// time the run is healthy, are told to the observer.
func (o *Orchestrator) probe(ctx context.Context, inst *instance, tgt target.Target, r *run) {
	svc := inst.service()
	checker, err := health.FromConfig(svc.HealthCheck, o.checkEnv(svc, tgt, r.handle, inst.record().StartedAt))
	if err != nil {
		o.update(inst, func(rec *registry.Record) { rec.Message = "health check: " + err.Error() })
		return
	}
	p := health.NewProbe(checker, health.ParamsFrom(svc.HealthCheck))
	if pinger, ok := tgt.(target.Pinger); ok {
		p.SetGate(pinger.Ping) // a check that failed because the node is out of reach does not count
	}
	kind := string(svc.HealthCheck.Kind())
	ready := r.launched.IsZero() // an adopted run: its launch was not seen, so it is not timed
	_ = p.Run(ctx, func(res health.Result) {
		if ctx.Err() != nil {
			return
		}
		// Latency is that of the probe: a check that ran past its timeout counts as the timeout.
		o.obs.ProbeDone(inst.key.Stack, inst.key.Service, kind, res.Latency, res.Err == nil)
		if !res.Changed {
			return
		}
		if res.Status == health.StatusHealthy && !ready {
			// Told before the record says healthy: whoever waited for it finds it observed.
			ready = true
			o.obs.Ready(inst.key.Stack, inst.key.Service, res.At.Sub(r.launched))
		}
		msg := ""
		if res.Err != nil {
			msg = res.Err.Error()
		}
		o.update(inst, func(rec *registry.Record) {
			if rec.Handle != r.handle || rec.State != lifecycle.Running {
				return
			}
			rec.Health = lifecycle.Health(res.Status)
			rec.Message = msg
		})
		if res.Status == health.StatusUnhealthy && svc.Restart.Policy != config.RestartNo {
			o.spawn(func() { o.restartUnhealthy(inst, r) })
		}
	})
}

// restartUnhealthy stops the run r of inst, which turned unhealthy, and starts it again.
func (o *Orchestrator) restartUnhealthy(inst *instance, r *run) {
	ctx, err := o.supervision()
	if err != nil {
		return
	}
	inst.op.Lock()
	defer inst.op.Unlock()
	inst.mu.Lock()
	current := inst.run == r && inst.wanted
	inst.mu.Unlock()
	if !current {
		return
	}
	restarts := inst.record().Restarts
	if err := o.stopLocked(ctx, inst, "restarted: unhealthy"); err != nil {
		return
	}
	o.obs.Restarted(inst.key.Stack, inst.key.Service)
	_ = o.launch(ctx, inst, restarts+1)
}

// inspectTimeout bounds the Inspect that finds a remote container's address for its checks.
const inspectTimeout = 10 * time.Second

// checkEnv is where the checks of the run h of svc run: on its target, which delivers its
// output from since; a container is reached at its bridge address.
func (o *Orchestrator) checkEnv(svc *config.Service, tgt target.Target, h target.Handle, since time.Time) health.CheckEnv {
	host := "127.0.0.1"
	switch {
	case svc.IsContainer() && svc.Type == config.TypeRemote:
		// On its node's bridge, at the address the node's engine gave it.
		ctx, cancel := context.WithTimeout(context.Background(), inspectTimeout)
		st, err := tgt.Inspect(ctx, h)
		cancel()
		if err == nil {
			host = st.IP
		}
	case svc.IsContainer():
		host, _ = o.containerAddr(svc.Name) // none: checks that need it say so
	case o.onMesh(o.view().stack.NodeName(svc)):
		// A process of a wireguard node is checked where the others reach it.
		if a := o.meshAddr(o.view().stack.NodeName(svc)); a.IsValid() {
			host = a.String()
		}
	}
	env := health.CheckEnv{
		Host:   host,
		Render: func(t config.Template) (string, error) { return t.Render(o.resolver(svc)) },
		Execer: health.LocalExec{},
		Lines:  logLines{tgt: tgt, h: h, since: since, spawn: o.spawn},
	}
	if ex, ok := tgt.(target.Execer); ok {
		env.Execer = execer{ex, h}
	}
	if d, ok := tgt.(target.Dialer); ok {
		env.Dial = d.DialContext // from the service's host: its loopback is its own
	}
	return env
}

type execer struct {
	ex target.Execer
	h  target.Handle
}

func (e execer) Exec(ctx context.Context, argv []string) (int, []byte, error) {
	res, err := e.ex.Exec(ctx, e.h, argv)
	return res.ExitCode, res.Output, err
}

// logLines delivers the new output of a run to log_line checks.
type logLines struct {
	tgt   target.Target
	h     target.Handle
	since time.Time    // the start of the run: a line printed before the probe began counts
	spawn func(func()) // the orchestrator's, so that Run waits for the reader
}

func (l logLines) Subscribe(ctx context.Context) (<-chan string, error) {
	rc, err := l.tgt.Logs(ctx, l.h, target.LogOptions{Follow: true, Since: l.since})
	if err != nil {
		return nil, err
	}
	out := make(chan string)
	l.spawn(func() {
		defer close(out)
		defer rc.Close()
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			text := sc.Text()
			if line, err := logfile.ParseLine(sc.Bytes()); err == nil {
				text = line.Text
			}
			select {
			case out <- text:
			case <-ctx.Done():
				return
			}
		}
	})
	return out, nil
}
