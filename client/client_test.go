package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var started = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

var stack = api.Stack{Config: "/s/services.yaml", Environ: []string{"A=1"}}

// serve serves b as the daemon of a new data dir and returns a client of it.
func serve(t *testing.T, b *httpapitest.Backend) *client.Client {
	t.Helper()
	dir := t.TempDir()
	httpapitest.Serve(t, filepath.Join(dir, api.SocketName), b)
	return client.New(dir)
}

func TestSocket(t *testing.T) {
	if diff := cmp.Diff("/data/harness.sock", client.New("/data").Socket()); diff != "" {
		t.Errorf("Socket (-want +got):\n%s", diff)
	}
}

func TestRequests(t *testing.T) {
	exit := 1
	b := &httpapitest.Backend{
		StartFunc: func(_ context.Context, req api.StartRequest) (api.StartResponse, error) {
			return api.StartResponse{Stack: "shop", Services: []api.ServiceResult{{Name: "db", Action: "start", Outcome: api.OutcomeOK}}}, nil
		},
		StopFunc: func(_ context.Context, req api.StopRequest) (api.StopResponse, error) {
			return api.StopResponse{Stack: "shop", Services: []api.ServiceResult{{Name: "db", Action: "stop", Outcome: api.OutcomeFailed, Error: "boom"}}}, nil
		},
		StatusFunc: func(_ context.Context, req api.StatusRequest) (api.Status, error) {
			return api.Status{Stack: "shop", Services: []api.ServiceStatus{{Name: "db", State: "exited", StartedAt: &started, ExitCode: &exit, Ports: []int{5432}}}}, nil
		},
		ExecFunc: func(_ context.Context, req api.ExecRequest) (api.ExecResponse, error) {
			return api.ExecResponse{ExitCode: 3, Output: "out\nerr\n", Truncated: true}, nil
		},
		HealthFunc: func(_ context.Context, req api.HealthRequest) (api.HealthResponse, error) {
			return api.HealthResponse{Stack: "shop", Services: []api.HealthResult{{Name: "db", Kind: "tcp", Status: "healthy", Latency: api.Duration(3 * time.Millisecond)}}}, nil
		},
		Info: api.Daemon{PID: 7, Version: "v1", DataDir: "/d", StartedAt: started},
	}
	c := serve(t, b)
	ctx := t.Context()

	startReq := api.StartRequest{Stack: stack, Services: []string{"db"}, Timeout: api.Duration(time.Minute)}
	start, err := c.Start(ctx, startReq)
	check(t, "Start", api.StartResponse{Stack: "shop", Services: []api.ServiceResult{{Name: "db", Action: "start", Outcome: "ok"}}}, start, err)

	stopReq := api.StopRequest{Stack: stack}
	stop, err := c.Stop(ctx, stopReq)
	check(t, "Stop", api.StopResponse{Stack: "shop", Services: []api.ServiceResult{{Name: "db", Action: "stop", Outcome: "failed", Error: "boom"}}}, stop, err)

	statusReq := api.StatusRequest{Stack: stack, Services: []string{"db"}}
	status, err := c.Status(ctx, statusReq)
	check(t, "Status", api.Status{Stack: "shop", Services: []api.ServiceStatus{{Name: "db", State: "exited", StartedAt: &started, ExitCode: &exit, Ports: []int{5432}}}}, status, err)

	execReq := api.ExecRequest{Stack: stack, Service: "db", Command: []string{"sh", "-c", "exit 3"}, Timeout: api.Duration(time.Second)}
	exec, err := c.Exec(ctx, execReq)
	check(t, "Exec", api.ExecResponse{ExitCode: 3, Output: "out\nerr\n", Truncated: true}, exec, err)

	healthReq := api.HealthRequest{Stack: stack, Services: []string{"db"}}
	health, err := c.Health(ctx, healthReq)
	check(t, "Health", api.HealthResponse{Stack: "shop", Services: []api.HealthResult{{Name: "db", Kind: "tcp", Status: "healthy", Latency: api.Duration(3 * time.Millisecond)}}}, health, err)

	d, err := c.Daemon(ctx)
	check(t, "Daemon", b.Info, d, err)

	d, err = c.Shutdown(ctx)
	check(t, "Shutdown", b.Info, d, err)

	want := []httpapitest.Call{
		{Method: "Start", Request: startReq},
		{Method: "Stop", Request: stopReq},
		{Method: "Status", Request: statusReq},
		{Method: "Exec", Request: execReq},
		{Method: "Health", Request: healthReq},
		{Method: "Daemon"},
		{Method: "Daemon"}, {Method: "Shutdown"},
	}
	// The daemon answers a shutdown before it shuts down: the call may be recorded just after
	// the answer arrived.
	calls := b.Calls()
	for deadline := time.Now().Add(5 * time.Second); len(calls) < len(want) && time.Now().Before(deadline); calls = b.Calls() {
		time.Sleep(10 * time.Millisecond)
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("what the daemon got (-want +got):\n%s", diff)
	}
}

func check[V any](t *testing.T, what string, want, got V, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestErrorResponse(t *testing.T) {
	c := serve(t, &httpapitest.Backend{
		StartFunc: func(context.Context, api.StartRequest) (api.StartResponse, error) {
			return api.StartResponse{}, &api.Error{Code: api.CodeNotFound, Message: `shop: no service "x" in /s/services.yaml`}
		},
		StatusFunc: func(context.Context, api.StatusRequest) (api.Status, error) {
			return api.Status{}, &api.Error{Code: api.CodeInvalidConfig, Message: "/s/services.yaml:2:3: bad"}
		},
		ExecFunc: func(context.Context, api.ExecRequest) (api.ExecResponse, error) {
			return api.ExecResponse{}, &api.Error{Code: api.CodeConflict, Message: `exec db: service "db" is not running`}
		},
	})
	_, err := c.Start(t.Context(), api.StartRequest{Stack: stack})
	if !errors.Is(err, api.ErrNotFound) || errors.Is(err, api.ErrInvalidConfig) {
		t.Errorf("Start: %v; want api.ErrNotFound only", err)
	}
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("Start: %T %v; want an *api.Error in the chain", err, err)
	}
	if diff := cmp.Diff(&api.Error{Code: api.CodeNotFound, Message: `shop: no service "x" in /s/services.yaml`}, e); diff != "" {
		t.Errorf("the *api.Error (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(`start: shop: no service "x" in /s/services.yaml`, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}

	_, err = c.Status(t.Context(), api.StatusRequest{Stack: stack})
	if !errors.Is(err, api.ErrInvalidConfig) {
		t.Errorf("Status: %v; want api.ErrInvalidConfig", err)
	}
	if diff := cmp.Diff("status: /s/services.yaml:2:3: bad", err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}

	_, err = c.Exec(t.Context(), api.ExecRequest{Stack: stack, Service: "db", Command: []string{"true"}})
	if !errors.Is(err, api.ErrConflict) {
		t.Errorf("Exec: %v; want api.ErrConflict", err)
	}
	if diff := cmp.Diff(`exec: exec db: service "db" is not running`, errString(err)); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

// TestForeignResponse checks what a response that is not the API's becomes.
func TestForeignResponse(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, api.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream gone", http.StatusBadGateway)
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { srv.Close(); <-served }()

	_, err = client.New(dir).Daemon(t.Context())
	if diff := cmp.Diff("daemon: unexpected response 502 Bad Gateway: upstream gone", errString(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !errors.Is(err, api.ErrInternal) {
		t.Errorf("%v: want api.ErrInternal", err)
	}
}

func TestUnreachable(t *testing.T) {
	t.Run("no socket", func(t *testing.T) {
		dir := t.TempDir()
		_, err := client.New(dir).Daemon(t.Context())
		want := "daemon: daemon unreachable: dial unix " + filepath.Join(dir, api.SocketName) + ": connect: no such file or directory"
		if diff := cmp.Diff(want, errString(err)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !errors.Is(err, client.ErrUnreachable) || !errors.Is(err, syscall.ENOENT) {
			t.Errorf("%v: want client.ErrUnreachable and ENOENT", err)
		}
	})
	t.Run("stale socket", func(t *testing.T) {
		dir := t.TempDir()
		sock := filepath.Join(dir, api.SocketName)
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		err = client.New(dir).Logs(t.Context(), api.LogsRequest{Follow: true}, func(api.LogLine) error { return nil })
		want := "logs: daemon unreachable: dial unix " + sock + ": connect: connection refused"
		if diff := cmp.Diff(want, errString(err)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !errors.Is(err, client.ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%v: want client.ErrUnreachable and ECONNREFUSED", err)
		}
	})
}

// A daemon that is going away accepts connections and drops them unanswered, then is gone:
// Daemon says it is unreachable (a CLI then starts another), not that a read was reset.
func TestDaemonGoingAway(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, api.SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // as a killed daemon leaves it
	var dropped atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		for range 3 {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Read(make([]byte, 1)) // the request came; what is left unread resets it
			conn.Close()
			dropped.Add(1)
		}
	}()
	_, err = client.New(dir).Daemon(t.Context())
	ln.Close()
	<-done
	if !errors.Is(err, client.ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Daemon = %v, want client.ErrUnreachable and ECONNREFUSED", err)
	}
	if diff := cmp.Diff(int32(3), dropped.Load()); diff != "" {
		t.Errorf("connections dropped (-want +got):\n%s", diff)
	}
}

func TestContextEnds(t *testing.T) {
	c := serve(t, &httpapitest.Backend{
		StartFunc: func(ctx context.Context, _ api.StartRequest) (api.StartResponse, error) {
			<-ctx.Done() // the client went away
			return api.StartResponse{}, ctx.Err()
		},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Start(ctx, api.StartRequest{Stack: stack})
	if diff := cmp.Diff("start: context deadline exceeded", errString(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrUnreachable) {
		t.Errorf("%v: want context.DeadlineExceeded, not ErrUnreachable", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
