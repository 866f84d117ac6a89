package agent

import (
	"time"

	"github.com/graph-network-harness/harness/internal/deploy"
	"github.com/graph-network-harness/harness/target"
)

// The agent's API: HTTP + JSON on its unix socket, every operation a POST of one request
// object to /v1/NAME answered by one response object, except logs, which streams the lines
// as the log file stores them. An error is a non-2xx status with a wireError body.

// Info is what /v1/info answers: who the agent is.
type Info struct {
	Version string `json:"version"`
	// Checksum is the SHA-256 (hex) of the agent's executable: the controller replaces an
	// agent whose binary is not its own.
	Checksum string    `json:"checksum"`
	OS       string    `json:"os"`
	Arch     string    `json:"arch"`
	PID      int       `json:"pid"`
	Hostname string    `json:"hostname"`
	Started  time.Time `json:"started"`
}

// startRequest asks Target to start Spec. An empty Spec.LogPath means the agent's own log of
// the service, DIR/logs/STACK/SERVICE.log.
type startRequest struct {
	Target string      `json:"target"`
	Spec   target.Spec `json:"spec"`
}

// handleRequest names an instance, and what an operation on it needs beyond that.
type handleRequest struct {
	Handle target.Handle     `json:"handle"`
	Grace  time.Duration     `json:"grace,omitempty"`  // stop
	Argv   []string          `json:"argv,omitempty"`   // exec
	Signal string            `json:"signal,omitempty"` // signal
	Logs   target.LogOptions `json:"logs,omitzero"`    // logs
}

// networkRequest asks Target, a target.Networker, to ensure Network (ensure-network) or to
// remove what it keeps for Stack (remove-stack).
type networkRequest struct {
	Target  string         `json:"target"`
	Network target.Network `json:"network,omitzero"`
	Stack   string         `json:"stack,omitempty"`
	Volumes bool           `json:"volumes,omitempty"`
}

// serviceLogsRequest asks for the agent's log of a service, whether or not it runs.
type serviceLogsRequest struct {
	Stack   string            `json:"stack"`
	Service string            `json:"service"`
	Logs    target.LogOptions `json:"logs,omitzero"`
}

// PutResult is the file that /v1/put wrote (Client.Put).
type PutResult struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type execResponse struct {
	ExitCode int    `json:"exit_code"`
	Output   []byte `json:"output"`
}

// wireError is the body of an error response. Kind carries the target sentinel the error
// wraps, so that errors.Is works across the wire.
type wireError struct {
	Message string `json:"error"`
	Kind    string `json:"kind,omitempty"`
}

// Error kinds: the sentinels of package target.
var kinds = map[string]error{
	"not_found":    target.ErrNotFound,
	"unsupported":  target.ErrUnsupported,
	"invalid_spec": target.ErrInvalidSpec,
}

// releaseRequest is an operation on the releases of a package service installed in Dir:
// releases (list), release-install (Install), release-activate (ID, Keep).
type releaseRequest struct {
	Dir     string                `json:"dir"`
	Install deploy.InstallRequest `json:"install,omitzero"`
	ID      string                `json:"id,omitempty"`
	Keep    int                   `json:"keep,omitempty"`
}
