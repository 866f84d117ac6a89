package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve serves b on a socket in a new temporary directory and returns an HTTP client of it.
func serve(t *testing.T, b *httpapitest.Backend) *http.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), api.SocketName)
	httpapitest.Serve(t, sock, b)
	return socketClient(sock)
}

// socketClient is an HTTP client whose every request goes to the unix socket sock.
func socketClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
}

// reply is what the tests compare of a response.
type reply struct {
	Status      int
	ContentType string
	Body        string
}

// do sends body (empty: none) to path and reads the whole response.
func do(t *testing.T, c *http.Client, method, path, body string) reply {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "http://harness"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: string(b)}
}

const jsonType = "application/json"

var started = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestEndpoints(t *testing.T) {
	b := &httpapitest.Backend{
		StartFunc: func(_ context.Context, req api.StartRequest) (api.StartResponse, error) {
			return api.StartResponse{Stack: "shop", Services: []api.ServiceResult{{Name: req.Services[0], Action: "start", Outcome: api.OutcomeOK}}}, nil
		},
		StopFunc: func(_ context.Context, req api.StopRequest) (api.StopResponse, error) {
			return api.StopResponse{Stack: "shop", Services: []api.ServiceResult{{Name: "api", Action: "stop", Outcome: api.OutcomeFailed, Error: "kill: permission denied"}}}, nil
		},
		StatusFunc: func(_ context.Context, req api.StatusRequest) (api.Status, error) {
			return api.Status{Stack: "shop", Services: []api.ServiceStatus{{Name: "api", Type: "process", Node: "local", State: "running", Health: "none", PID: 42, Ports: []int{8080}, StartedAt: &started}}}, nil
		},
		ExecFunc: func(_ context.Context, req api.ExecRequest) (api.ExecResponse, error) {
			return api.ExecResponse{ExitCode: 2, Output: "ls: cannot access 'x'\n", Truncated: true}, nil
		},
		HealthFunc: func(_ context.Context, req api.HealthRequest) (api.HealthResponse, error) {
			return api.HealthResponse{Stack: "shop", Services: []api.HealthResult{
				{Name: "db", Kind: "command", Status: "unhealthy", Latency: api.Duration(1500 * time.Millisecond), Output: "no response", Error: "exit status 2"},
				{Name: "cache", Status: "none"},
			}}, nil
		},
		Info: api.Daemon{PID: 7, Version: "v1", DataDir: "/d", StartedAt: started},
	}
	c := serve(t, b)
	tests := []struct {
		name               string
		method, path, body string
		want               reply
		wantCall           httpapitest.Call
	}{
		{
			name: "start", method: "POST", path: api.PathStart,
			body:     `{"config": "/s/services.yaml", "environ": ["A=1"], "services": ["db"], "timeout": "1m30s", "no_wait": true}`,
			want:     reply{200, jsonType, `{"stack":"shop","services":[{"name":"db","action":"start","outcome":"ok"}]}` + "\n"},
			wantCall: httpapitest.Call{Method: "Start", Request: api.StartRequest{Stack: api.Stack{Config: "/s/services.yaml", Environ: []string{"A=1"}}, Services: []string{"db"}, NoWait: true, Timeout: api.Duration(90 * time.Second)}},
		},
		{
			name: "stop", method: "POST", path: api.PathStop,
			body:     `{"config": "/s/services.yaml"}`,
			want:     reply{200, jsonType, `{"stack":"shop","services":[{"name":"api","action":"stop","outcome":"failed","error":"kill: permission denied"}]}` + "\n"},
			wantCall: httpapitest.Call{Method: "Stop", Request: api.StopRequest{Stack: api.Stack{Config: "/s/services.yaml"}}},
		},
		{
			name: "status", method: "POST", path: api.PathStatus,
			body: `{"config": "/s/services.yaml", "services": ["api"]}`,
			want: reply{200, jsonType, `{"stack":"shop","services":[{"name":"api","type":"process","node":"local","state":"running","health":"none",` +
				`"pid":42,"container_id":"","ip":"","ports":[8080],"restarts":0,"started_at":"2026-11-27T10:00:00Z","exit_code":null,"version":"","message":""}]}` + "\n"},
			wantCall: httpapitest.Call{Method: "Status", Request: api.StatusRequest{Stack: api.Stack{Config: "/s/services.yaml"}, Services: []string{"api"}}},
		},
		{
			name: "exec", method: "POST", path: api.PathExec,
			body:     `{"config": "/s/services.yaml", "service": "api", "command": ["ls", "x"], "timeout": "10s"}`,
			want:     reply{200, jsonType, `{"exit_code":2,"output":"ls: cannot access 'x'\n","truncated":true}` + "\n"},
			wantCall: httpapitest.Call{Method: "Exec", Request: api.ExecRequest{Stack: api.Stack{Config: "/s/services.yaml"}, Service: "api", Command: []string{"ls", "x"}, Timeout: api.Duration(10 * time.Second)}},
		},
		{
			name: "health", method: "POST", path: api.PathHealth,
			body: `{"config": "/s/services.yaml", "services": ["db", "cache"]}`,
			want: reply{200, jsonType, `{"stack":"shop","services":[{"name":"db","kind":"command","status":"unhealthy","latency":"1.5s","output":"no response","error":"exit status 2"},` +
				`{"name":"cache","status":"none","latency":"0s"}]}` + "\n"},
			wantCall: httpapitest.Call{Method: "Health", Request: api.HealthRequest{Stack: api.Stack{Config: "/s/services.yaml"}, Services: []string{"db", "cache"}}},
		},
		{
			name: "unknown fields are accepted", method: "POST", path: api.PathStop,
			body:     `{"config": "/s/services.yaml", "from_the_future": {"x": 1}}`,
			want:     reply{200, jsonType, `{"stack":"shop","services":[{"name":"api","action":"stop","outcome":"failed","error":"kill: permission denied"}]}` + "\n"},
			wantCall: httpapitest.Call{Method: "Stop", Request: api.StopRequest{Stack: api.Stack{Config: "/s/services.yaml"}}},
		},
		{
			name: "daemon", method: "GET", path: api.PathDaemon,
			want:     reply{200, jsonType, `{"pid":7,"version":"v1","data_dir":"/d","started_at":"2026-11-27T10:00:00Z"}` + "\n"},
			wantCall: httpapitest.Call{Method: "Daemon"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(b.Calls())
			got := do(t, c, tc.method, tc.path, tc.body)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tc.method, tc.path, diff)
			}
			if diff := cmp.Diff([]httpapitest.Call{tc.wantCall}, b.Calls()[before:]); diff != "" {
				t.Errorf("backend calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShutdownAnswersThenShutsDown(t *testing.T) {
	b := &httpapitest.Backend{Info: api.Daemon{PID: 7, Version: "v1", DataDir: "/d", StartedAt: started}}
	sock := filepath.Join(t.TempDir(), api.SocketName)
	srv := httpapitest.Serve(t, sock, b)
	// Like a daemon that closes every connection at once: the answer is complete before.
	shut := make(chan struct{})
	b.OnShutdown = func() { _ = srv.Close(); close(shut) }

	got := do(t, socketClient(sock), "POST", api.PathShutdown, "")
	want := reply{200, jsonType, `{"pid":7,"version":"v1","data_dir":"/d","started_at":"2026-11-27T10:00:00Z"}` + "\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shutdown (-want +got):\n%s", diff)
	}
	// The answer comes first: Shutdown follows it.
	select {
	case <-shut:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown was never called")
	}
	if diff := cmp.Diff([]httpapitest.Call{{Method: "Daemon"}, {Method: "Shutdown"}}, b.Calls()); diff != "" {
		t.Errorf("backend calls (-want +got):\n%s", diff)
	}
}

func TestErrorTable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want reply
	}{
		{"bad request", &api.Error{Code: api.CodeBadRequest, Message: "config: not absolute"}, reply{400, jsonType, `{"code":"bad_request","message":"config: not absolute"}` + "\n"}},
		{"not found", &api.Error{Code: api.CodeNotFound, Message: `no service "x"`}, reply{404, jsonType, `{"code":"not_found","message":"no service \"x\""}` + "\n"}},
		{"conflict", &api.Error{Code: api.CodeConflict, Message: "busy"}, reply{409, jsonType, `{"code":"conflict","message":"busy"}` + "\n"}},
		{"invalid config", &api.Error{Code: api.CodeInvalidConfig, Message: "s.yaml:1:1: a\ns.yaml:2:1: b"}, reply{422, jsonType, `{"code":"invalid_config","message":"s.yaml:1:1: a\ns.yaml:2:1: b"}` + "\n"}},
		{"unavailable", &api.Error{Code: api.CodeUnavailable, Message: "stopping"}, reply{503, jsonType, `{"code":"unavailable","message":"stopping"}` + "\n"}},
		{"internal", &api.Error{Code: api.CodeInternal, Message: "bug"}, reply{500, jsonType, `{"code":"internal","message":"bug"}` + "\n"}},
		{"wrapped keeps its code and the whole message", fmt.Errorf("load: %w", &api.Error{Code: api.CodeNotFound, Message: "gone"}), reply{404, jsonType, `{"code":"not_found","message":"load: gone"}` + "\n"}},
		{"plain error is internal", errors.New("open registry.db: permission denied"), reply{500, jsonType, `{"code":"internal","message":"open registry.db: permission denied"}` + "\n"}},
		{"unknown code is sent as is, with 500", &api.Error{Code: "teapot", Message: "?"}, reply{500, jsonType, `{"code":"teapot","message":"?"}` + "\n"}},
		{"empty code is internal", &api.Error{Message: "?"}, reply{500, jsonType, `{"code":"internal","message":"?"}` + "\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, &httpapitest.Backend{
				StatusFunc: func(context.Context, api.StatusRequest) (api.Status, error) { return api.Status{}, tc.err },
			})
			got := do(t, c, "POST", api.PathStatus, `{"config": "/s.yaml"}`)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	b := &httpapitest.Backend{}
	c := serve(t, b)
	big := `{"config": "` + strings.Repeat("x", 17<<20) + `"}`
	tests := []struct {
		name               string
		method, path, body string
		want               reply
	}{
		{"malformed JSON", "POST", api.PathStart, `{"config": `, reply{400, jsonType, `{"code":"bad_request","message":"request /v1/start: unexpected EOF"}` + "\n"}},
		{"wrong type", "POST", api.PathStart, `{"services": "api"}`, reply{400, jsonType, `{"code":"bad_request","message":"request /v1/start: json: cannot unmarshal string into Go struct field StartRequest.services of type []string"}` + "\n"}},
		{"bad duration", "POST", api.PathStop, `{"timeout": "soon"}`, reply{400, jsonType, `{"code":"bad_request","message":"request /v1/stop: time: invalid duration \"soon\""}` + "\n"}},
		{"empty body", "POST", api.PathStatus, "", reply{400, jsonType, `{"code":"bad_request","message":"request /v1/status: empty body; want a JSON object"}` + "\n"}},
		{"two values", "POST", api.PathStatus, `{} {}`, reply{400, jsonType, `{"code":"bad_request","message":"request /v1/status: data after the JSON value"}` + "\n"}},
		{"too large", "POST", api.PathLogs, big, reply{400, jsonType, `{"code":"bad_request","message":"request /v1/logs: body larger than 16777216 bytes"}` + "\n"}},
		{"unknown path", "GET", "/v1/bogus", "", reply{404, jsonType, `{"code":"not_found","message":"no endpoint /v1/bogus"}` + "\n"}},
		{"root", "GET", "/", "", reply{404, jsonType, `{"code":"not_found","message":"no endpoint /"}` + "\n"}},
		{"wrong method", "GET", api.PathStart, "", reply{405, jsonType, `{"code":"bad_request","message":"method GET not allowed on /v1/start; use POST"}` + "\n"}},
		{"bad command", "POST", api.PathExec, `{"service": "api", "command": "ls"}`, reply{400, jsonType, `{"code":"bad_request","message":"request /v1/exec: json: cannot unmarshal string into Go struct field ExecRequest.command of type []string"}` + "\n"}},
		{"wrong method on exec", "GET", api.PathExec, "", reply{405, jsonType, `{"code":"bad_request","message":"method GET not allowed on /v1/exec; use POST"}` + "\n"}},
		{"wrong method on health", "GET", api.PathHealth, "", reply{405, jsonType, `{"code":"bad_request","message":"method GET not allowed on /v1/health; use POST"}` + "\n"}},
		{"wrong method on a GET endpoint", "POST", api.PathDaemon, "{}", reply{405, jsonType, `{"code":"bad_request","message":"method POST not allowed on /v1/daemon; use GET"}` + "\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := do(t, c, tc.method, tc.path, tc.body)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tc.method, tc.path, diff)
			}
		})
	}
	req, err := http.NewRequestWithContext(t.Context(), "DELETE", "http://harness"+api.PathStop, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if diff := cmp.Diff("POST", resp.Header.Get("Allow")); diff != "" {
		t.Errorf("Allow of a 405 (-want +got):\n%s", diff)
	}
	if calls := b.Calls(); len(calls) != 0 {
		t.Errorf("the backend was called for bad requests: %v", calls)
	}
}
