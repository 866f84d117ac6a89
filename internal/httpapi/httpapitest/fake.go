package httpapitest

import (
	"context"
	"sync"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/httpapi"
)

// Backend is a scriptable httpapi.Backend. Each Func field, when set, answers its method; an
// unset one answers the zero response (Logs: no line). Every call is recorded, in order, for
// the test to check what the client sent. Set the fields before serving; the methods are
// safe for concurrent use.
type Backend struct {
	StartFunc  func(ctx context.Context, req api.StartRequest) (api.StartResponse, error)
	StopFunc   func(ctx context.Context, req api.StopRequest) (api.StopResponse, error)
	StatusFunc func(ctx context.Context, req api.StatusRequest) (api.Status, error)
	LogsFunc   func(ctx context.Context, req api.LogsRequest, emit func(api.LogLine) error) error
	ExecFunc   func(ctx context.Context, req api.ExecRequest) (api.ExecResponse, error)
	HealthFunc func(ctx context.Context, req api.HealthRequest) (api.HealthResponse, error)
	HostsFunc  func(ctx context.Context, req api.HostsRequest) (api.HostsResponse, error)
	TrustFunc  func(ctx context.Context, req api.TrustRequest) (api.TrustResponse, error)
	DeployFunc func(ctx context.Context, req api.DeployRequest) (api.DeployResponse, error)
	// ReleasesFunc answers Releases.
	ReleasesFunc func(ctx context.Context, req api.ReleasesRequest) (api.ReleasesResponse, error)
	// NetworkFunc answers Network.
	NetworkFunc func(ctx context.Context, req api.NetworkRequest) (api.NetworkResponse, error)
	// RotateKeysFunc answers RotateKeys.
	RotateKeysFunc func(ctx context.Context, req api.NetworkRequest) (api.RotateKeysResponse, error)
	WatchFunc      func(ctx context.Context, sub api.Subscribe, emit func(uint64, api.ServiceEvent) error) error
	// Rev is what Revision answers.
	Rev uint64
	// Info is what Daemon answers.
	Info api.Daemon
	// OnShutdown, when set, runs on Shutdown (which must return at once: OnShutdown too).
	OnShutdown func()

	mu    sync.Mutex
	calls []Call
}

var _ httpapi.Backend = (*Backend)(nil)

// Call is one call of a Backend method: its name ("Start", "Stop", "Status", "Logs", "Exec",
// "Health", "Hosts", "Trust", "Daemon", "Shutdown") and its request (nil for Daemon and Shutdown).
type Call struct {
	Method  string
	Request any
}

// Calls returns the calls so far, in order.
func (b *Backend) Calls() []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Call(nil), b.calls...)
}

func (b *Backend) record(method string, req any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, Call{Method: method, Request: req})
}

// Start implements httpapi.Backend.
func (b *Backend) Start(ctx context.Context, req api.StartRequest) (api.StartResponse, error) {
	return answer(b, "Start", b.StartFunc, ctx, req)
}

// Stop implements httpapi.Backend.
func (b *Backend) Stop(ctx context.Context, req api.StopRequest) (api.StopResponse, error) {
	return answer(b, "Stop", b.StopFunc, ctx, req)
}

// Status implements httpapi.Backend.
func (b *Backend) Status(ctx context.Context, req api.StatusRequest) (api.Status, error) {
	return answer(b, "Status", b.StatusFunc, ctx, req)
}

// Logs implements httpapi.Backend.
func (b *Backend) Logs(ctx context.Context, req api.LogsRequest, emit func(api.LogLine) error) error {
	b.record("Logs", req)
	if b.LogsFunc == nil {
		return nil
	}
	return b.LogsFunc(ctx, req, emit)
}

// Exec implements httpapi.Backend.
func (b *Backend) Exec(ctx context.Context, req api.ExecRequest) (api.ExecResponse, error) {
	return answer(b, "Exec", b.ExecFunc, ctx, req)
}

// Health implements httpapi.Backend.
func (b *Backend) Health(ctx context.Context, req api.HealthRequest) (api.HealthResponse, error) {
	return answer(b, "Health", b.HealthFunc, ctx, req)
}

// Hosts implements httpapi.Backend.
func (b *Backend) Hosts(ctx context.Context, req api.HostsRequest) (api.HostsResponse, error) {
	return answer(b, "Hosts", b.HostsFunc, ctx, req)
}

// Deploy implements httpapi.Backend.
func (b *Backend) Deploy(ctx context.Context, req api.DeployRequest) (api.DeployResponse, error) {
	return answer(b, "Deploy", b.DeployFunc, ctx, req)
}

// Releases implements httpapi.Backend.
func (b *Backend) Releases(ctx context.Context, req api.ReleasesRequest) (api.ReleasesResponse, error) {
	return answer(b, "Releases", b.ReleasesFunc, ctx, req)
}

// RotateKeys implements httpapi.Backend.
func (b *Backend) RotateKeys(ctx context.Context, req api.NetworkRequest) (api.RotateKeysResponse, error) {
	return answer(b, "RotateKeys", b.RotateKeysFunc, ctx, req)
}

// Network implements httpapi.Backend.
func (b *Backend) Network(ctx context.Context, req api.NetworkRequest) (api.NetworkResponse, error) {
	return answer(b, "Network", b.NetworkFunc, ctx, req)
}

// Trust implements httpapi.Backend.
func (b *Backend) Trust(ctx context.Context, req api.TrustRequest) (api.TrustResponse, error) {
	return answer(b, "Trust", b.TrustFunc, ctx, req)
}

// answer records the call of method with req and answers it with f; nil f answers the zero
// response.
func answer[Req, Resp any](b *Backend, method string, f func(context.Context, Req) (Resp, error), ctx context.Context, req Req) (Resp, error) {
	b.record(method, req)
	if f == nil {
		var zero Resp
		return zero, nil
	}
	return f(ctx, req)
}

// Daemon implements httpapi.Backend.
func (b *Backend) Daemon() api.Daemon {
	b.record("Daemon", nil)
	return b.Info
}

// Shutdown implements httpapi.Backend.
func (b *Backend) Shutdown() {
	b.record("Shutdown", nil)
	if b.OnShutdown != nil {
		b.OnShutdown()
	}
}

// Revision implements httpapi.Backend.
func (b *Backend) Revision() uint64 { return b.Rev }

// Watch implements httpapi.Backend; unset, it delivers nothing until ctx ends. It is not
// recorded in Calls: subscriptions come and go beside the requests (a start's progress), and
// a test that cares sets WatchFunc.
func (b *Backend) Watch(ctx context.Context, sub api.Subscribe, emit func(uint64, api.ServiceEvent) error) error {
	if b.WatchFunc == nil {
		<-ctx.Done()
		return nil
	}
	return b.WatchFunc(ctx, sub, emit)
}
