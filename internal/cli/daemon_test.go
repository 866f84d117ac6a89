package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/cli"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

// The tests of this file run the commands that talk to a daemon against a fake one: a
// scripted Backend behind the real API handler, on the socket of a temporary data dir. The
// end-to-end scripts drive the real daemon.

// noPID is a PID no process has (above Linux's PID_MAX_LIMIT), for a daemon that is gone as
// soon as it stops answering.
const noPID = 1<<22 + 1

// fakeDaemon serves b as the daemon of a new data dir and returns the environment that
// points the command line to it.
func fakeDaemon(t *testing.T, b *httpapitest.Backend) (environ []string, srv *httpapitest.Server) {
	t.Helper()
	dir := t.TempDir()
	srv = httpapitest.Serve(t, filepath.Join(dir, api.SocketName), b)
	return []string{"HARNESS_DATA_DIR=" + dir, "A=1"}, srv
}

// wantStack is the stack of every request of a run in the working directory, with environ.
func wantStack(t *testing.T, environ []string) api.Stack {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return api.Stack{Config: filepath.Join(wd, "services.yaml"), Environ: environ}
}

func results(rs ...api.ServiceResult) func(context.Context, api.StartRequest) (api.StartResponse, error) {
	return func(context.Context, api.StartRequest) (api.StartResponse, error) {
		return api.StartResponse{Stack: "shop", Services: rs}, nil
	}
}

func TestStart(t *testing.T) {
	db := api.ServiceResult{Name: "db", Action: "start", Outcome: api.OutcomeOK}
	cache := api.ServiceResult{Name: "cache", Action: "keep", Outcome: api.OutcomeOK}
	tests := []struct {
		name string
		rs   []api.ServiceResult
		want result
	}{
		{
			name: "all ready",
			rs:   []api.ServiceResult{db, cache},
			want: result{Code: 0, Stdout: "✔ db     started\n= cache  running already\n1 started, 1 running already, 0 failed, 0 blocked\n"},
		},
		{
			name: "failed and blocked",
			rs: []api.ServiceResult{db, cache,
				{Name: "api", Action: "start", Outcome: api.OutcomeFailed, Error: "exit status 1"},
				{Name: "web", Action: "start", Outcome: api.OutcomeBlocked, BlockedBy: "api"}},
			want: result{Code: 3, Stdout: "✔ db     started\n= cache  running already\n✖ api    failed: exit status 1\n⊘ web    blocked by api\n" +
				"1 started, 1 running already, 1 failed, 1 blocked\n"},
		},
		{
			name: "timed out",
			rs:   []api.ServiceResult{db, {Name: "api", Action: "start", Outcome: api.OutcomeTimeout, Error: "not ready within 1m30s"}},
			want: result{Code: 5, Stdout: "✔ db   started\n⏱ api  timeout: not ready within 1m30s\n1 started, 1 timed out, 0 failed, 0 blocked\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &httpapitest.Backend{StartFunc: results(tc.rs...)}
			environ, _ := fakeDaemon(t, b)
			got := run(t, shopFiles, environ, "start", "api", "web", "--timeout", "90s")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			want := []httpapitest.Call{
				{Method: "Daemon"},
				{Method: "Start", Request: api.StartRequest{Stack: wantStack(t, environ), Services: []string{"api", "web"}, Timeout: api.Duration(90 * time.Second)}},
			}
			if diff := cmp.Diff(want, b.Calls()); diff != "" {
				t.Errorf("what the daemon got (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStartJSON(t *testing.T) {
	b := &httpapitest.Backend{StartFunc: results(
		api.ServiceResult{Name: "db", Action: "start", Outcome: api.OutcomeOK},
		api.ServiceResult{Name: "api", Action: "start", Outcome: api.OutcomeFailed, Error: "exit status 1"},
	)}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "start", "-o", "json", "--no-wait")
	want := result{Code: 3, Stdout: `{
  "stack": "shop",
  "services": [
    {
      "name": "db",
      "action": "start",
      "outcome": "ok"
    },
    {
      "name": "api",
      "action": "start",
      "outcome": "failed",
      "error": "exit status 1"
    }
  ]
}
`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if calls := b.Calls(); len(calls) != 2 || !calls[1].Request.(api.StartRequest).NoWait {
		t.Errorf("calls %+v; want a start with no_wait", calls)
	}
}

func TestRequestErrors(t *testing.T) {
	refuse := func(err error) *httpapitest.Backend {
		return &httpapitest.Backend{
			StartFunc:  func(context.Context, api.StartRequest) (api.StartResponse, error) { return api.StartResponse{}, err },
			StatusFunc: func(context.Context, api.StatusRequest) (api.Status, error) { return api.Status{}, err },
		}
	}
	tests := []struct {
		name  string
		b     *httpapitest.Backend
		files map[string]string
		args  []string
		want  result
	}{
		{
			name: "invalid config: the daemon's diagnostics as they are",
			b:    refuse(&api.Error{Code: api.CodeInvalidConfig, Message: "/s/services.yaml:2:3: service \"api\": type is missing\n/s/services.yaml:3:5: unknown key \"typo\""}),
			args: []string{"start"},
			want: result{Code: 2, Stderr: "/s/services.yaml:2:3: service \"api\": type is missing\n/s/services.yaml:3:5: unknown key \"typo\"\nharness: 2 errors\n"},
		},
		{
			name: "unknown service",
			b:    refuse(&api.Error{Code: api.CodeNotFound, Message: `shop: no service "x" in /s/services.yaml`}),
			args: []string{"status", "x"},
			want: result{Code: 2, Stderr: "harness: status: shop: no service \"x\" in /s/services.yaml\n"},
		},
		{
			name: "daemon failure",
			b:    refuse(&api.Error{Code: api.CodeUnavailable, Message: "the daemon is stopping"}),
			args: []string{"start"},
			want: result{Code: 1, Stderr: "harness: start: the daemon is stopping\n"},
		},
		{
			name:  "no config file: the daemon is not asked",
			b:     refuse(nil),
			files: map[string]string{},
			args:  []string{"start"},
			want:  result{Code: 2, Stderr: "harness: config file services.yaml does not exist (use -c FILE or set HARNESS_CONFIG)\n"},
		},
		{
			name: "negative timeout",
			b:    refuse(nil),
			args: []string{"stop", "--timeout", "-1s"},
			want: result{Code: 2, Stderr: "harness: invalid --timeout -1s: want a positive duration, or 0 for none; run 'harness stop --help'\n"},
		},
		{
			name: "negative tail",
			b:    refuse(nil),
			args: []string{"logs", "-n", "-1"},
			want: result{Code: 2, Stderr: "harness: invalid -n -1: want a number of lines, 0 for all; run 'harness logs --help'\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			environ, _ := fakeDaemon(t, tc.b)
			files := tc.files
			if files == nil {
				files = shopFiles
			}
			got := run(t, files, environ, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStop(t *testing.T) {
	b := &httpapitest.Backend{StopFunc: func(context.Context, api.StopRequest) (api.StopResponse, error) {
		return api.StopResponse{Stack: "shop", Services: []api.ServiceResult{
			{Name: "web", Action: "stop", Outcome: api.OutcomeOK},
			{Name: "api", Action: "stop", Outcome: api.OutcomeFailed, Error: "kill 42: operation not permitted"},
		}}, nil
	}}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "stop", "api")
	want := result{Code: 3, Stdout: "✔ web  stopped\n✖ api  failed: kill 42: operation not permitted\n1 stopped, 1 failed\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	wantCalls := []httpapitest.Call{{Method: "Daemon"}, {Method: "Stop", Request: api.StopRequest{Stack: wantStack(t, environ), Services: []string{"api"}}}}
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}
}

func TestRestart(t *testing.T) {
	b := &httpapitest.Backend{
		StopFunc: func(context.Context, api.StopRequest) (api.StopResponse, error) {
			return api.StopResponse{Stack: "shop", Services: []api.ServiceResult{
				{Name: "web", Action: "stop", Outcome: api.OutcomeOK},
				{Name: "api", Action: "stop", Outcome: api.OutcomeOK},
			}}, nil
		},
		StartFunc: results(
			api.ServiceResult{Name: "api", Action: "start", Outcome: api.OutcomeOK},
			api.ServiceResult{Name: "web", Action: "start", Outcome: api.OutcomeOK},
		),
	}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "restart", "api")
	want := result{Stdout: "✔ web  stopped\n✔ api  stopped\n2 stopped, 0 failed\n✔ api  started\n✔ web  started\n2 started, 0 failed, 0 blocked\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	stack := wantStack(t, environ)
	wantCalls := []httpapitest.Call{
		{Method: "Daemon"}, {Method: "Stop", Request: api.StopRequest{Stack: stack, Services: []string{"api"}}},
		{Method: "Daemon"}, {Method: "Start", Request: api.StartRequest{Stack: stack, Services: []string{"api", "web"}}},
	}
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}
}

var started = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestStatusJSON(t *testing.T) {
	exit := 1
	b := &httpapitest.Backend{StatusFunc: func(context.Context, api.StatusRequest) (api.Status, error) {
		return api.Status{Stack: "shop", Services: []api.ServiceStatus{
			{Name: "api", Type: "process", Node: "local", State: "running", Health: "healthy", PID: 4242, IP: "127.0.0.1", Ports: []int{8080}, StartedAt: &started},
			{Name: "worker", Type: "process", Node: "local", State: "exited", Health: "none", ExitCode: &exit, Message: "exited with code 1"},
		}}, nil
	}}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "status", "--json")
	want := result{Stdout: `{
  "stack": "shop",
  "services": [
    {
      "name": "api",
      "type": "process",
      "node": "local",
      "state": "running",
      "health": "healthy",
      "pid": 4242,
      "container_id": "",
      "ip": "127.0.0.1",
      "ports": [
        8080
      ],
      "restarts": 0,
      "started_at": "2026-11-27T10:00:00Z",
      "exit_code": null,
      "version": "",
      "message": ""
    },
    {
      "name": "worker",
      "type": "process",
      "node": "local",
      "state": "exited",
      "health": "none",
      "pid": 0,
      "container_id": "",
      "ip": "",
      "ports": null,
      "restarts": 0,
      "started_at": null,
      "exit_code": 1,
      "version": "",
      "message": "exited with code 1"
    }
  ]
}
`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestStatusTable(t *testing.T) {
	b := &httpapitest.Backend{StatusFunc: func(context.Context, api.StatusRequest) (api.Status, error) {
		return api.Status{Stack: "shop", Services: []api.ServiceStatus{
			{Name: "worker", Type: "process", Node: "local", State: "failed", Health: "none", Message: "exec ./worker: permission denied"},
		}}, nil
	}}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "status", "worker")
	want := result{Stdout: "NAME    TYPE     NODE   STATE   HEALTH  PID  ADDRESS  RESTARTS  UPTIME\n" +
		"worker  process  local  failed  -       -    -        0         -\n" +
		"worker: exec ./worker: permission denied\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLogs(t *testing.T) {
	b := &httpapitest.Backend{
		StatusFunc: func(context.Context, api.StatusRequest) (api.Status, error) {
			return api.Status{Stack: "shop", Services: []api.ServiceStatus{{Name: "db"}, {Name: "cache"}, {Name: "api"}}}, nil
		},
		LogsFunc: func(_ context.Context, _ api.LogsRequest, emit func(api.LogLine) error) error {
			for _, l := range []api.LogLine{
				{Service: "db", Time: started, Stream: "stdout", Text: "ready to accept connections"},
				{Service: "api", Time: started.Add(time.Second), Stream: "stderr", Text: "listening on :8080"},
				{Service: "db", Time: started.Add(2 * time.Second), Stream: "stdout", Text: "checkpoint"},
			} {
				if err := emit(l); err != nil {
					return err
				}
			}
			return nil
		},
	}
	environ, _ := fakeDaemon(t, b)

	got := run(t, shopFiles, environ, "logs", "-t", "-n", "5", "--since", "2026-11-27T09:00:00Z")
	want := result{Stdout: "db    | 2026-11-27T10:00:00.000Z ready to accept connections\n" +
		"api   | 2026-11-27T10:00:01.000Z listening on :8080\n" +
		"db    | 2026-11-27T10:00:02.000Z checkpoint\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	stack := wantStack(t, environ)
	wantCalls := []httpapitest.Call{
		{Method: "Daemon"},
		{Method: "Status", Request: api.StatusRequest{Stack: stack}},
		{Method: "Logs", Request: api.LogsRequest{Stack: stack, Tail: 5, Since: started.Add(-time.Hour)}},
	}
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}

	// Named services: no need to ask for the others.
	got = run(t, shopFiles, environ, "logs", "api", "db", "-f")
	want = result{Stdout: "db  | ready to accept connections\napi | listening on :8080\ndb  | checkpoint\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logs api db -f (-want +got):\n%s", diff)
	}
	stack = wantStack(t, environ)
	wantCalls = append(wantCalls,
		httpapitest.Call{Method: "Daemon"},
		httpapitest.Call{Method: "Logs", Request: api.LogsRequest{Stack: stack, Services: []string{"api", "db"}, Follow: true}},
	)
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}

	got = run(t, shopFiles, environ, "logs", "db", "-o", "json")
	want = result{Stdout: `{"service":"db","time":"2026-11-27T10:00:00Z","stream":"stdout","text":"ready to accept connections"}` + "\n" +
		`{"service":"api","time":"2026-11-27T10:00:01Z","stream":"stderr","text":"listening on :8080"}` + "\n" +
		`{"service":"db","time":"2026-11-27T10:00:02Z","stream":"stdout","text":"checkpoint"}` + "\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logs -o json (-want +got):\n%s", diff)
	}
}

func TestDown(t *testing.T) {
	b := &httpapitest.Backend{StopFunc: func(context.Context, api.StopRequest) (api.StopResponse, error) {
		return api.StopResponse{Stack: "shop", Services: []api.ServiceResult{
			{Name: "api", Action: "stop", Outcome: api.OutcomeOK},
			{Name: "cache", Action: "stop", Outcome: api.OutcomeOK},
			{Name: "db", Action: "stop", Outcome: api.OutcomeTimeout, Error: "still running after 10s"},
		}}, nil
	}}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "down", "--volumes", "--timeout", "1m")
	want := result{Code: 5, Stdout: "✔ api    stopped\n✔ cache  stopped\n⏱ db     timeout: still running after 10s\n2 stopped, 1 timed out, 0 failed\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// No name: every service of the stack.
	wantCalls := []httpapitest.Call{{Method: "Daemon"}, {Method: "Stop", Request: api.StopRequest{Stack: wantStack(t, environ), Timeout: api.Duration(time.Minute), Down: true, Volumes: true}}}
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}

	got = run(t, shopFiles, environ, "down", "api")
	want = result{Code: 2, Stderr: "harness: unexpected argument \"api\"; run 'harness down --help'\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("down api (-want +got):\n%s", diff)
	}
}

func TestExec(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		resp        api.ExecResponse
		wantService string
		wantCommand []string
		wantTimeout time.Duration
		want        result
	}{
		{
			name:        "the output as it is, and the exit code",
			args:        []string{"exec", "api", "--", "sh", "-c", "echo out; echo err >&2; exit 3"},
			resp:        api.ExecResponse{ExitCode: 3, Output: "out\nerr\nno newline at the end"},
			wantService: "api", wantCommand: []string{"sh", "-c", "echo out; echo err >&2; exit 3"},
			want: result{Code: 3, Stdout: "out\nerr\nno newline at the end"},
		},
		{
			name:        "without --",
			args:        []string{"exec", "db", "pg_isready"},
			resp:        api.ExecResponse{Output: "accepting connections\n"},
			wantService: "db", wantCommand: []string{"pg_isready"},
			want: result{Stdout: "accepting connections\n"},
		},
		{
			name:        "flags after -- are the command's",
			args:        []string{"exec", "--timeout", "10s", "api", "--", "ls", "-l", "--timeout", "5", "-o", "json", "--", "x"},
			resp:        api.ExecResponse{ExitCode: 255},
			wantService: "api", wantCommand: []string{"ls", "-l", "--timeout", "5", "-o", "json", "--", "x"}, wantTimeout: 10 * time.Second,
			want: result{Code: 255},
		},
		{
			name:        "json",
			args:        []string{"exec", "api", "-o", "json", "--", "false"},
			resp:        api.ExecResponse{ExitCode: 1, Output: "x\n", Truncated: true},
			wantService: "api", wantCommand: []string{"false"},
			want: result{Code: 1, Stdout: "{\n  \"exit_code\": 1,\n  \"output\": \"x\\n\",\n  \"truncated\": true\n}\n"},
		},
		{
			name:        "truncated output",
			args:        []string{"exec", "api", "--", "yes"},
			resp:        api.ExecResponse{ExitCode: 0, Output: "y\ny\n", Truncated: true},
			wantService: "api", wantCommand: []string{"yes"},
			want: result{Stdout: "y\ny\n", Stderr: "harness: exec api: output cut at 4 bytes\n"},
		},
		{
			name:        "an exit code no process can have",
			args:        []string{"exec", "api", "--", "sleep", "1000"},
			resp:        api.ExecResponse{ExitCode: -1},
			wantService: "api", wantCommand: []string{"sleep", "1000"},
			want: result{Code: 1, Stderr: "harness: exec api: the command ended with exit code -1\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &httpapitest.Backend{ExecFunc: func(context.Context, api.ExecRequest) (api.ExecResponse, error) { return tc.resp, nil }}
			environ, _ := fakeDaemon(t, b)
			got := run(t, shopFiles, environ, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			want := []httpapitest.Call{
				{Method: "Daemon"},
				{Method: "Exec", Request: api.ExecRequest{Stack: wantStack(t, environ), Service: tc.wantService, Command: tc.wantCommand, Timeout: api.Duration(tc.wantTimeout)}},
			}
			if diff := cmp.Diff(want, b.Calls()); diff != "" {
				t.Errorf("what the daemon got (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	b := &httpapitest.Backend{ExecFunc: func(context.Context, api.ExecRequest) (api.ExecResponse, error) {
		return api.ExecResponse{}, &api.Error{Code: api.CodeConflict, Message: `exec api: service "api" is not running`}
	}}
	environ, _ := fakeDaemon(t, b)
	tests := []struct {
		args []string
		want result
	}{
		{[]string{"exec"}, result{Code: 2, Stderr: "harness: missing SERVICE; run 'harness exec --help'\n"}},
		{[]string{"exec", "--", "ls"}, result{Code: 2, Stderr: "harness: missing SERVICE; run 'harness exec --help'\n"}},
		{[]string{"exec", "api"}, result{Code: 2, Stderr: "harness: missing the command to run: harness exec api -- CMD [ARG...]; run 'harness exec --help'\n"}},
		{[]string{"exec", "api", "--"}, result{Code: 2, Stderr: "harness: missing the command to run: harness exec api -- CMD [ARG...]; run 'harness exec --help'\n"}},
		{[]string{"exec", "api", "git", "log", "--", "x"}, result{Code: 2, Stderr: "harness: -- goes right after SERVICE: harness exec SERVICE -- CMD [ARG...]; run 'harness exec --help'\n"}},
		{[]string{"exec", "api", "ls", "-l"}, result{Code: 2, Stderr: "harness: unknown shorthand flag: 'l' in -l; run 'harness exec --help'\n"}},
		{[]string{"exec", "api", "--timeout", "-1s", "--", "ls"}, result{Code: 2, Stderr: "harness: invalid --timeout -1s: want a positive duration, or 0 for none; run 'harness exec --help'\n"}},
		{[]string{"exec", "api", "--", "ls"}, result{Code: 1, Stderr: "harness: exec: exec api: service \"api\" is not running\n"}},
	}
	for _, tc := range tests {
		got := run(t, shopFiles, environ, tc.args...)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("harness %q (-want +got):\n%s", tc.args, diff)
		}
	}
	// Only the last one reached the daemon.
	if calls := b.Calls(); len(calls) != 2 || calls[1].Method != "Exec" {
		t.Errorf("calls %+v; want one Exec", calls)
	}
}

func TestHealth(t *testing.T) {
	rs := []api.HealthResult{
		{Name: "db", Kind: "command", Status: "unhealthy", Latency: api.Duration(1500 * time.Millisecond), Output: "no response", Error: "exit status 2"},
		{Name: "cache", Kind: "tcp", Status: "healthy", Latency: api.Duration(850 * time.Microsecond)},
		{Name: "api", Status: "none"},
	}
	b := &httpapitest.Backend{HealthFunc: func(_ context.Context, req api.HealthRequest) (api.HealthResponse, error) {
		if len(req.Services) == 0 {
			return api.HealthResponse{Stack: "shop", Services: rs}, nil
		}
		return api.HealthResponse{Stack: "shop", Services: rs[1:2]}, nil
	}}
	environ, _ := fakeDaemon(t, b)

	got := run(t, shopFiles, environ, "health")
	stack := wantStack(t, environ) // each run has its working directory
	wantCalls := []httpapitest.Call{{Method: "Daemon"}, {Method: "Health", Request: api.HealthRequest{Stack: stack}}}
	want := result{Code: 3, Stdout: "NAME   KIND     STATUS     LATENCY  DETAIL\n" +
		"db     command  unhealthy  1.5s     exit status 2\n" +
		"cache  tcp      healthy    850µs    -\n" +
		"api    -        -          -        -\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}

	got = run(t, shopFiles, environ, "health", "cache", "--json")
	want = result{Stdout: `{
  "stack": "shop",
  "services": [
    {
      "name": "cache",
      "kind": "tcp",
      "status": "healthy",
      "latency": "850µs"
    }
  ]
}
`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("health cache --json (-want +got):\n%s", diff)
	}

	wantCalls = append(wantCalls,
		httpapitest.Call{Method: "Daemon"},
		httpapitest.Call{Method: "Health", Request: api.HealthRequest{Stack: wantStack(t, environ), Services: []string{"cache"}}},
	)
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}
}

func TestDaemonCommandsWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"HARNESS_DATA_DIR=" + dir}
	sock := filepath.Join(dir, api.SocketName)
	tests := []struct {
		args []string
		want result
	}{
		{[]string{"daemon", "status"}, result{Code: 4, Stderr: "harness: no daemon running on " + dir + " (dial unix " + sock + ": connect: no such file or directory)\n"}},
		{[]string{"daemon", "status", "-o", "json"}, result{Code: 4, Stderr: "harness: no daemon running on " + dir + " (dial unix " + sock + ": connect: no such file or directory)\n"}},
		{[]string{"daemon", "stop"}, result{Stdout: "no daemon running on " + dir + "\n"}},
		{[]string{"daemon", "stop", "-q"}, result{}},
		{[]string{"daemon", "run"}, result{Code: 1, Stderr: "harness: daemon run: this harness has no daemon built in (cli.Options.RunDaemon is nil)\n"}},
	}
	for _, tc := range tests {
		got := run(t, nil, environ, tc.args...)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("harness %q (-want +got):\n%s", tc.args, diff)
		}
	}
}

func TestDaemonCommands(t *testing.T) {
	b := &httpapitest.Backend{Info: api.Daemon{PID: noPID, Version: "v9", StartedAt: time.Now().Add(-90 * time.Minute)}}
	environ, srv := fakeDaemon(t, b)
	dir := environ[0][len("HARNESS_DATA_DIR="):]
	b.Info.DataDir = dir
	b.OnShutdown = func() { _ = srv.Close() } // like the daemon: gone once it has answered

	got := run(t, nil, environ, "daemon", "start")
	want := result{Stdout: "daemon already running (pid 4194305) on " + dir + "\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daemon start (-want +got):\n%s", diff)
	}

	got = run(t, nil, environ, "daemon", "status")
	want = result{Stdout: "pid       4194305\nversion   v9\ndata dir  " + dir + "\nsocket    " + filepath.Join(dir, api.SocketName) + "\nuptime    1h30m\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daemon status (-want +got):\n%s", diff)
	}

	got = run(t, nil, environ, "daemon", "stop")
	want = result{Stdout: "daemon stopped (pid 4194305); services keep running\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daemon stop (-want +got):\n%s", diff)
	}
	if calls := b.Calls(); len(calls) < 2 || calls[len(calls)-1].Method != "Shutdown" {
		t.Errorf("calls %+v; want a Shutdown last", calls)
	}

	got = run(t, nil, environ, "daemon", "status")
	if got.Code != 4 {
		t.Errorf("daemon status after stop: %+v, want exit 4", got)
	}
}

func TestDaemonRun(t *testing.T) {
	dir := t.TempDir()
	var got cli.DaemonOptions
	var stderr bytes.Buffer
	code := cli.Main(t.Context(), cli.Options{
		Args:    []string{"daemon", "run", "--data-dir", dir, "--listen", "tcp://127.0.0.1:9443"},
		Stderr:  &stderr,
		Version: "v1.2.3",
		RunDaemon: func(ctx context.Context, o cli.DaemonOptions) error {
			if ctx.Err() != nil {
				t.Errorf("RunDaemon got a context that ended already: %v", ctx.Err())
			}
			got = o
			return nil
		},
	})
	want := cli.DaemonOptions{DataDir: dir, Listen: "tcp://127.0.0.1:9443", Version: "v1.2.3", Stderr: &stderr}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *bytes.Buffer) bool { return a == b })); diff != "" {
		t.Errorf("DaemonOptions (-want +got):\n%s", diff)
	}
	if code != 0 {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// start prints on stderr each change the daemon reports while the start runs.
func TestStartProgress(t *testing.T) {
	b := &httpapitest.Backend{}
	events := make(chan api.ServiceEvent, 4)
	b.WatchFunc = func(ctx context.Context, _ api.Subscribe, emit func(uint64, api.ServiceEvent) error) error {
		for {
			select {
			case ev := <-events:
				if err := emit(1, ev); err != nil {
					return err
				}
			case <-ctx.Done():
				return nil
			}
		}
	}
	delivered := make(chan struct{})
	b.StartFunc = func(context.Context, api.StartRequest) (api.StartResponse, error) {
		// The changes of the start come while it runs, as from the daemon.
		events <- api.ServiceEvent{Service: "db", State: "starting", Health: "none"}
		events <- api.ServiceEvent{Service: "db", State: "running", Health: "healthy", Message: "ready"}
		close(delivered)
		time.Sleep(300 * time.Millisecond) // the stream is asynchronous: let it print
		return api.StartResponse{Stack: "shop", Services: []api.ServiceResult{{Name: "db", Action: "start", Outcome: api.OutcomeOK}}}, nil
	}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "start")
	<-delivered
	want := "  db           starting\n  db           running/healthy  ready\n"
	if diff := cmp.Diff(want, got.Stderr); diff != "" || got.Code != 0 {
		t.Errorf("progress on stderr (exit %d) (-want +got):\n%s", got.Code, diff)
	}
}
