package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

func (a *app) stopCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop [SERVICE...] [--timeout D]",
		Short: "Stop services and what depends on them, through the daemon",
		Long: `stop asks the daemon (started on demand) to stop the named services, all when none
is named, and every running service that depends on them, dependents first.
Stopping a stopped service succeeds. It then prints what happened to each service
and a summary.

Exit status 0 when every service stopped, 3 when one failed to stop, 5 when the
stop did not end within --timeout, 2 for an invalid config or an unknown service,
4 when the daemon cannot be reached.

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "services": [{"name": N, "action": "stop",
   "outcome": "ok"|"failed"|"timeout", "error": E}]}`,
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTimeout(timeout); err != nil {
				return err
			}
			return a.stop(cmd.Context(), api.StopRequest{Services: args}, timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound the whole stop (0: each service's stop timeout only)")
	return cmd
}

func (a *app) stop(ctx context.Context, req api.StopRequest, timeout time.Duration) error {
	resp, err := a.requestStop(ctx, req, timeout)
	if err != nil {
		return err
	}
	return a.reportResults(resp, resp.Services, true)
}

// requestStop asks the daemon for req, a stop of the stack of the command line.
func (a *app) requestStop(ctx context.Context, req api.StopRequest, timeout time.Duration) (api.StopResponse, error) {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return api.StopResponse{}, err
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	req.Stack, req.Timeout = stack, api.Duration(timeout)
	resp, err := c.Stop(ctx, req)
	return resp, timeoutError(err, timeout)
}
