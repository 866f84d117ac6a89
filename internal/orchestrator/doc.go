// Package orchestrator starts, supervises and stops the services of one stack: observe →
// plan → execute. PlanStart and PlanStop are pure (they render as text); Start and Stop
// execute a plan by walking the dependency graph in parallel (settings.parallelism), each
// service after its dependencies met their conditions (started, healthy,
// completed_successfully) and, for a stop, after its dependents stopped.
//
// One run of a service:
//
//	stopped/failed/exited/blocked ──launch──▶ starting ──target.Start──▶ running
//	      ▲                                                     │   │
//	      │            ┌───────── exit (Wait) ◀─────────────────┘   │ probe: health
//	      │            ▼                                             │ starting → healthy ⇄ unhealthy
//	      │   exited (status 0) / failed ──restart policy, backoff──▶ launch
//	      └──────── stopping ◀── Stop (dependents first) ◀──────────┘
//
// Invariants: every state change is written to the registry before anyone waiting on it is
// told; an instance is never started twice at once (a per-instance operation lock serializes
// start, stop and restart, and an exit of a run that was already replaced is ignored); a
// dependency that failed blocks its dependents, which are never started; a service that
// misses its startup_timeout is left running, its dependents are blocked; a stopped service
// is not restarted until it is started again.
//
// Concurrency: Start, Stop and Status may be called from any goroutine while Run runs. Run
// owns every supervision goroutine (exit watchers, probes, restart timers) and waits for them
// when its context ends; ending Run stops supervision, never the services, which the next Run
// adopts from the registry by their handles. The orchestrator never imports a target
// implementation: targets are injected. Nor does it import metrics: an Observer (Options) is
// told of every probe check, of each run's first readiness and of every policy restart,
// synchronously from those goroutines and with no lock of the orchestrator held.
package orchestrator
