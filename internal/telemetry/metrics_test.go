package telemetry_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/internal/telemetry"
)

// The daemon wires Metrics into every orchestrator as its Observer.
var _ orchestrator.Observer = (*telemetry.Metrics)(nil)

// scrape GETs the metrics from m's handler and returns the body.
func scrape(t *testing.T, m *telemetry.Metrics) []byte {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q; want the Prometheus text format 0.0.4", ct)
	}
	return body
}

// series parses an exposition into its samples, "name{labels}" → value, keeping those whose
// name (without labels) is one of names, or every one when names is empty.
func series(t *testing.T, body []byte, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("not a sample: %q", line)
		}
		s, v := line[:i], line[i+1:]
		name, _, _ := strings.Cut(s, "{")
		if len(names) == 0 || contains(names, name) {
			out[s] = v
		}
	}
	return out
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// only keeps the entries of got whose keys are in want: histograms have many buckets, a
// test states the ones that matter.
func only(got, want map[string]string) map[string]string {
	out := map[string]string{}
	for k := range want {
		if v, ok := got[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestObservations(t *testing.T) {
	m := telemetry.NewMetrics()
	m.ProbeDone("shop", "api", "http", 250*time.Millisecond, true)
	m.ProbeDone("shop", "api", "http", 500*time.Millisecond, true)
	m.ProbeDone("shop", "api", "http", 2*time.Second, false)
	m.ProbeDone("shop", "db", "tcp", time.Millisecond, true)
	m.Ready("shop", "api", 1500*time.Millisecond)
	m.Ready("shop", "web", 0)
	m.Restarted("shop", "api")
	m.Restarted("shop", "api")
	body := scrape(t, m)

	// Both results of a probed service exist, and the restarts of a service that was ready.
	wantCounters := map[string]string{
		`harness_probes_total{kind="http",result="failure",service="api",stack="shop"}`: "1",
		`harness_probes_total{kind="http",result="success",service="api",stack="shop"}`: "2",
		`harness_probes_total{kind="tcp",result="failure",service="db",stack="shop"}`:   "0",
		`harness_probes_total{kind="tcp",result="success",service="db",stack="shop"}`:   "1",
		`harness_restarts_total{service="api",stack="shop"}`:                            "2",
		`harness_restarts_total{service="web",stack="shop"}`:                            "0",
	}
	if diff := cmp.Diff(wantCounters, series(t, body, "harness_probes_total", "harness_restarts_total")); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}

	const api = `service="api",stack="shop"`
	wantHistograms := map[string]string{
		`harness_probe_duration_seconds_bucket{kind="http",` + api + `,le="0.215"}`:                 "0",
		`harness_probe_duration_seconds_bucket{kind="http",` + api + `,le="0.464"}`:                 "1",
		`harness_probe_duration_seconds_bucket{kind="http",` + api + `,le="1"}`:                     "2",
		`harness_probe_duration_seconds_bucket{kind="http",` + api + `,le="2.15"}`:                  "3",
		`harness_probe_duration_seconds_bucket{kind="http",` + api + `,le="+Inf"}`:                  "3",
		`harness_probe_duration_seconds_sum{kind="http",` + api + `}`:                               "2.75",
		`harness_probe_duration_seconds_count{kind="http",` + api + `}`:                             "3",
		`harness_probe_duration_seconds_bucket{kind="tcp",service="db",stack="shop",le="0.000464"}`: "0",
		`harness_probe_duration_seconds_bucket{kind="tcp",service="db",stack="shop",le="0.001"}`:    "1",
		`harness_start_to_ready_seconds_bucket{` + api + `,le="1"}`:                                 "0",
		`harness_start_to_ready_seconds_bucket{` + api + `,le="2.15"}`:                              "1",
		`harness_start_to_ready_seconds_bucket{` + api + `,le="300"}`:                               "1",
		`harness_start_to_ready_seconds_sum{` + api + `}`:                                           "1.5",
		`harness_start_to_ready_seconds_count{` + api + `}`:                                         "1",
		`harness_start_to_ready_seconds_bucket{service="web",stack="shop",le="0.001"}`:              "1",
		`harness_start_to_ready_seconds_count{service="web",stack="shop"}`:                          "1",
	}
	if diff := cmp.Diff(wantHistograms, only(series(t, body), wantHistograms)); diff != "" {
		t.Errorf("histograms (-want +got):\n%s", diff)
	}

	// The Go runtime and the process are reported too.
	all := series(t, body)
	for _, s := range []string{"go_goroutines", "process_cpu_seconds_total", `promhttp_metric_handler_requests_total{code="200"}`} {
		if _, ok := all[s]; !ok {
			t.Errorf("no %s in the scrape", s)
		}
	}
}

// The bounds are exponential, three to a decade: probes from 100µs to 10s, start to ready
// from 1ms to 5min.
func TestBuckets(t *testing.T) {
	m := telemetry.NewMetrics()
	m.ProbeDone("s", "a", "tcp", 0, true)
	m.Ready("s", "a", 0)
	body := scrape(t, m)
	bounds := func(name string) []string {
		var out []string
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), name+"_bucket{"); ok {
				_, le, _ := strings.Cut(rest, `le="`)
				le, _, _ = strings.Cut(le, `"`)
				out = append(out, le)
			}
		}
		return out
	}
	probe := []string{
		"0.0001", "0.000215", "0.000464", "0.001", "0.00215", "0.00464", "0.01", "0.0215",
		"0.0464", "0.1", "0.215", "0.464", "1", "2.15", "4.64", "10", "+Inf",
	}
	if diff := cmp.Diff(probe, bounds("harness_probe_duration_seconds")); diff != "" {
		t.Errorf("probe buckets (-want +got):\n%s", diff)
	}
	ready := []string{
		"0.001", "0.00215", "0.00464", "0.01", "0.0215", "0.0464", "0.1", "0.215", "0.464",
		"1", "2.15", "4.64", "10", "21.5", "46.4", "100", "215", "300", "+Inf",
	}
	if diff := cmp.Diff(ready, bounds("harness_start_to_ready_seconds")); diff != "" {
		t.Errorf("start-to-ready buckets (-want +got):\n%s", diff)
	}
}

// The service gauges are computed from the source at each scrape.
func TestServiceGauges(t *testing.T) {
	m := telemetry.NewMetrics()
	services := []telemetry.ServiceState{
		{Stack: "shop", Service: "api", State: "running", Health: "healthy", Restarts: 2},
		{Stack: "shop", Service: "db", State: "running", Health: "none"},
		{Stack: "shop", Service: "job", State: "exited", Health: "none"},
		{Stack: "shop", Service: "job", State: "running", Health: "unhealthy"}, // a duplicate: ignored
		{Stack: "blog", Service: "web", State: "failed", Health: "none", Restarts: 5},
	}
	var mu sync.Mutex
	m.SetSource(func() []telemetry.ServiceState {
		mu.Lock()
		defer mu.Unlock()
		return append([]telemetry.ServiceState(nil), services...)
	})
	names := []string{"harness_services", "harness_services_health", "harness_service_up", "harness_service_restarts"}

	// want lists every state and health lifecycle knows, at 0 unless counts says otherwise.
	want := func(counts map[string]string) map[string]string {
		out := map[string]string{}
		for _, stack := range []string{"shop", "blog"} {
			for _, s := range lifecycle.States() {
				out[fmt.Sprintf(`harness_services{stack=%q,state=%q}`, stack, s)] = "0"
			}
			for _, h := range lifecycle.Healths() {
				out[fmt.Sprintf(`harness_services_health{health=%q,stack=%q}`, h, stack)] = "0"
			}
		}
		for k, v := range counts {
			out[k] = v
		}
		return out
	}
	first := want(map[string]string{
		`harness_services{stack="shop",state="running"}`:         "2",
		`harness_services{stack="shop",state="exited"}`:          "1",
		`harness_services{stack="blog",state="failed"}`:          "1",
		`harness_services_health{health="healthy",stack="shop"}`: "1",
		`harness_services_health{health="none",stack="shop"}`:    "2",
		`harness_services_health{health="none",stack="blog"}`:    "1",
		`harness_service_up{service="api",stack="shop"}`:         "1",
		`harness_service_up{service="db",stack="shop"}`:          "1",
		`harness_service_up{service="job",stack="shop"}`:         "0",
		`harness_service_up{service="web",stack="blog"}`:         "0",
		`harness_service_restarts{service="api",stack="shop"}`:   "2",
		`harness_service_restarts{service="db",stack="shop"}`:    "0",
		`harness_service_restarts{service="job",stack="shop"}`:   "0",
		`harness_service_restarts{service="web",stack="blog"}`:   "5",
	})
	if diff := cmp.Diff(first, series(t, scrape(t, m), names...)); diff != "" {
		t.Errorf("first scrape (-want +got):\n%s", diff)
	}

	// The next scrape sees the services as they are then.
	mu.Lock()
	services[0].Health = "unhealthy"
	services[4].State, services[4].Restarts = "running", 6
	mu.Unlock()
	second := want(map[string]string{
		`harness_services{stack="shop",state="running"}`:           "2",
		`harness_services{stack="shop",state="exited"}`:            "1",
		`harness_services{stack="blog",state="running"}`:           "1",
		`harness_services_health{health="unhealthy",stack="shop"}`: "1",
		`harness_services_health{health="none",stack="shop"}`:      "2",
		`harness_services_health{health="none",stack="blog"}`:      "1",
		`harness_service_up{service="api",stack="shop"}`:           "1",
		`harness_service_up{service="db",stack="shop"}`:            "1",
		`harness_service_up{service="job",stack="shop"}`:           "0",
		`harness_service_up{service="web",stack="blog"}`:           "1",
		`harness_service_restarts{service="api",stack="shop"}`:     "2",
		`harness_service_restarts{service="db",stack="shop"}`:      "0",
		`harness_service_restarts{service="job",stack="shop"}`:     "0",
		`harness_service_restarts{service="web",stack="blog"}`:     "6",
	})
	if diff := cmp.Diff(second, series(t, scrape(t, m), names...)); diff != "" {
		t.Errorf("second scrape (-want +got):\n%s", diff)
	}

	m.SetSource(nil)
	if diff := cmp.Diff(map[string]string{}, series(t, scrape(t, m), names...)); diff != "" {
		t.Errorf("scrape without a source (-want +got):\n%s", diff)
	}
}

// The exposition follows Prometheus' naming and help conventions.
func TestLint(t *testing.T) {
	m := telemetry.NewMetrics()
	m.ProbeDone("s", "a", "tcp", time.Millisecond, false)
	m.Ready("s", "a", time.Second)
	m.Restarted("s", "a")
	m.SetSource(func() []telemetry.ServiceState {
		return []telemetry.ServiceState{{Stack: "s", Service: "a", State: "running", Health: "healthy"}}
	})
	problems, err := promlint.New(bytes.NewReader(scrape(t, m))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	var ours []promlint.Problem
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "harness_") {
			ours = append(ours, p)
		}
	}
	if diff := cmp.Diff([]promlint.Problem(nil), ours); diff != "" {
		t.Errorf("lint problems (-want +got):\n%s", diff)
	}
}

// Observations and scrapes may happen at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	m := telemetry.NewMetrics()
	m.SetSource(func() []telemetry.ServiceState {
		return []telemetry.ServiceState{{Stack: "s", Service: "a", State: "running", Health: "healthy"}}
	})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				svc := fmt.Sprintf("svc%d", (i+j)%3)
				m.ProbeDone("s", svc, "tcp", time.Duration(j)*time.Millisecond, j%2 == 0)
				m.Ready("s", svc, time.Duration(j)*time.Millisecond)
				m.Restarted("s", svc)
			}
		})
		wg.Go(func() {
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("scrape: %d\n%s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	got := series(t, scrape(t, m), "harness_restarts_total")
	var total int
	for _, v := range got {
		var n int
		fmt.Sscan(v, &n)
		total += n
	}
	if total != 200 {
		t.Errorf("restarts %v sum to %d; want 200", got, total)
	}
}
