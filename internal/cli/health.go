package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

func (a *app) healthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health [SERVICE...]",
		Short: "Run the health checks now and print each result, through the daemon",
		Long: `health asks the daemon (started on demand) to run the health checks of the named
services, all when none is named, once, now, and prints one row per service, in
file order:

  NAME  KIND  STATUS  LATENCY  DETAIL

KIND is the kind of check (command, http, tcp, grpc, log_line); STATUS is healthy,
unhealthy, or - when the service has no check; LATENCY is how long the check took;
DETAIL is why it failed, else the first line of what it said.

Exit status 0 when no service is unhealthy, 3 when one is, 2 for an invalid
config or an unknown service, 4 when the daemon cannot be reached.

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "services": [{"name": N, "kind": K, "status": "healthy"|
   "unhealthy"|"none", "latency": D, "output": O, "error": E}]}`,
		ValidArgsFunction: a.completeServiceList,
		RunE:              func(cmd *cobra.Command, args []string) error { return a.health(cmd.Context(), args) },
	}
}

func (a *app) health(ctx context.Context, names []string) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	resp, err := c.Health(ctx, api.HealthRequest{Stack: stack, Services: names})
	if err != nil {
		return err
	}
	if a.json() {
		err = a.writeJSON(resp)
	} else {
		err = writeHealth(a.stdout, a.colors(a.stdout), resp)
	}
	if err != nil {
		return err
	}
	return healthError(resp.Services)
}

// healthHeader is the header of the health table.
var healthHeader = []string{"NAME", "KIND", "STATUS", "LATENCY", "DETAIL"}

// writeHealth prints the results of resp as a table, or says that there is none.
func writeHealth(w io.Writer, p palette, resp api.HealthResponse) error {
	if len(resp.Services) == 0 {
		_, err := fmt.Fprintln(w, "no service has a health check")
		return err
	}
	rows := make([][]cell, len(resp.Services))
	for i, r := range resp.Services {
		rows[i] = []cell{
			{text: r.Name},
			{text: orDash(r.Kind)},
			{text: healthText(r.Status), color: healthColor(r.Status)},
			{text: latencyText(r)},
			{text: healthDetail(r)},
		}
	}
	return writeTable(w, p, healthHeader, rows)
}

// latencyText is how long a check took (shortLatency); "-" for a service without a check.
func latencyText(r api.HealthResult) string {
	if r.Status == "none" && r.Latency == 0 {
		return "-"
	}
	return shortLatency(time.Duration(r.Latency))
}

// shortLatency is d to three significant digits at most: 850µs, 12.3ms, 1.25s.
func shortLatency(d time.Duration) string {
	switch {
	case d >= 100*time.Second:
		d = d.Round(time.Second)
	case d >= 10*time.Second:
		d = d.Round(100 * time.Millisecond)
	case d >= time.Second:
		d = d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		d = d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		d = d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		d = d.Round(10 * time.Microsecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}

// healthDetail is the error of a check that failed, else the first line of what it said;
// "-" when there is neither.
func healthDetail(r api.HealthResult) string {
	s := r.Error
	if s == "" {
		s = r.Output
	}
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return orDash(strings.TrimSpace(s))
}

// healthError is the exit status of a health run that answered rs, already reported:
// ExitServiceFailed when a service is unhealthy, else nil.
func healthError(rs []api.HealthResult) error {
	for _, r := range rs {
		if r.Status == "unhealthy" {
			return withCode(ExitServiceFailed, nil)
		}
	}
	return nil
}
