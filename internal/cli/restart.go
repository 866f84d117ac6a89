package cli

import (
	"context"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

func (a *app) restartCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restart [SERVICE...] [--timeout D]",
		Short: "Stop, then start services, keeping dependency order",
		Long: `restart stops the named services, all when none is named, then starts them again,
through the daemon (started on demand). A stop also stops the running services that
depend on the named ones: restart starts those again too, so the stack runs as it
did before. If a service fails to stop, nothing is started.

--timeout bounds the stop and, again, the start.

Exit status as for stop, then as for start.

With -o json, stdout holds both answers of the daemon:
  {"stop": {"stack": …, "services": […]}, "start": {"stack": …, "services": […]}}
("start" is null when the stop failed).`,
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTimeout(timeout); err != nil {
				return err
			}
			return a.restart(cmd.Context(), args, timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound the stop and the start, each (0: the services' own timeouts only)")
	return cmd
}

// restartReport is the JSON form of restart.
type restartReport struct {
	Stop  api.StopResponse   `json:"stop"`
	Start *api.StartResponse `json:"start"`
}

func (a *app) restart(ctx context.Context, names []string, timeout time.Duration) error {
	stopped, err := a.requestStop(ctx, api.StopRequest{Services: names}, timeout)
	if err != nil {
		return err
	}
	p := a.colors(a.stdout)
	if !a.json() {
		writeResults(a.stdout, p, stopped.Services, true, a.quiet)
	}
	if err := resultsError(stopped.Services); err != nil {
		if a.json() {
			return a.writeJSONThen(restartReport{Stop: stopped}, err)
		}
		return err
	}
	started, err := a.requestStart(ctx, restartNames(names, stopped.Services), false, timeout)
	if err != nil {
		return err
	}
	if a.json() {
		return a.writeJSONThen(restartReport{Stop: stopped, Start: &started}, resultsError(started.Services))
	}
	writeResults(a.stdout, p, started.Services, false, a.quiet)
	return resultsError(started.Services)
}

// restartNames is what a restart of names starts again after its stop did stopped: the named
// services and the dependents the stop took down with them; nil (all) when none is named.
func restartNames(names []string, stopped []api.ServiceResult) []string {
	if len(names) == 0 {
		return nil
	}
	out := slices.Clone(names)
	for _, r := range stopped {
		if r.Action == actionStop && r.Outcome == api.OutcomeOK && !slices.Contains(out, r.Name) {
			out = append(out, r.Name)
		}
	}
	return out
}

// writeJSONThen writes v as JSON, then returns err (a write error first).
func (a *app) writeJSONThen(v any, err error) error {
	if werr := a.writeJSON(v); werr != nil {
		return werr
	}
	return err
}
