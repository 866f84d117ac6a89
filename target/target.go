package target

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"
)

// Target starts, watches and stops service instances of one kind.
type Target interface {
	// Start starts an instance and returns its handle once it runs. When Start fails,
	// nothing of the instance is left running.
	Start(ctx context.Context, spec Spec) (Handle, error)
	// Wait blocks until the instance exits, or ctx ends, and reports how it exited.
	Wait(ctx context.Context, h Handle) (Exit, error)
	// Stop sends spec.StopSignal, waits up to grace, then kills; it returns once nothing of
	// the instance runs. Stopping an instance that already exited succeeds.
	Stop(ctx context.Context, h Handle, grace time.Duration) error
	// Remove releases what a stopped instance leaves behind (a container, a status file).
	Remove(ctx context.Context, h Handle) error
	// Inspect reports the instance's status, or ErrNotFound.
	Inspect(ctx context.Context, h Handle) (Status, error)
	// Logs opens the instance's stored output.
	Logs(ctx context.Context, h Handle, opts LogOptions) (io.ReadCloser, error)
}

// Execer is a Target that runs a command where an instance runs (inside its container, on
// its host); health checks of kind command use it.
type Execer interface {
	Exec(ctx context.Context, h Handle, argv []string) (ExecResult, error)
}

// Signaler is a Target that delivers a signal to an instance.
type Signaler interface {
	Signal(ctx context.Context, h Handle, signal string) error
}

// Dialer is a Target whose instances run on another host: DialContext opens a connection
// from that host, so that health checks reach a service as its neighbours there do.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Pinger is a Target whose node can be out of reach (a remote node's). Ping returns nil when
// the node answers, else an error that wraps ErrUnreachable: a failed check of a service on
// an unreachable node says nothing of the service.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Spec is everything a Target needs to start one instance. Values are final: references and
// variables are already rendered.
type Spec struct {
	Stack   string
	Service string
	// Argv is the program and its arguments; a process target runs it without a shell.
	Argv []string
	// Dir is the working directory; empty means the stack's directory.
	Dir string
	// Env is the whole environment, NAME=value.
	Env  []string
	User string
	// StopSignal is the signal Stop sends first, such as "SIGTERM".
	StopSignal string
	// LogPath is the file the instance's output goes to.
	LogPath string
	// ConfigHash identifies the configuration the instance was started from; a changed hash
	// means the instance must be recreated.
	ConfigHash string
	Labels     map[string]string
	// Container is what a container target needs beyond the above (Argv is then the
	// container's command; nil keeps the image's); nil for other targets.
	Container *Container
}

// Container describes the container of a service.
type Container struct {
	// Image is the image to run; with Build, the tag the built image gets.
	Image string
	// Build, when set, builds Image from a context directory when no image has that tag.
	Build *Build
	// Entrypoint overrides the image's entrypoint; nil keeps it.
	Entrypoint []string
	Ports      []Port
	Mounts     []Mount
	// Network is the bridge network the container joins (created by Networker.EnsureNetwork)
	// and IP its address there; an empty IP lets the engine choose.
	Network string
	IP      string
}

// Build describes how to build an image: Context is a directory, Dockerfile is relative to
// it.
type Build struct {
	Context    string
	Dockerfile string
	Args       map[string]string
}

// Port publishes the container port Target on the host port Published (0: not published)
// of HostIP (empty: every address); Protocol is "tcp" or "udp".
type Port struct {
	Target    int
	Published int
	HostIP    string
	Protocol  string
}

// Mount is a bind mount of the host path Source (absolute), or, when Volume is true, the
// named volume Source, which is created (labelled with the stack) when it does not exist.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
	Volume   bool
}

// Networker is a Target whose instances share a network per stack (the harness bridge of
// the Docker target).
type Networker interface {
	// EnsureNetwork creates the network n.Name, labelled with n.Stack, when it does not
	// exist, on n.Subnet when it is valid (else on a free subnet the target picks), and returns the
	// network as it is.
	EnsureNetwork(ctx context.Context, n Network) (Network, error)
	// RemoveStack removes what the target keeps for a stack beyond its instances: its
	// networks and, with volumes, its named volumes. A network that instances still use is
	// left alone.
	RemoveStack(ctx context.Context, stack string, volumes bool) error
}

// Network is a network of a Networker.
type Network struct {
	Name    string
	Stack   string
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// Handle is the durable identity of a started instance: small, comparable, JSON-serializable.
type Handle struct {
	// Target names the kind of target that made it: "process", "docker".
	Target string `json:"target"`
	// Node is where the instance runs: "local" or a node name.
	Node string `json:"node"`
	// ID identifies the instance on its node: "PID:STARTTIME" for a process (the start time
	// from /proc, so a reused PID is told apart), the container ID for Docker.
	ID string `json:"id"`
}

// IsZero reports whether h refers to nothing.
func (h Handle) IsZero() bool { return h == Handle{} }

// String renders the handle as TARGET/NODE/ID.
func (h Handle) String() string { return h.Target + "/" + h.Node + "/" + h.ID }

// Exit is how an instance ended.
type Exit struct {
	// Code is the exit status, or -1 when the instance was killed by a signal or the code is
	// not known (an adopted process that is not the supervisor's child).
	Code int `json:"code"`
	// Signal names the signal that killed the instance, such as "SIGKILL"; empty otherwise.
	Signal string    `json:"signal,omitempty"`
	At     time.Time `json:"at"`
}

// Success reports whether the instance exited with status 0.
func (e Exit) Success() bool { return e.Code == 0 && e.Signal == "" }

// Status is what Inspect reports.
type Status struct {
	Running   bool   `json:"running"`
	PID       int    `json:"pid,omitempty"`
	Container string `json:"container_id,omitempty"`
	// IP is the instance's address on its network (a container's bridge address).
	IP        string    `json:"ip,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// Exit is set once the instance has exited and how is known.
	Exit *Exit `json:"exit,omitempty"`
}

// ExecResult is the outcome of Execer.Exec.
type ExecResult struct {
	ExitCode int
	Output   []byte // stdout and stderr, interleaved, truncated to a bounded size
}

// LogOptions select a part of an instance's output.
type LogOptions struct {
	Follow bool
	Tail   int // the last Tail lines; 0 means all
	Since  time.Time
}

// Sentinel errors; Targets wrap them with %w.
var (
	// ErrNotFound: the handle refers to no instance (it was removed, or its PID was reused).
	ErrNotFound = errors.New("instance not found")
	// ErrUnsupported: the target cannot do this.
	ErrUnsupported = errors.New("not supported by this target")
	// ErrInvalidSpec: the spec cannot be started (no argv, a bad user, …).
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrUnreachable: the node that runs the instance cannot be reached (a remote host whose
	// connection, host key, login or agent failed). It says nothing of the instance itself.
	ErrUnreachable = errors.New("node unreachable")
)
