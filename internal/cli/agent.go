package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/graph-network-harness/harness/internal/lockfile"
	"github.com/spf13/cobra"
)

// AgentSocketName is the agent's socket in its dir (internal/agent.SocketName; the CLI does
// not import the agent, cmd/harness checks that the two agree).
const AgentSocketName = "agent.sock"

// defaultAgentDir is the agent's dir on a host, under the login user's home.
const defaultAgentDir = "~/.harness/agent"

// AgentOptions is what `harness agent run` passes to Options.RunAgent.
type AgentOptions struct {
	// Dir is the agent's dir, absolute.
	Dir string
	// Version is the version the agent reports.
	Version string
	// Stderr is where the agent logs.
	Stderr io.Writer
}

// agentCmd groups what runs on a remote host: the agent, and the relay to its socket.
func (a *app) agentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "The node agent that harness runs on a remote host (started over SSH)",
		Long: `agent is what harness runs on a remote host: the controller uploads its own binary
over SSH and starts "harness agent run" detached; it supervises the host's
services and serves the node operations on a unix socket (DIR/agent.sock, 0600)
that the controller reaches through SSH. Nobody needs to run it by hand.`,
		Hidden: true,
		Args:   groupArgs,
		RunE:   func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var dir string
	cmd.PersistentFlags().StringVar(&dir, "dir", defaultAgentDir, "the agent's dir")
	agentDir := func() (string, error) {
		if rest, ok := strings.CutPrefix(dir, "~/"); ok {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("agent dir %s: %w", dir, err)
			}
			return filepath.Join(home, rest), nil
		}
		return filepath.Abs(dir)
	}
	run := &cobra.Command{
		Use:   "run [--dir DIR]",
		Short: "Run the agent in the foreground until SIGINT or SIGTERM",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.runAgent == nil {
				return errors.New("agent run: this harness has no agent built in (cli.Options.RunAgent is nil)")
			}
			d, err := agentDir()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.runAgent(ctx, AgentOptions{Dir: d, Version: resolveVersion(a.version), Stderr: a.stderr})
		},
	}
	dial := &cobra.Command{
		Use:   "dial [--dir DIR]",
		Short: "Relay stdin and stdout to the agent's socket",
		Long: `dial connects to the agent's socket and relays its standard input to it and the
socket's output to its standard output, until either side ends: how the controller
reaches the agent when the SSH server refuses to forward unix sockets.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := agentDir()
			if err != nil {
				return err
			}
			return relay(cmd.Context(), filepath.Join(d, AgentSocketName), a.stdin, a.stdout)
		},
	}
	start := &cobra.Command{
		Use:   "start [--dir DIR]",
		Short: "Start the agent detached, unless an agent of this executable serves DIR",
		Long: `start makes sure that an agent of this executable serves DIR, and returns when it
answers on its socket. An agent of another executable (another version) is stopped
first: SIGTERM, SIGKILL after 10 s; its services keep running and the new agent
adopts them. The agent runs in its own session, its output appended to
DIR/agent.log, so it survives the SSH session that started it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := agentDir()
			if err != nil {
				return err
			}
			return a.startAgent(cmd.Context(), d)
		},
	}
	wg := &cobra.Command{
		Use:   "wireguard NAME",
		Short: "Run the userspace WireGuard device of interface NAME (started by the agent)",
		Long: `wireguard creates the TUN interface NAME, runs a userspace WireGuard device on it and
serves its UAPI socket /var/run/wireguard/NAME.sock (where the agent and wg(8)
configure and read it), until SIGINT or SIGTERM or until the interface is deleted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.runWireguard == nil {
				return errors.New("agent wireguard: this harness has no WireGuard built in (cli.Options.RunWireguard is nil)")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.runWireguard(ctx, args[0], a.stderr)
		},
	}
	cmd.AddCommand(run, dial, start, wg)
	return cmd
}

// agentStopWait bounds the wait for an agent of another executable to end after SIGTERM, and
// again after SIGKILL.
const agentStopWait = 10 * time.Second

// startAgent starts the agent of this executable on dir, replacing an agent of another.
func (a *app) startAgent(ctx context.Context, dir string) error {
	fail := func(err error) error { return fmt.Errorf("agent start on %s: %w", dir, err) }
	exe, err := a.executable()
	if err != nil {
		return fail(err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	sock := filepath.Join(dir, AgentSocketName)
	answers := func(ctx context.Context) (bool, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", sock)
		if err == nil {
			conn.Close()
		}
		return err == nil, nil
	}
	pid, err := agentHolding(dir)
	if err != nil {
		return fail(err)
	}
	if pid > 0 {
		running, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if ok, _ := answers(ctx); ok && running == exe {
			return nil
		}
		if err := stopAgent(ctx, dir, pid); err != nil {
			return fail(err)
		}
	}
	err = spawnDetached(ctx, exe, []string{"agent", "run", "--dir", dir}, a.env, filepath.Join(dir, "agent.log"), answers)
	if err != nil {
		return fail(err)
	}
	pruneBinaries(exe, keptBinaries)
	return nil
}

// keptBinaries is how many installed harness binaries a node keeps: the running one and the
// most recent others (a controller of the previous version finds its own).
const keptBinaries = 3

// pruneBinaries removes the oldest binaries that controllers installed beside exe
// (~/.harness/bin/VERSION-SHA8/harness), keeping exe's and the keep-1 most recent others.
// An exe installed elsewhere prunes nothing. Failures are ignored: a later start tries again.
func pruneBinaries(exe string, keep int) {
	versionDir := filepath.Dir(exe)
	binDir := filepath.Dir(versionDir)
	if filepath.Base(exe) != "harness" || filepath.Base(binDir) != "bin" || filepath.Base(filepath.Dir(binDir)) != ".harness" {
		return
	}
	entries, err := os.ReadDir(binDir)
	if err != nil {
		return
	}
	type installed struct {
		path string
		mod  time.Time
	}
	var others []installed
	for _, e := range entries {
		p := filepath.Join(binDir, e.Name())
		if !e.IsDir() || p == versionDir {
			continue
		}
		if info, err := os.Stat(filepath.Join(p, "harness")); err == nil {
			others = append(others, installed{p, info.ModTime()})
		}
	}
	slices.SortFunc(others, func(a, b installed) int { return b.mod.Compare(a.mod) })
	for i, o := range others {
		if i >= keep-1 {
			_ = os.RemoveAll(o.path)
		}
	}
}

// agentHolding returns the PID of the agent that holds the lock of dir; 0 when none does.
func agentHolding(dir string) (int, error) {
	lock, err := lockfile.Lock(filepath.Join(dir, "agent.lock"))
	var held *lockfile.HeldError
	switch {
	case err == nil:
		return 0, lock.Close()
	case errors.As(err, &held):
		pid, err := strconv.Atoi(held.PID)
		if err != nil || pid <= 0 {
			return 0, fmt.Errorf("%w; its pid %q does not parse", held, held.PID)
		}
		return pid, nil
	}
	return 0, err
}

// stopAgent ends the agent pid that holds the lock of dir: SIGTERM, then SIGKILL when it
// still holds the lock after agentStopWait.
func stopAgent(ctx context.Context, dir string, pid int) error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stop the agent (pid %d): %w", pid, err)
		}
		deadline := time.Now().Add(agentStopWait)
		for time.Now().Before(deadline) {
			if holder, err := agentHolding(dir); err != nil || holder != pid {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pollEvery):
			}
		}
	}
	return fmt.Errorf("the agent (pid %d) still holds %s after SIGKILL", pid, dir)
}

// relay copies in to the unix socket at path and the socket to out, until the socket's
// output ends (the agent closed the connection) or ctx ends. The end of in half-closes the
// connection, so that the agent sees it.
func relay(ctx context.Context, path string, in io.Reader, out io.Writer) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return &exitError{code: ExitUnreachable, err: fmt.Errorf("agent dial: %w", err)}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	go func() {
		_, _ = io.Copy(conn, in)
		_ = conn.(*net.UnixConn).CloseWrite()
	}()
	if _, err := io.Copy(out, conn); err != nil && ctx.Err() == nil {
		return fmt.Errorf("agent dial: %w", err)
	}
	return nil
}
