// Package telemetry provides the daemon's Prometheus metrics: Metrics records what the
// orchestrators observe (it satisfies orchestrator.Observer, which the daemon wires it in
// as) and serves everything in the Prometheus text format from Handler, for GET /metrics.
//
// Series (every one labelled with the stack; durations in seconds):
//
//	harness_probe_duration_seconds{stack,service,kind}      histogram, each health check
//	harness_probes_total{stack,service,kind,result}         counter, result success|failure
//	harness_start_to_ready_seconds{stack,service}           histogram, launch to ready
//	harness_restarts_total{stack,service}                   counter, restart-policy restarts
//	harness_services{stack,state}                           gauge, services by state
//	harness_services_health{stack,health}                   gauge, services by health
//	harness_service_up{stack,service}                       gauge, 1 when running
//	harness_service_restarts{stack,service}                 gauge, the record's restart count
//
// plus the Go runtime (go_*), the process (process_*) and the handler's own
// (promhttp_metric_handler_*) series.
//
// Invariants: a Metrics has its own registry, never the global default one, so two of them
// (two daemons in one test binary) do not collide. The gauges are computed at each scrape
// from the source given to SetSource, so they are never stale; states and healths that
// lifecycle knows are reported for every stack, at 0 when no service has them, so that a
// series does not vanish when its count drops to zero. The probe and restart counters of a
// service exist, at 0, from its first probe or readiness on.
//
// Concurrency: every method may be called from any goroutine, at the same time as scrapes.
// The source is called once per scrape, possibly concurrently with itself when scrapes
// overlap.
package telemetry
