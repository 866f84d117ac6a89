package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/graph-network-harness/harness/internal/deploy"
	"github.com/graph-network-harness/harness/internal/httpapi"
	"github.com/graph-network-harness/harness/internal/lockfile"
	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/node"
	"github.com/graph-network-harness/harness/target"
)

// SocketName is the agent's socket in its dir.
const SocketName = "agent.sock"

// Options configures an agent.
type Options struct {
	// Dir holds everything of the agent on its host: the socket, the lock, the instance
	// state, the services' logs. Created 0700 when missing.
	Dir string
	// Version is what Info reports; the controller replaces an agent of another version.
	Version string
	// Logger receives the agent's own log. Default: discard.
	Logger *slog.Logger
	// Targets replaces the node's targets (tests); nil: the local node's, process and docker.
	Targets map[string]target.Target
}

// Serve runs the agent on opts.Dir until ctx ends: it takes the dir's lock (one agent per
// dir: lockfile.ErrLocked otherwise), listens on DIR/agent.sock (0600) and serves the node
// operations. The services keep running when it returns.
func Serve(ctx context.Context, opts Options) (err error) {
	if opts.Dir == "" {
		return errors.New("agent: no dir")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	lock, err := lockfile.Lock(filepath.Join(opts.Dir, "agent.lock"))
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer lock.Close()
	targets := opts.Targets
	if targets == nil {
		local, err := node.NewLocal(node.LocalOptions{DataDir: opts.Dir, Logger: log})
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		defer func() { err = errors.Join(err, local.Close()) }()
		targets = local.Targets()
	}
	ln, err := httpapi.Listen(filepath.Join(opts.Dir, SocketName))
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	srv := &http.Server{
		Handler:           NewHandler(targets, opts.Dir, opts.Version, log),
		BaseContext:       func(_ net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("agent listening", "socket", ln.Addr().String(), "pid", os.Getpid(), "version", opts.Version)
	select {
	case err := <-served:
		return fmt.Errorf("agent: %w", err)
	case <-ctx.Done():
	}
	// Requests in flight (a Wait, a followed log) end with ctx; give them a moment.
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	return nil
}

// server serves the node operations on targets.
type server struct {
	targets map[string]target.Target
	dir     string
	info    Info
	log     *slog.Logger
}

// NewHandler returns the agent's API on targets; dir is where the services' logs go when a
// spec names none.
func NewHandler(targets map[string]target.Target, dir, version string, log *slog.Logger) http.Handler {
	host, _ := os.Hostname()
	sum, err := ExecutableChecksum()
	if err != nil {
		log.Warn("agent: checksum of the executable", "err", err)
	}
	s := &server{targets: targets, dir: dir, log: log, info: Info{
		Version: version, Checksum: sum, OS: runtime.GOOS, Arch: runtime.GOARCH, PID: os.Getpid(), Hostname: host, Started: time.Now(),
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/info", func(w http.ResponseWriter, r *http.Request) { s.reply(w, s.info, nil) })
	mux.HandleFunc("POST /v1/interfaces", func(w http.ResponseWriter, r *http.Request) {
		ifs, err := network.Interfaces()
		s.reply(w, ifs, err)
	})
	s.wireguardRoutes(mux)
	mux.HandleFunc("POST /v1/start", s.start)
	mux.HandleFunc("POST /v1/put", s.put)
	mux.HandleFunc("POST /v1/context-stat", s.contextStat)
	mux.HandleFunc("POST /v1/context", s.contextPut)
	network := func(name string, op func(context.Context, target.Networker, networkRequest) (any, error)) {
		route(s, mux, name, func(r networkRequest) string { return r.Target },
			func(ctx context.Context, t target.Target, req networkRequest) (any, error) {
				nw, ok := t.(target.Networker)
				if !ok {
					return nil, fmt.Errorf("%s: the %s target has no networks: %w", name, req.Target, target.ErrUnsupported)
				}
				return op(ctx, nw, req)
			})
	}
	network("ensure-network", func(ctx context.Context, nw target.Networker, req networkRequest) (any, error) {
		return nw.EnsureNetwork(ctx, req.Network)
	})
	network("remove-stack", func(ctx context.Context, nw target.Networker, req networkRequest) (any, error) {
		return struct{}{}, nw.RemoveStack(ctx, req.Stack, req.Volumes)
	})
	handle := func(name string, op func(context.Context, target.Target, handleRequest) (any, error)) {
		route(s, mux, name, func(r handleRequest) string { return r.Handle.Target }, op)
	}
	handle("wait", func(ctx context.Context, t target.Target, req handleRequest) (any, error) {
		return t.Wait(ctx, req.Handle)
	})
	handle("stop", func(ctx context.Context, t target.Target, req handleRequest) (any, error) {
		return struct{}{}, t.Stop(ctx, req.Handle, req.Grace)
	})
	handle("remove", func(ctx context.Context, t target.Target, req handleRequest) (any, error) {
		return struct{}{}, t.Remove(ctx, req.Handle)
	})
	handle("inspect", func(ctx context.Context, t target.Target, req handleRequest) (any, error) {
		return t.Inspect(ctx, req.Handle)
	})
	handle("exec", func(ctx context.Context, t target.Target, req handleRequest) (any, error) {
		e, ok := t.(target.Execer)
		if !ok {
			return nil, fmt.Errorf("exec: %w", target.ErrUnsupported)
		}
		res, err := e.Exec(ctx, req.Handle, req.Argv)
		return execResponse{ExitCode: res.ExitCode, Output: res.Output}, err
	})
	handle("signal", func(ctx context.Context, t target.Target, req handleRequest) (any, error) {
		sg, ok := t.(target.Signaler)
		if !ok {
			return nil, fmt.Errorf("signal: %w", target.ErrUnsupported)
		}
		return struct{}{}, sg.Signal(ctx, req.Handle, req.Signal)
	})
	release := func(name string, op func(context.Context, deploy.Dir, releaseRequest) (any, error)) {
		mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
			var req releaseRequest
			if !s.decode(w, r, &req) {
				return
			}
			if !filepath.IsAbs(req.Dir) {
				s.reply(w, nil, fmt.Errorf("%s: install directory %q: want an absolute path: %w", name, req.Dir, target.ErrInvalidSpec))
				return
			}
			resp, err := op(r.Context(), deploy.Dir(filepath.Clean(req.Dir)), req)
			s.reply(w, resp, err)
		})
	}
	release("releases", func(_ context.Context, d deploy.Dir, _ releaseRequest) (any, error) { return d.List() })
	release("release-install", func(ctx context.Context, d deploy.Dir, req releaseRequest) (any, error) {
		return d.Install(ctx, req.Install)
	})
	release("release-activate", func(_ context.Context, d deploy.Dir, req releaseRequest) (any, error) {
		return d.Activate(req.ID, req.Keep)
	})
	mux.HandleFunc("POST /v1/logs", func(w http.ResponseWriter, r *http.Request) {
		var req handleRequest
		if !s.decode(w, r, &req) {
			return
		}
		t, err := s.target(req.Handle.Target)
		if err != nil {
			s.reply(w, nil, err)
			return
		}
		rc, err := t.Logs(r.Context(), req.Handle, req.Logs)
		s.stream(w, rc, err)
	})
	mux.HandleFunc("POST /v1/service-logs", func(w http.ResponseWriter, r *http.Request) {
		var req serviceLogsRequest
		if !s.decode(w, r, &req) {
			return
		}
		path, err := s.logPath(req.Stack, req.Service)
		if err != nil {
			s.reply(w, nil, err)
			return
		}
		o := logfile.ReadOptions{Tail: req.Logs.Tail, Since: req.Logs.Since, Follow: req.Logs.Follow}
		s.stream(w, logfile.NewReader(r.Context(), path, o, func(err error) error { return err }), nil)
	})
	return mux
}

// route serves POST /v1/NAME: it decodes a Req, finds the target that targetOf names in it,
// and answers what op returns.
func route[Req any](s *server, mux *http.ServeMux, name string, targetOf func(Req) string, op func(context.Context, target.Target, Req) (any, error)) {
	mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if !s.decode(w, r, &req) {
			return
		}
		t, err := s.target(targetOf(req))
		if err != nil {
			s.reply(w, nil, err)
			return
		}
		resp, err := op(r.Context(), t, req)
		s.reply(w, resp, err)
	})
}

func (s *server) start(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	if !s.decode(w, r, &req) {
		return
	}
	t, err := s.target(req.Target)
	if err != nil {
		s.reply(w, nil, err)
		return
	}
	if req.Spec.LogPath == "" {
		if req.Spec.LogPath, err = s.logPath(req.Spec.Stack, req.Spec.Service); err != nil {
			s.reply(w, nil, fmt.Errorf("%w: %w", err, target.ErrInvalidSpec))
			return
		}
	}
	h, err := t.Start(r.Context(), req.Spec)
	s.reply(w, h, err)
}

// put writes the request's body to the file ?path= (absolute, or "~/" for the home of the
// agent's user) with ?mode= (octal; default 0644): into a temporary file beside it, synced,
// then renamed, so the file is whole or absent. With ?sha256=, a body of another checksum is
// refused and nothing is written.
func (s *server) put(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	res, err := putFile(q.Get("path"), q.Get("mode"), q.Get("sha256"), r.Body)
	s.reply(w, res, err)
}

func putFile(path, modeText, want string, body io.Reader) (PutResult, error) {
	fail := func(err error) (PutResult, error) {
		return PutResult{}, fmt.Errorf("put %s: %w", path, err)
	}
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return fail(err)
		}
		path = filepath.Join(home, rest)
	}
	if !filepath.IsAbs(path) {
		return fail(fmt.Errorf("want an absolute path: %w", target.ErrInvalidSpec))
	}
	mode := uint64(0o644)
	if modeText != "" {
		var err error
		if mode, err = strconv.ParseUint(modeText, 8, 32); err != nil || mode > 0o7777 {
			return fail(fmt.Errorf("mode %q: want octal permissions: %w", modeText, target.ErrInvalidSpec))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fail(err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(f.Name()) // after the rename: nothing
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), body)
	sum := hex.EncodeToString(h.Sum(nil))
	if err == nil && want != "" && want != sum {
		err = fmt.Errorf("the body's sha256 is %s, not %s: %w", sum, want, target.ErrInvalidSpec)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(os.FileMode(mode))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fail(err)
	}
	return PutResult{Path: path, Size: n, SHA256: sum}, nil
}

// logPath is the agent's log of a service: DIR/logs/STACK/SERVICE.log.
func (s *server) logPath(stack, service string) (string, error) {
	for _, name := range []string{stack, service} {
		if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
			return "", fmt.Errorf("bad stack or service name %q", name)
		}
	}
	return filepath.Join(s.dir, "logs", stack, service+".log"), nil
}

func (s *server) target(name string) (target.Target, error) {
	if t := s.targets[name]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("no target %q on this node: %w", name, target.ErrUnsupported)
}

// decode reads the request's JSON body into v, or answers 400 and returns false.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.send(w, http.StatusBadRequest, wireError{Message: "bad request: " + err.Error()})
		return false
	}
	return true
}

// reply answers v, or err with the kind of the target sentinel it wraps.
func (s *server) reply(w http.ResponseWriter, v any, err error) {
	if err == nil {
		s.send(w, http.StatusOK, v)
		return
	}
	e := wireError{Message: err.Error()}
	status := http.StatusInternalServerError
	for kind, sentinel := range kinds {
		if errors.Is(err, sentinel) {
			e.Kind, status = kind, http.StatusUnprocessableEntity
			break
		}
	}
	s.send(w, status, e)
}

func (s *server) send(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("agent: write response", "err", err)
	}
}

// stream copies rc to the response, flushing every chunk, so that a follower sees each line
// as it is stored. An error once the stream has begun ends it early: the client sees a
// truncated stream, not EOF after a complete one, because the chunked encoding is not
// terminated.
func (s *server) stream(w http.ResponseWriter, rc io.ReadCloser, err error) {
	if err != nil {
		s.reply(w, nil, err)
		return
	}
	defer rc.Close()
	rctl := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := rc.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
			if err := rctl.Flush(); err != nil {
				return
			}
		}
		if errors.Is(rerr, io.EOF) {
			return
		}
		if rerr != nil {
			s.log.Debug("agent: log stream", "err", rerr)
			panic(http.ErrAbortHandler) // abort: the client must not take it for the end
		}
	}
}

// ExecutableChecksum is the SHA-256 (hex) of the running executable.
func ExecutableChecksum() (string, error) {
	path, err := os.Executable()
	if err != nil {
		return "", err
	}
	return FileChecksum(path)
}

// FileChecksum is the SHA-256 (hex) of the file at path.
func FileChecksum(path string) (string, error) { return deploy.FileSHA256(path) }
