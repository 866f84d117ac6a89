package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

func (a *app) startCmd() *cobra.Command {
	var (
		noWait  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "start [SERVICE...] [--no-wait] [--timeout D]",
		Short: "Start services and their dependencies through the daemon",
		Long: `start asks the daemon (started on demand) to start the named services, all when
none is named, with their dependencies, in dependency order, and to wait until each
is ready. A service that runs already from the same configuration is left alone
(same PID). It then prints what happened to each service and a summary.

--timeout bounds the whole start: what is not ready by then is reported as timed
out and left running. --no-wait returns once the services are launched.

Exit status 0 when every service is ready, 3 when one failed or was blocked by a
dependency that failed, 5 when one was not ready in time, 2 for an invalid config
or an unknown service, 4 when the daemon cannot be reached.

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "services": [{"name": N, "action": "start"|"recreate"|"keep",
   "outcome": "ok"|"failed"|"timeout"|"blocked", "error": E, "blocked_by": D}]}`,
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTimeout(timeout); err != nil {
				return err
			}
			return a.start(cmd.Context(), args, noWait, timeout)
		},
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the services are launched, without waiting until they are ready")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound the whole start (0: each service's startup_timeout only)")
	return cmd
}

func (a *app) start(ctx context.Context, names []string, noWait bool, timeout time.Duration) error {
	resp, err := a.requestStart(ctx, names, noWait, timeout)
	if err != nil {
		return err
	}
	return a.reportResults(resp, resp.Services, false)
}

// reportResults prints the answer of a start or a stop (resp, as it is with -o json; else a
// line per service of rs and a summary) and returns the exit status it makes.
func (a *app) reportResults(resp any, rs []api.ServiceResult, stop bool) error {
	if a.json() {
		if err := a.writeJSON(resp); err != nil {
			return err
		}
	} else {
		writeResults(a.stdout, a.colors(a.stdout), rs, stop, a.quiet)
	}
	return resultsError(rs)
}

// requestStart asks the daemon to start names.
func (a *app) requestStart(ctx context.Context, names []string, noWait bool, timeout time.Duration) (api.StartResponse, error) {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return api.StartResponse{}, err
	}
	if !a.json() && !a.quiet {
		stop := a.progress(ctx, c, a.stderr)
		defer stop()
	}
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.Start(ctx, api.StartRequest{Stack: stack, Services: names, NoWait: noWait, Timeout: api.Duration(timeout)})
	return resp, timeoutError(err, timeout)
}
