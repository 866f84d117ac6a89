// Package health decides whether a service instance is healthy. It has two parts: the
// checkers, each of which makes one attempt of one kind (exec, http, tcp, grpc, log line), and
// the Probe, which runs a checker on a schedule and turns its results into a Status.
//
// Checks run on the node where the service runs (DESIGN.md, "Readiness gates edges"), so the
// checkers take final values: a rendered URL, an address, an argv. FromConfig maps a
// config.HealthCheck to a checker, given a CheckEnv that says where the service is and how
// to reach it. Execer and LineSource are owned here, as small as the checkers need them; the
// orchestrator adapts a target.Execer and the instance's handle to Execer, and the log writer
// implements LineSource.
//
// # Status
//
// A Probe starts in starting. Its Status strings are those of lifecycle.Health ("none" is
// the health of an instance without a probe).
//
//	               successes                  failures
//	  starting ─────────────────▶ healthy ─────────────────▶ unhealthy
//	      │                          ▲                           │  ▲
//	      │                          └──────── successes ────────┘  │
//	      └────────────────────────── failures ─────────────────────┘
//
//	successes: SuccessThreshold consecutive successes
//	failures:  Retries consecutive counted failures
//
// A success resets the failure count and a counted failure the success count. A failure of a
// check that started inside StartPeriod (measured from the start of Run) is not counted: it
// neither adds to the failures nor resets the successes. Neither is a failure, before the
// first success, of one of the quick checks of the backoff (see Timing): failures count from
// the first check that came StartInterval after the one before, so that a service that needs
// a few milliseconds to listen is never seen unhealthy, nor restarted, for it. A success
// counts at any time.
// A Probe never returns to starting; a restarted instance gets a new Probe.
//
// # Timing
//
//   - The first check starts as soon as Run does.
//   - Until the first success, the pause after each check is a quarter of the time since
//     the probe began, in whole milliseconds, at least 1ms and at most StartInterval: checks
//     start at 0, 1, 2, … 8, 10, 12, 15, 18, 22, 27, 33, 41ms…, so a service that listens a
//     few milliseconds late is found within a millisecond, any later one at most a quarter
//     late, and one that takes long is not hammered (about 30 checks in the first second).
//   - From the first success on, for good (failures included), the pause is Interval. Every
//     pause runs from the end of one check to the start of the next, as Docker does: a slow
//     check delays the next rather than running back to back with it.
//   - Each check has Timeout. One that has not returned by then fails with "check timed out
//     after 2s", whatever the checker says once its context has expired.
//
// # Concurrency
//
// Run calls report after every check, synchronously, from its own goroutine; a check
// interrupted because Run's context ended is not reported, and Run returns nil. Status and
// CheckNow are safe to call from any goroutine while Run runs.
//
// The checker never runs concurrently with itself. Each check runs in a goroutine of its own
// so that a checker that ignores its context cannot hold the probe: at the timeout the probe
// cancels the check's context, reports the timeout and goes on. The goroutine keeps a
// one-place slot until the checker returns, and a later check (of Run or CheckNow) waits for
// the slot within its own timeout, failing with "check timed out after 2s: the previous check
// has not returned" if it does not come free. When Run's context ends, Run cancels the check
// in progress and waits for it until its deadline, so with a checker that honours its context
// (all of this package's do) Run leaves no goroutine behind; only a checker that ignores it
// outlives Run, until it returns.
//
// The checkers of this package are safe for concurrent use. LocalExec runs each command in a
// process group of its own and kills the group when the check's context ends.
package health
