package cli_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/cli"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

// interrupter is the stdout of a foreground up: once it has printed mark, it ends the run's
// context, as the user's Ctrl-C does.
type interrupter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	mark   string
	cancel context.CancelFunc
}

func (w *interrupter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.b.Write(p)
	if strings.Contains(w.b.String(), w.mark) {
		w.cancel()
	}
	return n, err
}

func (w *interrupter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// runUntil is run for a command that runs until interrupted: it is interrupted once its
// stdout shows mark.
func runUntil(t *testing.T, environ []string, mark string, args ...string) result {
	t.Helper()
	workDir(t, shopFiles)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdout := &interrupter{mark: mark, cancel: cancel}
	var stderr bytes.Buffer
	code := cli.Main(ctx, cli.Options{Args: args, Stdout: stdout, Stderr: &stderr, Environ: environ, Version: "v1.2.3"})
	return result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
}

// follow emits lines, then follows until the client goes away.
func follow(lines ...api.LogLine) func(context.Context, api.LogsRequest, func(api.LogLine) error) error {
	return func(ctx context.Context, _ api.LogsRequest, emit func(api.LogLine) error) error {
		for _, l := range lines {
			if err := emit(l); err != nil {
				return err
			}
		}
		<-ctx.Done()
		return nil
	}
}

// stopped answers a stop of the services it names, dependents (the later ones) first.
func stopped(_ context.Context, req api.StopRequest) (api.StopResponse, error) {
	resp := api.StopResponse{Stack: "shop"}
	for i := len(req.Services) - 1; i >= 0; i-- {
		resp.Services = append(resp.Services, api.ServiceResult{Name: req.Services[i], Action: "stop", Outcome: api.OutcomeOK})
	}
	return resp, nil
}

// upBackend is a daemon where up api starts db, keeps cache (which ran before) and recreates
// api, then sees two lines of output. startedAt gets the time of the start.
func upBackend(startedAt *time.Time) *httpapitest.Backend {
	return &httpapitest.Backend{
		StartFunc: func(context.Context, api.StartRequest) (api.StartResponse, error) {
			*startedAt = time.Now()
			return api.StartResponse{Stack: "shop", Services: []api.ServiceResult{
				{Name: "db", Action: "start", Outcome: api.OutcomeOK},
				{Name: "cache", Action: "keep", Outcome: api.OutcomeOK},
				{Name: "api", Action: "recreate", Outcome: api.OutcomeOK},
			}}, nil
		},
		LogsFunc: follow(
			api.LogLine{Service: "db", Time: started, Stream: "stdout", Text: "ready to accept connections"},
			api.LogLine{Service: "api", Time: started.Add(time.Second), Stream: "stderr", Text: "listening on :8080"},
		),
		StopFunc: stopped,
	}
}

// checkUpCalls checks that the daemon got a start of api, a request to follow the output of
// the services of the start since a moment before it, and, when stop, a stop of what up
// started: db and api, not cache.
func checkUpCalls(t *testing.T, b *httpapitest.Backend, stack api.Stack, before, startedAt time.Time, stop bool) {
	t.Helper()
	calls := b.Calls()
	if len(calls) < 3 {
		t.Fatalf("calls %+v; want a start, then logs", calls)
	}
	// Since is the moment before the start: compared on its own, then left out.
	logs, _ := calls[2].Request.(api.LogsRequest)
	if logs.Since.Before(before) || logs.Since.After(startedAt) {
		t.Errorf("logs since %v; want between %v (before up) and %v (the start)", logs.Since, before, startedAt)
	}
	logs.Since = time.Time{}
	calls[2].Request = logs
	want := []httpapitest.Call{
		{Method: "Daemon"},
		{Method: "Start", Request: api.StartRequest{Stack: stack, Services: []string{"api"}}},
		{Method: "Logs", Request: api.LogsRequest{Stack: stack, Services: []string{"db", "cache", "api"}, Follow: true}},
	}
	if stop {
		want = append(want, httpapitest.Call{Method: "Stop", Request: api.StopRequest{Stack: stack, Services: []string{"db", "api"}}})
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}
}

func TestUp(t *testing.T) {
	var startedAt time.Time
	b := upBackend(&startedAt)
	environ, _ := fakeDaemon(t, b)
	before := time.Now()
	got := runUntil(t, environ, "listening on :8080\n", "up", "api")
	want := result{Stdout: "✔ db     started\n" +
		"= cache  running already\n" +
		"✔ api    recreated\n" +
		"2 started, 1 running already, 0 failed, 0 blocked\n" +
		"db    | ready to accept connections\n" +
		"api   | listening on :8080\n" +
		"stopping db, api\n" +
		"✔ api  stopped\n" +
		"✔ db   stopped\n" +
		"2 stopped, 0 failed\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	checkUpCalls(t, b, wantStack(t, environ), before, startedAt, true)
}

func TestUpJSON(t *testing.T) {
	var startedAt time.Time
	b := upBackend(&startedAt)
	environ, _ := fakeDaemon(t, b)
	before := time.Now()
	got := runUntil(t, environ, "listening on :8080", "up", "api", "-o", "json")
	want := result{
		Stdout: `{"start":{"stack":"shop","services":[{"name":"db","action":"start","outcome":"ok"},{"name":"cache","action":"keep","outcome":"ok"},{"name":"api","action":"recreate","outcome":"ok"}]}}` + "\n" +
			`{"log":{"service":"db","time":"2026-11-27T10:00:00Z","stream":"stdout","text":"ready to accept connections"}}` + "\n" +
			`{"log":{"service":"api","time":"2026-11-27T10:00:01Z","stream":"stderr","text":"listening on :8080"}}` + "\n" +
			`{"stop":{"stack":"shop","services":[{"name":"api","action":"stop","outcome":"ok"},{"name":"db","action":"stop","outcome":"ok"}]}}` + "\n",
		Stderr: "stopping db, api\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	checkUpCalls(t, b, wantStack(t, environ), before, startedAt, true)
}

func TestUpStopFails(t *testing.T) {
	var startedAt time.Time
	b := upBackend(&startedAt)
	b.StopFunc = func(context.Context, api.StopRequest) (api.StopResponse, error) {
		return api.StopResponse{Stack: "shop", Services: []api.ServiceResult{
			{Name: "api", Action: "stop", Outcome: api.OutcomeFailed, Error: "kill 42: operation not permitted"},
			{Name: "db", Action: "stop", Outcome: api.OutcomeOK},
		}}, nil
	}
	environ, _ := fakeDaemon(t, b)
	got := runUntil(t, environ, "listening on :8080\n", "up", "api", "-q")
	want := result{Code: 3, Stdout: "db    | ready to accept connections\n" +
		"api   | listening on :8080\n" +
		"✖ api  failed: kill 42: operation not permitted\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestUpNothingToStop(t *testing.T) {
	b := &httpapitest.Backend{
		StartFunc: results(api.ServiceResult{Name: "db", Action: "keep", Outcome: api.OutcomeOK}),
		LogsFunc:  follow(api.LogLine{Service: "db", Time: started, Stream: "stdout", Text: "checkpoint"}),
		StopFunc:  stopped,
	}
	environ, _ := fakeDaemon(t, b)
	got := runUntil(t, environ, "checkpoint\n", "up", "db")
	want := result{Stdout: "= db  running already\n0 started, 1 running already, 0 failed, 0 blocked\n" +
		"db | checkpoint\n" +
		"nothing to stop: every service ran before up\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Above all not a stop without names, which would stop every service.
	for _, c := range b.Calls() {
		if c.Method == "Stop" {
			t.Errorf("up stopped %+v; want no stop", c.Request)
		}
	}
}

func TestUpStartFails(t *testing.T) {
	b := &httpapitest.Backend{
		StartFunc: results(
			api.ServiceResult{Name: "db", Action: "start", Outcome: api.OutcomeOK},
			api.ServiceResult{Name: "cache", Action: "keep", Outcome: api.OutcomeOK},
			api.ServiceResult{Name: "api", Action: "start", Outcome: api.OutcomeFailed, Error: "exit status 1"},
			api.ServiceResult{Name: "web", Action: "start", Outcome: api.OutcomeBlocked, BlockedBy: "api"},
		),
		StopFunc: stopped,
	}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "up")
	want := result{Code: 3, Stdout: "✔ db     started\n= cache  running already\n✖ api    failed: exit status 1\n⊘ web    blocked by api\n" +
		"1 started, 1 running already, 1 failed, 1 blocked\n" +
		"stopping db, api\n" +
		"✔ api  stopped\n✔ db   stopped\n2 stopped, 0 failed\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	stack := wantStack(t, environ)
	wantCalls := []httpapitest.Call{
		{Method: "Daemon"},
		{Method: "Start", Request: api.StartRequest{Stack: stack}},
		{Method: "Stop", Request: api.StopRequest{Stack: stack, Services: []string{"db", "api"}}},
	}
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}

	// A stop that is refused is reported; the status stays the start's.
	b.StopFunc = func(context.Context, api.StopRequest) (api.StopResponse, error) {
		return api.StopResponse{}, &api.Error{Code: api.CodeUnavailable, Message: "the daemon is stopping"}
	}
	got = run(t, shopFiles, environ, "up", "-q")
	want = result{Code: 3, Stdout: "✖ api    failed: exit status 1\n⊘ web    blocked by api\n", Stderr: "harness: stop: the daemon is stopping\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stop refused (-want +got):\n%s", diff)
	}
}

func TestUpDetached(t *testing.T) {
	b := &httpapitest.Backend{StartFunc: results(
		api.ServiceResult{Name: "db", Action: "start", Outcome: api.OutcomeOK},
		api.ServiceResult{Name: "api", Action: "start", Outcome: api.OutcomeTimeout, Error: "not ready within 1m30s"},
	)}
	environ, _ := fakeDaemon(t, b)
	got := run(t, shopFiles, environ, "up", "-d", "api", "--timeout", "90s")
	// Exactly start: its output, its status; nothing stopped, no output followed.
	want := result{Code: 5, Stdout: "✔ db   started\n⏱ api  timeout: not ready within 1m30s\n1 started, 1 timed out, 0 failed, 0 blocked\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	wantCalls := []httpapitest.Call{
		{Method: "Daemon"},
		{Method: "Start", Request: api.StartRequest{Stack: wantStack(t, environ), Services: []string{"api"}, Timeout: api.Duration(90 * time.Second)}},
	}
	if diff := cmp.Diff(wantCalls, b.Calls()); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}
}

func TestUpStreamEnds(t *testing.T) {
	t.Run("the daemon fails", func(t *testing.T) {
		b := &httpapitest.Backend{
			StartFunc: results(api.ServiceResult{Name: "db", Action: "start", Outcome: api.OutcomeOK}),
			LogsFunc: func(_ context.Context, _ api.LogsRequest, emit func(api.LogLine) error) error {
				if err := emit(api.LogLine{Service: "db", Time: started, Stream: "stdout", Text: "one"}); err != nil {
					return err
				}
				return errors.New("read db.log: input/output error")
			},
			StopFunc: stopped,
		}
		environ, _ := fakeDaemon(t, b)
		got := run(t, shopFiles, environ, "up", "-q")
		want := result{Code: 1, Stdout: "db | one\n", Stderr: "harness: logs: read db.log: input/output error\n"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if calls := b.Calls(); calls[len(calls)-1].Method != "Daemon" {
			t.Errorf("calls %+v; want the daemon asked whether it is there, and no stop", calls)
		}
	})
	t.Run("the daemon goes away", func(t *testing.T) {
		b := &httpapitest.Backend{StartFunc: results(api.ServiceResult{Name: "db", Action: "start", Outcome: api.OutcomeOK})}
		environ, srv := fakeDaemon(t, b)
		b.LogsFunc = func(ctx context.Context, _ api.LogsRequest, emit func(api.LogLine) error) error {
			if err := emit(api.LogLine{Service: "db", Time: started, Stream: "stdout", Text: "one"}); err != nil {
				return err
			}
			_ = srv.Close() // like a daemon that crashed: no last line, the socket gone
			return nil
		}
		got := run(t, shopFiles, environ, "up", "-q")
		sock := strings.TrimPrefix(environ[0], "HARNESS_DATA_DIR=") + "/" + api.SocketName
		want := result{Code: 4, Stdout: "db | one\n",
			Stderr: "harness: logs: read stream: unexpected EOF; daemon: daemon unreachable: dial unix " + sock + ": connect: no such file or directory\n"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// status -w prints the status, then again at each change, until interrupted.
func TestStatusWatch(t *testing.T) {
	var mu sync.Mutex
	state := "starting"
	b := &httpapitest.Backend{
		StatusFunc: func(context.Context, api.StatusRequest) (api.Status, error) {
			mu.Lock()
			defer mu.Unlock()
			return api.Status{Stack: "shop", Services: []api.ServiceStatus{{Name: "db", Type: "process", Node: "local", State: state, Health: "none"}}}, nil
		},
		WatchFunc: func(ctx context.Context, _ api.Subscribe, emit func(uint64, api.ServiceEvent) error) error {
			mu.Lock()
			state = "running"
			mu.Unlock()
			if err := emit(2, api.ServiceEvent{Stack: "shop", Service: "db", State: "running"}); err != nil {
				return err
			}
			<-ctx.Done()
			return nil
		},
	}
	environ, _ := fakeDaemon(t, b)
	got := runUntil(t, environ, "running", "status", "-w", "-o", "json")
	want := `{"stack":"shop","services":[{"name":"db","type":"process","node":"local","state":"running","health":"none","pid":0,"container_id":"","ip":"","ports":null,"restarts":0,"started_at":null,"exit_code":null,"version":"","message":""}]}`
	lines := strings.Split(strings.TrimSpace(got.Stdout), "\n")
	if got.Code != 0 || lines[len(lines)-1] != want {
		t.Errorf("status -w: exit %d, last line:\n%s\nwant:\n%s", got.Code, lines[len(lines)-1], want)
	}
}
