package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/config"
)

// Options is everything Main takes from the process that runs it.
type Options struct {
	// Args are the command-line arguments without the program name (os.Args[1:]).
	Args []string
	// Stdin, Stdout and Stderr are the standard streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Environ is the environment as KEY=value strings (os.Environ()): it resolves the global
	// flags' defaults and is what ${VAR} in the config reads.
	Environ []string
	// Version is the version the binary reports; empty means the main module's version from
	// the build info, else "dev".
	Version string
	// RunDaemon runs the daemon in the foreground until ctx ends or a client stops it; it is
	// what `harness daemon run` calls. The CLI does not import the daemon: the binary that
	// has one sets this. Nil makes `daemon run` fail, and so every start of a daemon on demand.
	RunDaemon func(ctx context.Context, o DaemonOptions) error
	// RunAgent runs the node agent in the foreground until ctx ends; it is what `harness
	// agent run` calls on a remote host. Nil makes `agent run` fail.
	RunAgent func(ctx context.Context, o AgentOptions) error
	// RunWireguard runs the userspace WireGuard device of interface name in the foreground
	// until ctx ends or the interface is deleted; it is what `harness agent wireguard NAME`
	// calls, started by the agent. Nil makes it fail.
	RunWireguard func(ctx context.Context, name string, stderr io.Writer) error
}

// DaemonOptions is what `harness daemon run` passes to Options.RunDaemon.
type DaemonOptions struct {
	// DataDir is the daemon's data dir, absolute (--data-dir and its defaults).
	DataDir string
	// Listen is the value of --listen (an extra TLS listener, tcp://HOST:PORT), may be empty.
	Listen string
	// Version is the version the daemon reports (Options.Version, resolved as version does).
	Version string
	// Stderr is where the daemon logs: the command's stderr (DATA/daemon.log when the daemon
	// was started in the background).
	Stderr io.Writer
}

// Main runs the harness command line and returns the process exit code (see exit.go). ctx is
// the context of every command: ending it is what SIGINT or SIGTERM does to `up` and `daemon
// run` (which also watch the signals themselves), and it ends any request in flight.
func Main(ctx context.Context, o Options) int {
	return newApp(o).main(ctx, o.Args)
}

// main runs the command line args.
func (a *app) main(ctx context.Context, args []string) int {
	root := a.rootCmd()
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		a.report(cmd, err)
	}
	return exitCode(err)
}

// app is the state of one run of the command line: the process's streams and environment,
// and the values of the global flags once they are parsed.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            env
	version        string
	runDaemon      func(ctx context.Context, o DaemonOptions) error
	runAgent       func(ctx context.Context, o AgentOptions) error
	runWireguard   func(ctx context.Context, name string, stderr io.Writer) error

	// executable is the harness binary that a daemon is started from (os.Executable), and now
	// the clock (time.Now); tests replace them.
	executable func() (string, error)
	now        func() time.Time

	// Global flags.
	configFlag  string
	dataDirFlag string
	output      output
	quiet       bool
	verbose     bool
	noColor     bool
}

func newApp(o Options) *app {
	a := &app{
		stdin:        o.Stdin,
		stdout:       o.Stdout,
		stderr:       o.Stderr,
		env:          env(o.Environ),
		version:      o.Version,
		runDaemon:    o.RunDaemon,
		runAgent:     o.RunAgent,
		runWireguard: o.RunWireguard,
		executable:   os.Executable,
		now:          time.Now,
		output:       outputTable,
	}
	if a.stdin == nil {
		a.stdin = strings.NewReader("")
	}
	if a.stdout == nil {
		a.stdout = io.Discard
	}
	if a.stderr == nil {
		a.stderr = io.Discard
	}
	return a
}

// rootCmd builds the whole command tree for one run.
func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "harness",
		Short: "Run a stack of services as one network",
		Long: `harness runs the services of a services.yaml wherever each one belongs (local
processes, Docker containers, remote hosts) in dependency order, as one network.

The config file is -c FILE, else $HARNESS_CONFIG, else ./services.yaml.
The data dir is --data-dir, else $HARNESS_DATA_DIR, else $XDG_STATE_HOME/harness,
else ~/.local/state/harness.

Exit codes: 0 success, 1 runtime error, 2 usage error or invalid config,
3 a service failed, 4 the daemon or a host is unreachable, 5 a timeout.`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		// Main prints errors and usage hints itself, in the harness: form.
		SilenceErrors: true,
		SilenceUsage:  true,
		// completion.go offers bash, zsh and fish instead of cobra's default command.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	// Persistent flags: allowed before or after the command name.
	f := root.PersistentFlags()
	f.StringVarP(&a.configFlag, "config", "c", "", "the services file (default $HARNESS_CONFIG, else ./services.yaml)")
	f.StringVar(&a.dataDirFlag, "data-dir", "", "the daemon's data dir (default $HARNESS_DATA_DIR, else $XDG_STATE_HOME/harness, else ~/.local/state/harness)")
	f.VarP(&a.output, "output", "o", "output format: table or json")
	f.AddFlag(jsonFlag(&a.output))
	f.BoolVarP(&a.quiet, "quiet", "q", false, "print less: only problems and errors")
	f.BoolVarP(&a.verbose, "verbose", "v", false, "print more: where the config comes from, and details")
	f.BoolVar(&a.noColor, "no-color", false, "never colour the output (also: NO_COLOR set)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
		[]string{string(outputTable), string(outputJSON)}, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		a.validateCmd(),
		a.configCmd(),
		a.upCmd(),
		a.startCmd(),
		a.stopCmd(),
		a.restartCmd(),
		a.downCmd(),
		a.statusCmd(),
		a.logsCmd(),
		a.execCmd(),
		a.healthCmd(),
		a.hostsCmd(),
		a.networkCmd(),
		a.packageCmd(),
		a.deployCmd(),
		a.rollbackCmd(),
		a.releasesCmd(),
		a.daemonCmd(),
		a.agentCmd(),
		a.versionCmd(),
		a.completionCmd(),
	)
	return root
}

// report prints the error a command returned on stderr.
func (a *app) report(cmd *cobra.Command, err error) {
	var (
		coded  *exitError
		usage  *usageError
		cfgErr *config.Error
		apiErr *api.Error
	)
	switch {
	case errors.As(err, &coded) && coded.err == nil:
		// Already reported by the command.
	case errors.As(err, &cfgErr):
		a.printDiagnostics(cfgErr.Diagnostics)
		fmt.Fprintf(a.stderr, "harness: %s\n", countProblems(cfgErr.Diagnostics))
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeInvalidConfig:
		// The daemon's diagnostics, FILE:LINE:COL: message, one per line: as they are.
		lines := strings.Split(strings.TrimRight(apiErr.Message, "\n"), "\n")
		for _, l := range lines {
			fmt.Fprintln(a.stderr, l)
		}
		fmt.Fprintf(a.stderr, "harness: %s\n", plural(len(lines), "error"))
	case errors.As(err, &usage):
		path := "harness"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(a.stderr, "harness: %v; run '%s --help'\n", err, path)
	default:
		fmt.Fprintf(a.stderr, "harness: %v\n", err)
	}
}

// groupArgs rejects arguments of a command that only groups others: they name a command
// that does not exist.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if cmd.HasParent() {
		msg = fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra sets it lazily, only on its own error path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return &usageError{errors.New(msg)}
}

// noArgs rejects any argument.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q", args[0])}
	}
	return nil
}

// oneArg requires exactly one argument, named what in the error.
func oneArg(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return &usageError{fmt.Errorf("missing %s", what)}
		case len(args) > 1:
			return &usageError{fmt.Errorf("too many arguments: want one %s, got %d", what, len(args))}
		}
		return nil
	}
}
