package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/target"
)

// TargetName is the Handle.Target of the instances of this target.
const TargetName = "docker"

// defaultHost is where the engine listens when neither Options.Host nor DOCKER_HOST says.
const defaultHost = "unix:///var/run/docker.sock"

// Options configures a Target. The zero value is usable.
type Options struct {
	// Host is the engine's address in DOCKER_HOST form ("unix:///var/run/docker.sock",
	// "tcp://host:2375"); empty: the DOCKER_HOST environment variable, else the default
	// socket. The API version is negotiated with the engine, never pinned.
	Host string
	// Node names this host in handles; default "local".
	Node string
	// LogOptions sets the rotation of every instance's log.
	LogOptions logfile.Options
	// Logger receives what no caller can be returned: failures of the goroutines that
	// copy output. Default: discard.
	Logger *slog.Logger
}

// Target runs service instances as containers of a Docker engine. Create it with New; every
// method is safe for concurrent use. Close releases it and leaves the containers running.
type Target struct {
	opts Options
	api  client.APIClient
	log  *slog.Logger

	// names serializes Start per container name, networks EnsureNetwork per network name.
	names, networks keyedMutex
	// subnets serializes the choice and creation of networks on a free subnet.
	subnets sync.Mutex

	// copyCtx is the context of every log copy; Close cancels it.
	copyCtx    context.Context
	cancelCopy context.CancelFunc

	mu     sync.Mutex
	copies map[string]*logCopy // by container ID, while the copy runs
	// logPaths remembers the log of each container started or adopted here until Remove, for
	// Logs of a container whose labels are gone.
	logPaths map[string]string
	closed   bool
	wg       sync.WaitGroup // every log copy
}

var (
	_ target.Target    = (*Target)(nil)
	_ target.Execer    = (*Target)(nil)
	_ target.Signaler  = (*Target)(nil)
	_ target.Networker = (*Target)(nil)
)

// New returns a Target that talks to the engine at opts.Host. It does not contact the
// engine: the first call does, and negotiates the API version then.
func New(opts Options) (*Target, error) {
	if opts.Node == "" {
		opts.Node = "local"
	}
	if opts.Host == "" {
		opts.Host = os.Getenv("DOCKER_HOST")
	}
	if opts.Host == "" {
		opts.Host = defaultHost
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Not client.FromEnv: it would pin the API version to DOCKER_API_VERSION.
	api, err := client.New(client.WithHost(opts.Host), client.WithTLSClientConfigFromEnv())
	if err != nil {
		return nil, fmt.Errorf("docker target: client for %s: %w", opts.Host, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Target{
		opts:       opts,
		api:        api,
		log:        log,
		copyCtx:    ctx,
		cancelCopy: cancel,
		copies:     make(map[string]*logCopy),
		logPaths:   make(map[string]string),
	}, nil
}

// Close ends every log copy and waits for it, and releases the engine client's idle
// connections. The containers keep running, for another Target to adopt (Start of the same
// spec resumes the copy of their output). After Close, Start fails; the other methods still
// work, but no output is copied any more.
func (t *Target) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.cancelCopy()
	t.wg.Wait()
	return t.api.Close()
}

// errClosed: the Target was closed.
var errClosed = errors.New("docker target closed")

// containerID checks that h is a handle of this target and node and returns its container
// ID. Any other handle names no instance here: ErrNotFound.
func (t *Target) containerID(h target.Handle) (string, error) {
	if h.Target != TargetName {
		return "", fmt.Errorf("handle of target %q: %w", h.Target, target.ErrNotFound)
	}
	if h.Node != t.opts.Node {
		return "", fmt.Errorf("handle of node %q, this is %q: %w", h.Node, t.opts.Node, target.ErrNotFound)
	}
	if !isContainerID(h.ID) {
		// A short ID or a name would let the engine pick a container by prefix or by name.
		return "", fmt.Errorf("malformed handle id %q: %w", h.ID, target.ErrNotFound)
	}
	return h.ID, nil
}

// isContainerID reports whether id is a full container ID: 64 lowercase hex digits.
func isContainerID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// handle returns the handle of container id.
func (t *Target) handle(id string) target.Handle {
	return target.Handle{Target: TargetName, Node: t.opts.Node, ID: id}
}

// engineErr adds target.ErrNotFound to an engine error that says the object does not exist.
func engineErr(err error) error {
	if cerrdefs.IsNotFound(err) && !errors.Is(err, target.ErrNotFound) {
		return fmt.Errorf("%w (%w)", err, target.ErrNotFound)
	}
	return err
}
