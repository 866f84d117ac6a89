package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

func (a *app) statusCmd() *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "status [SERVICE...]",
		Short: "Show the state of every service, through the daemon",
		Long: `status asks the daemon (started on demand) for the state of the named services, all
when none is named, and prints one row per service, in file order:

  NAME  TYPE  NODE  STATE  HEALTH  PID  ADDRESS  RESTARTS  UPTIME

STATE is stopped, starting, running, stopping, exited, failed or blocked (a
dependency failed); HEALTH is - (no check), starting, healthy or unhealthy; PID is
the process ID, or the container ID of a container. A service with a message (why
it failed, exited or is blocked) gets a line "NAME: message" under the table.

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "services": [{"name": N, "type": T, "node": N, "state": S,
   "health": H, "pid": P, "container_id": C, "ip": IP, "ports": [PORT],
   "restarts": R, "started_at": TIME|null, "exit_code": CODE|null,
   "version": V, "message": M}]}

-w (watch) prints the status again at every change the daemon reports, until
Ctrl-C: on a terminal it redraws the screen; otherwise it appends, a blank line
between two tables (with -o json: one JSON object per line).`,
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return a.watchStatus(ctx, args)
			}
			return a.status(cmd.Context(), args)
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "print the status again at every change, until Ctrl-C")
	return cmd
}

// watchGather is how long status -w waits after a change for more before it prints: a start
// of many services is a burst of changes.
const watchGather = 50 * time.Millisecond

// watchStatus prints the status, then again after every burst of changes, until ctx ends.
func (a *app) watchStatus(ctx context.Context, names []string) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	req := api.StatusRequest{Stack: stack, Services: names}
	terminal := isTerminal(a.stdout) && !a.json()
	changed := make(chan struct{}, 1)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Events(ctx, api.Subscribe{Services: names}, func(uint64) { close(ready) }, func(uint64, api.ServiceEvent) error {
			select {
			case changed <- struct{}{}:
			default: // one is pending: it covers this change
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		return err
	}
	for first := true; ; first = false {
		s, err := c.Status(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch {
		case a.json():
			b, err := json.Marshal(s)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s\n", b)
		case terminal:
			fmt.Fprint(a.stdout, "\x1b[H\x1b[2J") // home, clear
			if err := writeStatus(a.stdout, a.colors(a.stdout), s, a.now()); err != nil {
				return err
			}
		default:
			if !first {
				fmt.Fprintln(a.stdout)
			}
			if err := writeStatus(a.stdout, a.colors(a.stdout), s, a.now()); err != nil {
				return err
			}
		}
		select {
		case <-changed:
			time.Sleep(watchGather)
			select {
			case <-changed:
			default:
			}
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-ctx.Done():
			<-done
			return nil
		}
	}
}

func (a *app) status(ctx context.Context, names []string) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	req := api.StatusRequest{Stack: stack, Services: names}
	if a.json() {
		raw, err := c.StatusJSON(ctx, req)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return fmt.Errorf("status: %w", err)
		}
		_, err = a.stdout.Write(append(b.Bytes(), '\n'))
		return err
	}
	s, err := c.Status(ctx, req)
	if err != nil {
		return err
	}
	return writeStatus(a.stdout, a.colors(a.stdout), s, a.now())
}

// statusHeader is the header of the status table.
var statusHeader = []string{"NAME", "TYPE", "NODE", "STATE", "HEALTH", "PID", "ADDRESS", "RESTARTS", "UPTIME"}

// writeStatus prints s as a table, then the services' messages, "NAME: message". A VERSION
// column follows TYPE when a service has a version (a package's release).
func writeStatus(w io.Writer, p palette, s api.Status, now time.Time) error {
	rows := make([][]cell, len(s.Services))
	var notes []string
	header := statusHeader
	versions := slices.ContainsFunc(s.Services, func(svc api.ServiceStatus) bool { return svc.Version != "" })
	if versions {
		header = slices.Insert(slices.Clone(statusHeader), 2, "VERSION")
	}
	for i, svc := range s.Services {
		rows[i] = []cell{
			{text: svc.Name},
			{text: orDash(svc.Type)},
			nodeCell(svc),
			{text: orDash(svc.State), color: stateColor(svc.State)},
			{text: healthText(svc.Health), color: healthColor(svc.Health)},
			{text: pidText(svc)},
			{text: addressText(svc)},
			{text: strconv.Itoa(svc.Restarts)},
			{text: uptimeText(svc, now)},
		}
		if versions {
			rows[i] = slices.Insert(rows[i], 2, cell{text: orDash(svc.Version)})
		}
		if svc.Message != "" {
			notes = append(notes, svc.Name+": "+svc.Message)
		}
		if svc.Unreachable != "" {
			notes = append(notes, svc.Name+": "+svc.Unreachable)
		}
	}
	return writeTableNotes(w, p, header, rows, notes)
}

// nodeCell is the node of svc, marked when it does not answer: its row is then the state
// last known.
func nodeCell(svc api.ServiceStatus) cell {
	if svc.Unreachable != "" {
		return cell{text: svc.Node + " (unreachable)", color: red}
	}
	return cell{text: orDash(svc.Node)}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stateColor(state string) string {
	switch state {
	case "running":
		return green
	case "starting", "stopping":
		return yellow
	case "exited", "failed", "blocked":
		return red
	}
	return ""
}

func healthText(h string) string {
	if h == "none" {
		return "-"
	}
	return orDash(h)
}

func healthColor(h string) string {
	switch h {
	case "healthy":
		return green
	case "starting":
		return yellow
	case "unhealthy":
		return red
	}
	return ""
}

// pidText is the process ID, or the short container ID, or "-".
func pidText(svc api.ServiceStatus) string {
	switch {
	case svc.PID > 0:
		return strconv.Itoa(svc.PID)
	case svc.ContainerID != "":
		return svc.ContainerID[:min(12, len(svc.ContainerID))]
	}
	return "-"
}

// addressText is IP:PORT, with every port: 127.0.0.1:8080,8081, [::1]:8080.
func addressText(svc api.ServiceStatus) string {
	if svc.IP == "" {
		return "-"
	}
	if len(svc.Ports) == 0 {
		return svc.IP
	}
	ports := make([]string, len(svc.Ports))
	for i, port := range svc.Ports {
		ports[i] = strconv.Itoa(port)
	}
	return net.JoinHostPort(svc.IP, strings.Join(ports, ","))
}

// uptimeText is how long a service in a live state has run, else "-".
func uptimeText(svc api.ServiceStatus, now time.Time) string {
	switch svc.State {
	case "running", "starting", "stopping":
		if svc.StartedAt != nil {
			return shortDuration(now.Sub(*svc.StartedAt))
		}
	}
	return "-"
}

// shortDuration writes d in at most two units: 42s, 5m12s, 2h10m, 3d4h.
func shortDuration(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
