package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/graph-network-harness/harness/config"
)

// Status is what a Probe says about its service. The strings are those of lifecycle.Health,
// which this package does not import (health sits beside lifecycle, not above it); "none",
// the health of a service without a running probe, is not a status a Probe can have.
type Status string

// The statuses of a Probe.
const (
	// StatusStarting: no decision yet (fewer results than the thresholds ask for).
	StatusStarting Status = "starting"
	// StatusHealthy: SuccessThreshold consecutive successes.
	StatusHealthy Status = "healthy"
	// StatusUnhealthy: Retries consecutive counted failures.
	StatusUnhealthy Status = "unhealthy"
)

// Params time a Probe. NewProbe replaces values that are out of range: a non-positive
// Interval with config.DefaultHealthCheckInterval, Timeout with the smaller of
// config.DefaultCheckTimeout and Interval, StartInterval with the smaller of
// config.DefaultStartInterval and Interval, a negative StartPeriod with 0, and a Retries or
// SuccessThreshold below 1 with 1.
type Params struct {
	// Interval is the pause between the end of one check and the start of the next, once a
	// check has succeeded.
	Interval time.Duration
	// Timeout bounds each check, including any wait for a previous check that ignored its
	// own timeout.
	Timeout time.Duration
	// StartPeriod is a grace measured from the start of Run: a failed check that started
	// inside it does not count.
	StartPeriod time.Duration
	// StartInterval caps the backoff between checks until the first success.
	StartInterval time.Duration
	// Retries is the number of consecutive counted failures that make the service unhealthy.
	Retries int
	// SuccessThreshold is the number of consecutive successes that make it healthy.
	SuccessThreshold int
}

// ParamsFrom returns the Params of a configured check; nil gives the zero Params (all
// defaults, see Params).
func ParamsFrom(h *config.HealthCheck) Params {
	if h == nil {
		return Params{}
	}
	return Params{
		Interval:         h.Interval.Std(),
		Timeout:          h.Timeout.Std(),
		StartPeriod:      h.StartPeriod.Std(),
		StartInterval:    h.StartInterval.Std(),
		Retries:          h.Retries,
		SuccessThreshold: h.SuccessThreshold,
	}
}

// normalize applies the replacements that Params documents.
func (p Params) normalize() Params {
	if p.Interval <= 0 {
		p.Interval = config.DefaultHealthCheckInterval
	}
	if p.Timeout <= 0 {
		p.Timeout = min(config.DefaultCheckTimeout, p.Interval)
	}
	if p.StartInterval <= 0 {
		p.StartInterval = min(config.DefaultStartInterval, p.Interval)
	}
	p.StartPeriod = max(p.StartPeriod, 0)
	p.Retries = max(p.Retries, 1)
	p.SuccessThreshold = max(p.SuccessThreshold, 1)
	return p
}

// startPause is the pause after a check before the first success: a quarter of elapsed, the
// time since the probe began, in whole milliseconds, at least 1ms and at most startInterval.
// A service that needs a few milliseconds to listen is seen healthy within a millisecond of
// it, and any later one at most a quarter late; one that takes long is not hammered (about
// 30 checks in the first second, then fewer and fewer, down to one per StartInterval).
func startPause(elapsed, startInterval time.Duration) time.Duration {
	return min(max(elapsed/4, time.Millisecond).Truncate(time.Millisecond), startInterval)
}

// Result is the outcome of one check.
type Result struct {
	// At is when the check ended (or was given up at its timeout).
	At time.Time
	// Err is nil for a success, else the real cause.
	Err error
	// Latency is how long the check took, up to Timeout.
	Latency time.Duration
	// Status is the probe's status after this result.
	Status Status
	// Changed reports whether this result changed Status.
	Changed bool
}

// Probe runs a Checker on a schedule and turns its results into a Status. See the package
// documentation for the timing rules.
type Probe struct {
	checker Checker
	params  Params
	gate    func(context.Context) error

	// slot is held (a value in it) while the checker runs, including a Check that a probe
	// gave up on at its timeout and that has not returned yet: the checker never runs
	// concurrently with itself, not even with CheckNow.
	slot chan struct{}

	mu      sync.Mutex
	status  Status
	running bool
}

// NewProbe returns a Probe in status starting that runs c with the timing p.
func NewProbe(c Checker, p Params) *Probe {
	return &Probe{checker: c, params: p.normalize(), slot: make(chan struct{}, 1), status: StatusStarting}
}

// SetGate makes every failed check ask gate before the failure counts: when gate fails too,
// the failure says nothing of the service (its node is out of reach) and is not counted
// either way; its Result has Err wrapping ErrInconclusive. Call it before Run.
func (p *Probe) SetGate(gate func(context.Context) error) { p.gate = gate }

// ErrInconclusive is the error of a check that failed while the probe's gate failed too.
var ErrInconclusive = errors.New("not counted")

// Params returns the probe's timing, after NewProbe's replacements.
func (p *Probe) Params() Params { return p.params }

// Status returns the probe's current status.
func (p *Probe) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// ErrRunning is returned by Run when the probe is already running.
var ErrRunning = errors.New("health: probe already running")

// Run checks until ctx ends, then returns nil. It calls report after every check, from its
// own goroutine, before it schedules the next check; a check interrupted by the end of ctx is
// not reported. Run returns ErrRunning if another Run of p has not returned.
func (p *Probe) Run(ctx context.Context, report func(Result)) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return ErrRunning
	}
	p.running = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
	}()

	var (
		start     = time.Now()
		successes int // consecutive
		failures  int // consecutive, counted ones only
		succeeded bool
		waited    time.Duration // before this check
	)
	for {
		began := time.Now()
		latency, err := p.check(ctx)
		if err != nil && p.gate != nil && ctx.Err() == nil {
			if gerr := p.gate(ctx); gerr != nil {
				err = fmt.Errorf("%w: %w (%v)", ErrInconclusive, gerr, err)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		p.mu.Lock()
		before := p.status
		switch {
		case errors.Is(err, ErrInconclusive):
		case err == nil:
			succeeded = true
			failures = 0
			successes++
			if successes >= p.params.SuccessThreshold {
				p.status = StatusHealthy
			}
		// Before the first success, the quick checks of the backoff only look for readiness:
		// a failure counts once checks come at StartInterval, so that a service that needs a
		// few milliseconds to listen is never seen unhealthy for it.
		case began.Sub(start) >= p.params.StartPeriod && (succeeded || waited >= p.params.StartInterval):
			successes = 0
			failures++
			if failures >= p.params.Retries {
				p.status = StatusUnhealthy
			}
		}
		r := Result{At: began.Add(latency), Err: err, Latency: latency, Status: p.status, Changed: p.status != before}
		p.mu.Unlock()
		report(r)

		wait := p.params.Interval
		if !succeeded {
			wait = startPause(time.Since(start), p.params.StartInterval)
		}
		waited = wait
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// CheckNow runs one check with the probe's timeout and returns its result, for an on-demand
// check such as `harness health`. It leaves the status and the counters as they are: Status
// is the current status and Changed is false. It waits for a check of Run in progress, within
// the timeout. An interrupted check reports ctx's error.
func (p *Probe) CheckNow(ctx context.Context) Result {
	began := time.Now()
	latency, err := p.check(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return Result{At: began.Add(latency), Err: err, Latency: latency, Status: p.Status()}
}

// check makes one attempt within Timeout and returns its error and how long it took.
//
// The checker runs in a goroutine so that one which ignores its context cannot hold the
// probe past Timeout: at the deadline check stops waiting and reports a timeout. The
// goroutine keeps the slot until the checker returns, so the next attempt waits for it
// (again within Timeout) rather than run the checker twice at once. When ctx ends, check
// waits for the goroutine up to the deadline: a checker that honours its context has then
// returned, so Run leaves nothing behind.
func (p *Probe) check(ctx context.Context) (time.Duration, error) {
	timeout := p.params.Timeout
	began := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	timedOut := func() (time.Duration, error) {
		return timeout, fmt.Errorf("check timed out after %s", timeout)
	}

	select {
	case p.slot <- struct{}{}:
	case <-deadline.C:
		latency, err := timedOut()
		return latency, fmt.Errorf("%w: the previous check has not returned", err)
	case <-ctx.Done():
		return time.Since(began), ctx.Err()
	}
	cctx, cancel := context.WithDeadline(ctx, began.Add(timeout))
	defer cancel()
	done := make(chan error, 1) // buffered: an abandoned goroutine must not block on it
	go func() {
		err := p.checker.Check(cctx)
		<-p.slot // free the slot before the result is seen, so the next attempt finds it free
		done <- err
	}()
	select {
	case err := <-done:
		latency := time.Since(began)
		switch {
		case ctx.Err() != nil:
			return latency, ctx.Err()
		case err != nil && cctx.Err() != nil:
			// The checker ran into the deadline; whatever it says ("i/o timeout",
			// "context deadline exceeded", "signal: killed"), the cause is the timeout.
			return timedOut()
		}
		return latency, err
	case <-deadline.C:
		cancel()
		if ctx.Err() != nil {
			return time.Since(began), ctx.Err()
		}
		return timedOut()
	}
}
