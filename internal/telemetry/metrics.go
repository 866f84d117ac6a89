package telemetry

import (
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/graph-network-harness/harness/internal/lifecycle"
)

// The outcomes of a probe check, values of the result label of harness_probes_total.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// ServiceState is what a scrape reports of one service: its record, as the orchestrator
// holds it. State and Health are the strings of lifecycle.State and lifecycle.Health.
type ServiceState struct {
	Stack, Service string
	State, Health  string
	// Restarts is the restart count of the record: runs before the current one since the
	// service was last started on request.
	Restarts int
}

// Metrics holds the daemon's metrics and serves them. The zero value is not usable: call
// NewMetrics.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	probeSeconds *prometheus.HistogramVec
	probes       *prometheus.CounterVec
	readySeconds *prometheus.HistogramVec
	restarts     *prometheus.CounterVec

	source atomic.Pointer[func() []ServiceState] // nil: no service gauges
}

// NewMetrics returns Metrics on a registry of their own, with the Go runtime and process
// collectors, and no source of service states yet.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		probeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "harness_probe_duration_seconds",
			Help:    "How long each health check of a service's probe took (a timed-out check counts as its timeout).",
			Buckets: thirdsOfDecade(100e-6, 10),
		}, []string{"stack", "service", "kind"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harness_probes_total",
			Help: "Health checks of a service's probe, by result (success or failure).",
		}, []string{"stack", "service", "kind", "result"}),
		readySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "harness_start_to_ready_seconds",
			Help:    "Time from the launch of a run to its first readiness: healthy with a health check, else started.",
			Buckets: thirdsOfDecade(1e-3, 300),
		}, []string{"stack", "service"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harness_restarts_total",
			Help: "Restarts launched by a service's restart policy, after an exit or on turning unhealthy.",
		}, []string{"stack", "service"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.probeSeconds, m.probes, m.readySeconds, m.restarts,
		servicesCollector{m},
	)
	// Built once: InstrumentMetricHandler registers the handler's own counters.
	m.handler = promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	return m
}

// Handler serves the metrics in the Prometheus text format (OpenMetrics is not offered).
// A scrape that cannot gather every metric answers 500 with the cause.
func (m *Metrics) Handler() http.Handler { return m.handler }

// SetSource makes fn what each scrape reports the services from: harness_services,
// harness_services_health, harness_service_up and harness_service_restarts. fn must be safe
// for concurrent use; nil removes the source. Of two states of one service, the first counts.
func (m *Metrics) SetSource(fn func() []ServiceState) {
	if fn == nil {
		m.source.Store(nil)
		return
	}
	m.source.Store(&fn)
}

// ProbeDone records one health check of the probe of a service, of kind kind (a
// config.CheckKind), that took d and passed when healthy.
func (m *Metrics) ProbeDone(stack, service, kind string, d time.Duration, healthy bool) {
	m.probeSeconds.WithLabelValues(stack, service, kind).Observe(d.Seconds())
	// Both results exist from the first check on, so that a rate of failures starts at 0.
	ok := m.probes.WithLabelValues(stack, service, kind, ResultSuccess)
	failed := m.probes.WithLabelValues(stack, service, kind, ResultFailure)
	if healthy {
		ok.Inc()
	} else {
		failed.Inc()
	}
}

// Ready records that a run of a service became ready d after its launch.
func (m *Metrics) Ready(stack, service string, d time.Duration) {
	m.readySeconds.WithLabelValues(stack, service).Observe(d.Seconds())
	m.restarts.WithLabelValues(stack, service) // exists, at 0, before the first restart
}

// Restarted records a restart of a service launched by its restart policy.
func (m *Metrics) Restarted(stack, service string) {
	m.restarts.WithLabelValues(stack, service).Inc()
}

// thirdsOfDecade returns histogram bounds from lo to hi growing exponentially, three to a
// decade (×10^⅓ ≈ 2.15), rounded to three significant digits so that the le labels read
// 0.001, 0.00215, 0.00464, 0.01, …; hi is the last bound.
func thirdsOfDecade(lo, hi float64) []float64 {
	var out []float64
	for i := 0; ; i++ {
		b, _ := strconv.ParseFloat(strconv.FormatFloat(lo*math.Pow(10, float64(i)/3), 'g', 3, 64), 64)
		if b >= hi {
			return append(out, hi)
		}
		out = append(out, b)
	}
}

// The series computed at each scrape from the source.
var (
	servicesDesc = prometheus.NewDesc("harness_services",
		"Services by state.", []string{"stack", "state"}, nil)
	healthDesc = prometheus.NewDesc("harness_services_health",
		"Services by health (none: no check, or not running).", []string{"stack", "health"}, nil)
	upDesc = prometheus.NewDesc("harness_service_up",
		"1 when the service is running, else 0.", []string{"stack", "service"}, nil)
	recordedRestartsDesc = prometheus.NewDesc("harness_service_restarts",
		"Restarts recorded for the service's current run: runs before it since the service was last started on request.",
		[]string{"stack", "service"}, nil)
)

// servicesCollector reports the services of the source of m as it is at the scrape.
type servicesCollector struct{ m *Metrics }

func (c servicesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- servicesDesc
	ch <- healthDesc
	ch <- upDesc
	ch <- recordedRestartsDesc
}

func (c servicesCollector) Collect(ch chan<- prometheus.Metric) {
	fn := c.m.source.Load()
	if fn == nil {
		return
	}
	type key struct{ stack, service string }
	type count struct{ stack, value string }
	var (
		seen     = map[key]bool{}
		stacks   = map[string]bool{}
		byState  = map[count]int{}
		byHealth = map[count]int{}
	)
	for _, s := range (*fn)() {
		k := key{s.Stack, s.Service}
		if seen[k] {
			continue // a second series of one service would fail the whole scrape
		}
		seen[k] = true
		if !stacks[s.Stack] {
			stacks[s.Stack] = true
			for _, st := range lifecycle.States() {
				byState[count{s.Stack, string(st)}] += 0
			}
			for _, h := range lifecycle.Healths() {
				byHealth[count{s.Stack, string(h)}] += 0
			}
		}
		byState[count{s.Stack, s.State}]++
		byHealth[count{s.Stack, s.Health}]++
		up := 0.0
		if s.State == string(lifecycle.Running) {
			up = 1
		}
		ch <- constGauge(upDesc, up, s.Stack, s.Service)
		ch <- constGauge(recordedRestartsDesc, float64(s.Restarts), s.Stack, s.Service)
	}
	for c, n := range byState {
		ch <- constGauge(servicesDesc, float64(n), c.stack, c.value)
	}
	for c, n := range byHealth {
		ch <- constGauge(healthDesc, float64(n), c.stack, c.value)
	}
}

// constGauge is a gauge sample, or the error that makes it invalid (a label value that is
// not UTF-8): the scrape then says so.
func constGauge(desc *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	g, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return g
}
