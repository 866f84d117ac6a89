package cli

import (
	"time"

	"github.com/graph-network-harness/harness/api"

	"github.com/spf13/cobra"
)

func (a *app) downCmd() *cobra.Command {
	var (
		timeout time.Duration
		volumes bool
	)
	cmd := &cobra.Command{
		Use:   "down [--volumes] [--timeout D]",
		Short: "Stop every service of the stack and remove its containers and network",
		Long: `down asks the daemon (started on demand) to stop every service of the stack,
dependents first, then removes what the services leave behind: their containers
and the stack's Docker network (harness-STACK). Named volumes stay unless
--volumes is given. Logs and history stay. It prints what happened to each
service and a summary.

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
			return a.stop(cmd.Context(), api.StopRequest{Down: true, Volumes: volumes}, timeout)
		},
	}
	cmd.Flags().BoolVar(&volumes, "volumes", false, "also remove the named volumes of the stack's containers")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound the whole stop (0: each service's stop timeout only)")
	return cmd
}
