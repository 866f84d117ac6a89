package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

// logsFlags are the flags of logs.
type logsFlags struct {
	follow     bool
	tail       int
	since      string
	timestamps bool
}

func (a *app) logsCmd() *cobra.Command {
	var f logsFlags
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...] [-f] [-n N] [--since D] [-t]",
		Short: "Print the stored output of services, through the daemon",
		Long: `logs asks the daemon (started on demand) for the stored output of the named
services, all when none is named, interleaved by time, and prints each line as
"NAME | TEXT", names aligned (coloured per service on a terminal).

  -f          follow: go on with new lines, across restarts, until interrupted
  -n N        only the last N lines of each service
  --since D   only lines of the last D (10m, 2h) or since a time (2026-11-27T10:00:00Z)
  -t          print each line's time (UTC, RFC 3339) after the name

With -o json, stdout holds one JSON object per line (JSON lines):
  {"service": NAME, "time": TIME, "stream": "stdout"|"stderr"|"harness", "text": T}`,
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.tail < 0 {
				return &usageError{fmt.Errorf("invalid -n %d: want a number of lines, 0 for all", f.tail)}
			}
			since, err := parseSince(f.since, a.now())
			if err != nil {
				return err
			}
			return a.logs(cmd.Context(), args, f, since)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.follow, "follow", "f", false, "go on with new lines until interrupted")
	fl.IntVarP(&f.tail, "tail", "n", 0, "only the last N lines of each service (0: all)")
	fl.StringVar(&f.since, "since", "", "only lines since a duration ago (10m) or an RFC 3339 time")
	fl.BoolVarP(&f.timestamps, "timestamps", "t", false, "print the time of each line")
	return cmd
}

// parseSince reads --since: a duration before now, or an RFC 3339 time; empty is no bound.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, &usageError{fmt.Errorf("invalid --since %q: want a duration (10m) or an RFC 3339 time (2026-11-27T10:00:00Z)", s)}
}

func (a *app) logs(ctx context.Context, names []string, f logsFlags, since time.Time) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	req := api.LogsRequest{Stack: stack, Services: names, Tail: f.tail, Since: since, Follow: f.follow}
	if a.json() {
		enc := json.NewEncoder(a.stdout)
		return c.Logs(ctx, req, func(l api.LogLine) error { return enc.Encode(l) })
	}
	// The names the prefixes line up on and take their colours from: the named services, or
	// every service of the stack, in file order.
	if len(names) == 0 {
		s, err := c.Status(ctx, api.StatusRequest{Stack: stack})
		if err != nil {
			return err
		}
		for _, svc := range s.Services {
			names = append(names, svc.Name)
		}
	}
	pr := newLogPrinter(a.stdout, a.colors(a.stdout), names, f.timestamps)
	return c.Logs(ctx, req, pr.print)
}

// serviceColors colour the services' prefixes in turn, as docker compose does.
var serviceColors = []string{cyan, yellow, green, magenta, blue, brightCyan, brightYellow, brightGreen, brightMagenta, brightBlue}

// logPrinter prints log lines as "NAME | TEXT", names padded to the longest and coloured per
// service.
type logPrinter struct {
	w          io.Writer
	p          palette
	width      int
	colors     map[string]string
	timestamps bool
}

// newLogPrinter returns a printer for the services names, which take their colours in order.
// A service not among them gets the next colour when its first line comes.
func newLogPrinter(w io.Writer, p palette, names []string, timestamps bool) *logPrinter {
	lp := &logPrinter{w: w, p: p, colors: map[string]string{}, timestamps: timestamps}
	for _, n := range names {
		lp.colorOf(n)
		lp.width = max(lp.width, utf8.RuneCountInString(n))
	}
	return lp
}

func (lp *logPrinter) colorOf(name string) string {
	c, ok := lp.colors[name]
	if !ok {
		c = serviceColors[len(lp.colors)%len(serviceColors)]
		lp.colors[name] = c
	}
	return c
}

// print writes one line.
func (lp *logPrinter) print(l api.LogLine) error {
	prefix := lp.p.paint(lp.colorOf(l.Service), pad(l.Service, lp.width)+" |")
	if lp.timestamps {
		prefix += " " + l.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	_, err := fmt.Fprintf(lp.w, "%s %s\n", prefix, l.Text)
	return err
}
