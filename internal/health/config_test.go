package health_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/health"
)

func tmpl(t *testing.T, s string) config.Template {
	t.Helper()
	v, err := config.ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// renderer resolves references from a table, as the orchestrator would for one service.
func renderer(values map[string]string) func(config.Template) (string, error) {
	return func(t config.Template) (string, error) {
		return t.Render(func(r config.Ref) (string, error) {
			v, ok := values[r.Service+"."+r.Property]
			if !ok {
				return "", fmt.Errorf("unknown %s", r)
			}
			return v, nil
		})
	}
}

func TestFromConfig(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Header.Get("Authorization") != "Bearer tok-db" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	srvHost, srvPort, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(srvPort)
	down := closedAddr(t)
	_, downPortText, _ := net.SplitHostPort(down)
	downPort, _ := strconv.Atoi(downPortText)

	exe := &fakeExecer{code: 2, out: "no response\n"}
	env := health.CheckEnv{
		Host:   srvHost,
		Render: renderer(map[string]string{"api.addr": srv.Listener.Addr().String(), "db.host": "db"}),
		Execer: exe,
		Lines:  newMemLines(),
	}
	tests := []struct {
		name  string
		check config.HealthCheck
		env   health.CheckEnv
		want  string // of FromConfig, or else of one Check
	}{
		{
			name: "http rendered",
			check: config.HealthCheck{HTTP: &config.HTTPCheck{
				URL: tmpl(t, "http://${api.addr}/health"), Method: "GET", ExpectedStatus: "2xx",
				Headers: map[string]config.Template{"Authorization": tmpl(t, "Bearer tok-${db.host}")},
			}},
			env:  env,
			want: "",
		},
		{
			name:  "http without renderer, literal",
			check: config.HealthCheck{HTTP: &config.HTTPCheck{URL: config.Literal(srv.URL + "/nope")}},
			env:   health.CheckEnv{},
			want:  "GET " + srv.URL + "/nope: status 403, want 2xx",
		},
		{
			name:  "http without renderer, reference",
			check: config.HealthCheck{HTTP: &config.HTTPCheck{URL: tmpl(t, "http://${api.addr}/health")}},
			env:   health.CheckEnv{},
			want:  "http health check: resolve ${api.addr}: no renderer for service references",
		},
		{
			name: "http header does not render",
			check: config.HealthCheck{HTTP: &config.HTTPCheck{
				URL: config.Literal(srv.URL), Headers: map[string]config.Template{"X-Peer": tmpl(t, "${web.ip}")},
			}},
			env:  env,
			want: "http health check: header X-Peer: resolve ${web.ip}: unknown ${web.ip}",
		},
		{
			name:  "http bad status",
			check: config.HealthCheck{HTTP: &config.HTTPCheck{URL: config.Literal(srv.URL), ExpectedStatus: "ok"}},
			env:   env,
			want:  `http health check: expected status "ok": want a status such as 200 or a class such as 2xx`,
		},
		{
			name:  "tcp on the service's host",
			check: config.HealthCheck{TCP: &config.TCPCheck{Port: port}},
			env:   env,
			want:  "",
		},
		{
			// Loopback in a check is the service's own view: a container's own address.
			name:  "tcp on loopback is the service's address",
			check: config.HealthCheck{TCP: &config.TCPCheck{Host: "127.0.0.1", Port: downPort}},
			env:   health.CheckEnv{Host: "127.0.0.2"},
			want:  "dial tcp 127.0.0.2:" + strconv.Itoa(downPort) + ": connect: connection refused",
		},
		{
			name:  "tcp without host",
			check: config.HealthCheck{TCP: &config.TCPCheck{Port: port}},
			env:   health.CheckEnv{},
			want:  "tcp health check: no host: the check names none and the service's address is unknown",
		},
		{
			name:  "grpc on the service's host",
			check: config.HealthCheck{GRPC: &config.GRPCCheck{Port: downPort}},
			env:   health.CheckEnv{Host: "127.0.0.1"},
			want:  "grpc health: dial tcp " + down + ": connect: connection refused",
		},
		{
			name:  "grpc without host",
			check: config.HealthCheck{GRPC: &config.GRPCCheck{Port: 9090}},
			env:   health.CheckEnv{},
			want:  "grpc health check: no host: the check names none and the service's address is unknown",
		},
		{
			name:  "command",
			check: config.HealthCheck{Command: config.Literal("pg_isready"), Args: []config.Template{config.Literal("-h"), tmpl(t, "${db.host}")}},
			env:   env,
			want:  "exit status 2: no response",
		},
		{
			name:  "command without execer",
			check: config.HealthCheck{Command: config.Literal("pg_isready")},
			env:   health.CheckEnv{},
			want:  "command health check: no execer",
		},
		{
			name:  "command does not render",
			check: config.HealthCheck{Command: config.Literal("check"), Args: []config.Template{tmpl(t, "${nope.ip}")}},
			env:   env,
			want:  "command health check: resolve ${nope.ip}: unknown ${nope.ip}",
		},
		{
			name:  "log_line",
			check: config.HealthCheck{LogLine: "ready"},
			env:   env,
			want:  `log line: no line matches "ready" yet`,
		},
		{
			name:  "log_line without source",
			check: config.HealthCheck{LogLine: "ready"},
			env:   health.CheckEnv{},
			want:  "log_line health check: no line source",
		},
		{
			name:  "log_line bad expression",
			check: config.HealthCheck{LogLine: "ready("},
			env:   env,
			want:  "log_line health check: error parsing regexp: missing closing ): `ready(`",
		},
		{
			name:  "no kind",
			check: config.HealthCheck{},
			env:   env,
			want:  "health check: no kind set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := health.FromConfig(&tt.check, tt.env)
			if err == nil {
				err = c.Check(t.Context())
			}
			if diff := cmp.Diff(tt.want, errText(err, "", "")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([][]string{{"pg_isready", "-h", "db"}}, exe.argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	env.Lines.(*memLines).Close()
}

func TestFromConfigNil(t *testing.T) {
	_, err := health.FromConfig(nil, health.CheckEnv{})
	if diff := cmp.Diff("health check: none configured", errText(err, "", "")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParamsFrom(t *testing.T) {
	h := &config.HealthCheck{
		LogLine:  "x",
		Interval: config.Duration(30 * time.Second), Timeout: config.Duration(5 * time.Second),
		StartPeriod: config.Duration(time.Minute), StartInterval: config.Duration(time.Second),
		Retries: 3, SuccessThreshold: 2,
	}
	want := health.Params{
		Interval: 30 * time.Second, Timeout: 5 * time.Second, StartPeriod: time.Minute,
		StartInterval: time.Second, Retries: 3, SuccessThreshold: 2,
	}
	if diff := cmp.Diff(want, health.ParamsFrom(h)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(health.Params{}, health.ParamsFrom(nil)); diff != "" {
		t.Errorf("nil (-want +got):\n%s", diff)
	}
}

// With env.Dial, http, tcp and grpc checks open their connections through it (from a remote
// host, in the orchestrator), to the address the check names.
func TestFromConfigDialsThroughEnv(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var dialed []string
	env := health.CheckEnv{
		Host: "127.0.0.1",
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = append(dialed, network+" "+addr)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", srv.Listener.Addr().String()) // the test's only server
		},
	}
	checks := []config.HealthCheck{
		{HTTP: &config.HTTPCheck{URL: config.Literal("http://localhost:8080/health")}},
		{TCP: &config.TCPCheck{Port: 6379}},
	}
	for _, hc := range checks {
		c, err := health.FromConfig(&hc, env)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(t.Context()); err != nil {
			t.Errorf("%s check: %v", hc.Kind(), err)
		}
	}
	// gRPC dials too; the HTTP/1 test server does not speak h2c, so only the dial is checked.
	c, err := health.FromConfig(&config.HealthCheck{GRPC: &config.GRPCCheck{Port: 9090}}, env)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Check(t.Context())
	want := []string{"tcp 127.0.0.1:8080", "tcp 127.0.0.1:6379", "tcp 127.0.0.1:9090"}
	if diff := cmp.Diff(want, dialed); diff != "" {
		t.Errorf("dialed (-want +got):\n%s", diff)
	}
}
