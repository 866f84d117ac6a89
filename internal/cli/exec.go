package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

func (a *app) execCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "exec SERVICE [--timeout D] -- CMD [ARG...]",
		Short: "Run a command where a service runs, through the daemon",
		Long: `exec asks the daemon (started on demand) to run CMD where SERVICE runs: for a
process, on its host, in its working directory, with its environment; for a
container, inside it. The service must be running. When the command has ended,
exec prints what it wrote (stdout and stderr together, at most 1 MiB) on stdout,
as it is, and exits with the command's exit code.

Everything after -- is the command, flags included. Without --, the command
cannot have flags of its own: "harness exec db pg_isready" works, "harness exec
db ls -l" does not. There is no standard input and no terminal.

--timeout bounds the command.

Exit status: the command's (0-255). harness's own failures: 2 for a usage error,
an invalid config or an unknown service, 4 when the daemon cannot be reached, 1
for anything else (such as a service that does not run); the command may exit
with these codes too: -o json tells them apart.

With -o json, stdout holds the daemon's answer:
  {"exit_code": CODE, "output": TEXT, "truncated": true|absent}`,
		Args:              execArgs,
		ValidArgsFunction: a.completeServices,
		// Not "[flags]" after the command: there they are the command's.
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTimeout(timeout); err != nil {
				return err
			}
			return a.exec(cmd.Context(), args[0], args[1:], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound the command (0: no bound)")
	return cmd
}

// execArgs wants SERVICE and a command: SERVICE -- CMD… or SERVICE CMD…. A -- elsewhere is
// refused rather than guessed at: cobra has taken it away from the command already.
func execArgs(cmd *cobra.Command, args []string) error {
	dash := cmd.ArgsLenAtDash()
	switch {
	case len(args) == 0 || dash == 0:
		return &usageError{errors.New("missing SERVICE")}
	case dash > 1:
		return &usageError{errors.New("-- goes right after SERVICE: harness exec SERVICE -- CMD [ARG...]")}
	case len(args) == 1:
		return &usageError{fmt.Errorf("missing the command to run: harness exec %s -- CMD [ARG...]", args[0])}
	}
	return nil
}

func (a *app) exec(ctx context.Context, service string, command []string, timeout time.Duration) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.Exec(ctx, api.ExecRequest{Stack: stack, Service: service, Command: command, Timeout: api.Duration(timeout)})
	if err != nil {
		return timeoutError(err, timeout)
	}
	if a.json() {
		if err := a.writeJSON(resp); err != nil {
			return err
		}
	} else {
		if _, err := io.WriteString(a.stdout, resp.Output); err != nil {
			return err
		}
		if resp.Truncated {
			// Not on stdout, which holds the command's output only.
			fmt.Fprintf(a.stderr, "harness: exec %s: output cut at %d bytes\n", service, len(resp.Output))
		}
	}
	return execStatus(service, resp.ExitCode)
}

// execStatus is the exit status of harness for a command that ended with code: the same, when
// a process can exit with it; ExitError, with the code in the message, when not (a daemon
// that reports -1 for a command killed by a signal).
func execStatus(service string, code int) error {
	switch {
	case code == 0:
		return nil
	case code > 0 && code <= 255:
		return withCode(code, nil)
	}
	return withCode(ExitError, fmt.Errorf("exec %s: the command ended with exit code %d", service, code))
}
