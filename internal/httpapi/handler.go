package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/graph-network-harness/harness/api"
)

// Backend is what the daemon provides to the API.
type Backend interface {
	Start(ctx context.Context, req api.StartRequest) (api.StartResponse, error)
	Stop(ctx context.Context, req api.StopRequest) (api.StopResponse, error)
	Status(ctx context.Context, req api.StatusRequest) (api.Status, error)
	// Logs calls emit for every line, oldest first; with req.Follow until ctx ends (then nil).
	Logs(ctx context.Context, req api.LogsRequest, emit func(api.LogLine) error) error
	// Exec runs a command where a service runs and waits for it to end; a command that ends
	// with a non-zero exit code is a response, not an error.
	Exec(ctx context.Context, req api.ExecRequest) (api.ExecResponse, error)
	// Health runs the health checks of services once, now; an unhealthy service is a
	// response, not an error.
	Health(ctx context.Context, req api.HealthRequest) (api.HealthResponse, error)
	// Hosts contacts the remote nodes of a stack and says what they answered.
	Hosts(ctx context.Context, req api.HostsRequest) (api.HostsResponse, error)
	// Trust shows the host key a node offers, and records it once confirmed.
	Trust(ctx context.Context, req api.TrustRequest) (api.TrustResponse, error)
	// Deploy deploys a release of a package service; a deploy that fails is a response.
	Deploy(ctx context.Context, req api.DeployRequest) (api.DeployResponse, error)
	// Releases lists the releases of a package service on its node, and its deploys.
	Releases(ctx context.Context, req api.ReleasesRequest) (api.ReleasesResponse, error)
	// Network reads the nodes of a stack and says which reach which, and where every
	// service is reached from each node.
	Network(ctx context.Context, req api.NetworkRequest) (api.NetworkResponse, error)
	// RotateKeys gives every member of the stack's meshes a new key.
	RotateKeys(ctx context.Context, req api.NetworkRequest) (api.RotateKeysResponse, error)
	Daemon() api.Daemon
	// Shutdown asks the daemon to end supervision (services keep running); it returns at once.
	Shutdown()
	// Revision is the revision of the daemon's last change.
	Revision() uint64
	// Watch calls emit with every service event of sub after sub.Since, in order, until ctx
	// ends (then nil), emit fails, or the subscriber cannot be served any more: it fell too far
	// behind, or the events after sub.Since are no longer kept (an *api.Error, CodeConflict).
	Watch(ctx context.Context, sub api.Subscribe, emit func(revision uint64, ev api.ServiceEvent) error) error
}

// MaxRequestBytes bounds the body of a request: a request carries the caller's whole
// environment, which can be large, but never this large.
const MaxRequestBytes = 16 << 20

// route is one endpoint: its method, its path, and what serves it.
type route struct {
	method, path string
	serve        func(w http.ResponseWriter, r *http.Request) error
}

// handler serves the API over a Backend.
type handler struct {
	b   Backend
	log *slog.Logger
}

// NewHandler serves the endpoints of package api (api.PathStart etc.) over b. A nil log
// discards. The handler is safe for concurrent use as far as b is.
func NewHandler(b Backend, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{b: b, log: log}
	routes := []route{
		{http.MethodPost, api.PathStart, call(h, b.Start)},
		{http.MethodPost, api.PathStop, call(h, b.Stop)},
		{http.MethodPost, api.PathStatus, call(h, b.Status)},
		{http.MethodPost, api.PathLogs, h.logs},
		{http.MethodPost, api.PathExec, call(h, b.Exec)},
		{http.MethodPost, api.PathHealth, call(h, b.Health)},
		{http.MethodPost, api.PathHosts, call(h, b.Hosts)},
		{http.MethodPost, api.PathTrust, call(h, b.Trust)},
		{http.MethodPost, api.PathDeploy, call(h, b.Deploy)},
		{http.MethodPost, api.PathReleases, call(h, b.Releases)},
		{http.MethodPost, api.PathNetwork, call(h, b.Network)},
		{http.MethodPost, api.PathRotateKeys, call(h, b.RotateKeys)},
		{http.MethodGet, api.PathDaemon, h.daemon},
		{http.MethodPost, api.PathShutdown, h.shutdown},
		{http.MethodGet, api.PathEvents, h.events},
	}
	mux := http.NewServeMux()
	methods := map[string]string{} // path → its method, for the 405s
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if err := rt.serve(w, r); err != nil {
				h.fail(w, r, err)
			}
		})
		methods[rt.path] = rt.method
	}
	// Everything else: JSON errors rather than ServeMux's plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := methods[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			h.send(w, r, http.StatusMethodNotAllowed, api.Error{
				Code:    api.CodeBadRequest,
				Message: fmt.Sprintf("method %s not allowed on %s; use %s", r.Method, r.URL.Path, m),
			})
			return
		}
		h.fail(w, r, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no endpoint %s", r.URL.Path)})
	})
	return mux
}

// call serves an endpoint that decodes a Req, asks the Backend, and answers a Resp.
func call[Req, Resp any](h *handler, do func(context.Context, Req) (Resp, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req Req
		if err := decode(w, r, &req); err != nil {
			return err
		}
		resp, err := do(r.Context(), req)
		if err != nil {
			return err
		}
		h.send(w, r, http.StatusOK, resp)
		return nil
	}
}

func (h *handler) daemon(w http.ResponseWriter, r *http.Request) error {
	h.send(w, r, http.StatusOK, h.b.Daemon())
	return nil
}

// shutdown answers with the daemon's description, then asks the Backend to stop: the
// response is complete (Content-Length, flushed) before the daemon may close connections.
func (h *handler) shutdown(w http.ResponseWriter, r *http.Request) error {
	h.send(w, r, http.StatusOK, h.b.Daemon())
	_ = http.NewResponseController(w).Flush()
	h.b.Shutdown()
	return nil
}

// decode reads the JSON body of r into v: one JSON value, at most MaxRequestBytes. Unknown
// fields are accepted, so that newer clients can talk to older daemons. Anything malformed
// is a CodeBadRequest.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	err := dec.Decode(v)
	if err == nil {
		// One value only: trailing data means the body is not what the client meant.
		if dec.Decode(&json.RawMessage{}) != io.EOF {
			err = errors.New("data after the JSON value")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		err = errors.New("empty body; want a JSON object")
	case errors.As(err, &tooBig):
		err = fmt.Errorf("body larger than %d bytes", tooBig.Limit)
	}
	return &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("request %s: %v", r.URL.Path, err)}
}

// errorOf is the error table: an *api.Error anywhere in err's chain gives the code (and so the
// status, api.Code.Status); anything else is CodeInternal. The message is always the whole of
// err, so the client sees the real cause with its context.
func errorOf(err error) api.Error {
	out := api.Error{Code: api.CodeInternal, Message: err.Error()}
	var e *api.Error
	if errors.As(err, &e) && e.Code != "" {
		out.Code = e.Code
	}
	return out
}

// fail answers err as an api.Error with the status of its code.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errorOf(err)
	status := e.Code.Status()
	if status >= http.StatusInternalServerError {
		h.log.Error("request", "method", r.Method, "path", r.URL.Path, "status", status, "err", e.Message)
	} else {
		h.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", status, "err", e.Message)
	}
	h.send(w, r, status, e)
}

// send writes v as the JSON body of a response with status, with its Content-Length.
func (h *handler) send(w http.ResponseWriter, r *http.Request, status int, v any) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		// Only a Backend value that JSON cannot hold gets here.
		status = http.StatusInternalServerError
		b.Reset()
		_ = json.NewEncoder(&b).Encode(api.Error{Code: api.CodeInternal, Message: fmt.Sprintf("encode response: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	if _, err := w.Write(b.Bytes()); err != nil {
		// The client went away: nobody is left to tell.
		h.log.Debug("write response", "path", r.URL.Path, "err", err)
	}
}
