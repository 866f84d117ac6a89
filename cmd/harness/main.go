// Command harness runs a stack of services — local processes, Docker containers, processes
// and containers on remote hosts — as one network, from one services.yaml. See
// `harness --help`; the commands live in internal/cli.
//
// Build with a version:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/harness
package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/graph-network-harness/harness/internal/agent"
	"github.com/graph-network-harness/harness/internal/cli"
	"github.com/graph-network-harness/harness/internal/daemon"
	"github.com/graph-network-harness/harness/internal/network/wireguard"
)

// version is set by the linker (-X main.version=…); empty means the module version from the
// build info, else "dev".
var version string

func main() {
	os.Exit(cli.Main(context.Background(), cli.Options{
		Args:    os.Args[1:],
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Environ: os.Environ(),
		Version: version,
		RunDaemon: func(ctx context.Context, o cli.DaemonOptions) error {
			return daemon.Run(ctx, daemon.Options{
				DataDir: o.DataDir, Listen: o.Listen, Version: o.Version,
				Logger: slog.New(slog.NewTextHandler(o.Stderr, nil)),
			})
		},
		RunAgent: func(ctx context.Context, o cli.AgentOptions) error {
			return agent.Serve(ctx, agent.Options{
				Dir: o.Dir, Version: o.Version,
				Logger: slog.New(slog.NewTextHandler(o.Stderr, nil)),
			})
		},
		RunWireguard: func(ctx context.Context, name string, stderr io.Writer) error {
			return wireguard.Serve(ctx, name, slog.New(slog.NewTextHandler(stderr, nil)))
		},
	}))
}
