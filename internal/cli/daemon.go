package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/client"
)

// stopWait bounds how long daemon stop waits for the daemon to be gone.
const stopWait = 15 * time.Second

// daemonCmd groups the commands that manage the daemon of the data dir.
func (a *app) daemonCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Manage the daemon: start, stop, status, run",
		Long: `daemon manages the daemon of the data dir (--data-dir): the process that runs and
supervises the services. Commands that need it start it on their own; these
commands start it, stop it, report on it, or run it in the foreground.

Stopping the daemon leaves the services running: the next daemon adopts them.`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.daemonStartCmd(), a.daemonStopCmd(), a.daemonStatusCmd(), a.daemonRunCmd())
	return cmd
}

func (a *app) daemonStartCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start",
		Short: "Start the daemon in the background, unless it runs",
		Long: `start starts the daemon of the data dir in the background, unless one runs, and
prints its PID. The daemon writes its output to DATA/daemon.log.

Exit status 4 when it cannot be started; the error says why.
With -o json, stdout holds {"pid": P, "version": V, "data_dir": D, "started_at": T}.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, d, started, err := a.ensureDaemon(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.writeJSON(d)
			}
			if !a.quiet {
				if started {
					fmt.Fprintf(a.stdout, "daemon started (pid %d) on %s\n", d.PID, d.DataDir)
				} else {
					fmt.Fprintf(a.stdout, "daemon already running (pid %d) on %s\n", d.PID, d.DataDir)
				}
			}
			return nil
		},
	}
}

func (a *app) daemonStopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the daemon; the services keep running",
		Long: `stop asks the daemon of the data dir to end, and waits until it has. The services
keep running: the next daemon adopts them. When no daemon runs, it says so and
succeeds.

Exit status 5 when the daemon is still there after 15s.
With -o json, stdout holds the daemon that stopped, as daemon status shows it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, dir, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.Shutdown(ctx)
			if errors.Is(err, client.ErrUnreachable) {
				if !a.quiet {
					fmt.Fprintf(a.human(), "no daemon running on %s\n", dir)
				}
				return nil
			}
			if err != nil {
				return err
			}
			if err := waitGone(ctx, c, d.PID, stopWait); err != nil {
				return fmt.Errorf("daemon stop: %w", err)
			}
			if a.json() {
				return a.writeJSON(d)
			}
			if !a.quiet {
				fmt.Fprintf(a.stdout, "daemon stopped (pid %d); services keep running\n", d.PID)
			}
			return nil
		},
	}
}

func (a *app) daemonStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Report on the daemon, if one runs",
		Long: `status prints the PID, version, data dir, socket and uptime of the daemon of the
data dir. It never starts one.

Exit status 4 when no daemon runs.
With -o json, stdout holds {"pid": P, "version": V, "data_dir": D, "started_at": T}.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, dir, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.Daemon(cmd.Context())
			if errors.Is(err, client.ErrUnreachable) {
				return withCode(ExitUnreachable, noDaemon(dir, err))
			}
			if err != nil {
				return err
			}
			if a.json() {
				return a.writeJSON(d)
			}
			_, err = fmt.Fprintf(a.stdout, "pid       %d\nversion   %s\ndata dir  %s\nsocket    %s\nuptime    %s\n",
				d.PID, d.Version, d.DataDir, c.Socket(), shortDuration(a.now().Sub(d.StartedAt)))
			return err
		},
	}
}

// noDaemon says that no daemon runs on dir, with the dial error that shows it.
func noDaemon(dir string, err error) error {
	var dial *net.OpError
	if errors.As(err, &dial) {
		return fmt.Errorf("no daemon running on %s (%w)", dir, dial)
	}
	return fmt.Errorf("no daemon running on %s (%w)", dir, err)
}

func (a *app) daemonRunCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "run [--listen tcp://HOST:PORT]",
		Short: "Run the daemon in the foreground",
		Long: `run runs the daemon of the data dir in the foreground, logging to stderr, until
interrupted (SIGINT, SIGTERM) or asked to stop (harness daemon stop). The services
keep running when it ends. It fails when another daemon runs on the data dir.

--listen adds a TLS listener on TCP beside the unix socket DATA/harness.sock.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.runDaemon == nil {
				return errors.New("daemon run: this harness has no daemon built in (cli.Options.RunDaemon is nil)")
			}
			dir, err := a.dataDir()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.runDaemon(ctx, DaemonOptions{
				DataDir: dir,
				Listen:  listen,
				Version: resolveVersion(a.version),
				Stderr:  a.stderr,
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "an extra TLS listener, tcp://HOST:PORT")
	return cmd
}
