// Package node is the node runtime: the targets that run service instances on one host.
//
// Local is the node harness itself runs on: the process target and the Docker target, as the
// daemon and the embeddable Manager use them. The orchestrator receives its Targets and never
// imports a target implementation.
//
// Concurrency: Local is safe for concurrent use; Close once, after the last use of Targets.
package node

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/graph-network-harness/harness/internal/target/docker"
	"github.com/graph-network-harness/harness/internal/target/process"
	"github.com/graph-network-harness/harness/target"
)

// LocalOptions configures a Local node.
type LocalOptions struct {
	// DataDir holds the process target's instance state ("instances").
	DataDir string
	// DockerHost is the Docker engine's address; empty: DOCKER_HOST, else the default socket.
	DockerHost string
	// Logger receives the targets' background failures. Default: discard.
	Logger *slog.Logger
}

// Local is the local node's targets by the name a service's type selects.
type Local struct {
	process *process.Target
	docker  *docker.Target
}

// NewLocal returns the local node. It contacts no engine: a missing Docker engine is an error
// of the first container service's start, not of the node.
func NewLocal(opts LocalOptions) (*Local, error) {
	proc := process.New(process.Options{Logger: opts.Logger, StateDir: filepath.Join(opts.DataDir, "instances")})
	dock, err := docker.New(docker.Options{Host: opts.DockerHost, Logger: opts.Logger})
	if err != nil {
		proc.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	return &Local{process: proc, docker: dock}, nil
}

// Targets returns a new map of the node's targets: "process" and "docker".
func (l *Local) Targets() map[string]target.Target {
	return map[string]target.Target{"process": l.process, "docker": l.docker}
}

// Close releases the targets; the services keep running.
func (l *Local) Close() error {
	return errors.Join(l.process.Close(), l.docker.Close())
}
