package cli

import (
	"time"

	"github.com/spf13/cobra"
)

func (a *app) downCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "down [--timeout D]",
		Short: "Stop every service of the stack, through the daemon",
		Long: `down asks the daemon (started on demand) to stop every service of the stack,
dependents first, and prints what happened to each service and a summary. Logs
and history stay.

For now down removes nothing else: the containers, networks and WireGuard mesh
that harness creates come with their own issues, and down will remove them then.

Exit status 0 when every service stopped, 3 when one failed to stop, 5 when the
stop did not end within --timeout, 2 for an invalid config, 4 when the daemon
cannot be reached.

With -o json, stdout holds the daemon's answer, as for stop:
  {"stack": NAME, "services": [{"name": N, "action": "stop",
   "outcome": "ok"|"failed"|"timeout", "error": E}]}`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkTimeout(timeout); err != nil {
				return err
			}
			return a.stop(cmd.Context(), nil, timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound the whole stop (0: each service's stop timeout only)")
	return cmd
}
