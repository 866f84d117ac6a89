package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
)

// probeWait bounds the question that up asks the daemon when its log stream ends: is the
// daemon still there?
const probeWait = 2 * time.Second

func (a *app) upCmd() *cobra.Command {
	var (
		detach  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up [SERVICE...] [-d] [--timeout D]",
		Short: "Start services and follow their output until Ctrl-C, which stops them",
		Long: `up starts the named services, all when none is named, and their dependencies,
through the daemon (started on demand), as start does, and prints what happened to
each. Then it follows their output, "NAME | TEXT" as logs -f prints it, from the
moment of the start on, until interrupted (Ctrl-C, SIGINT or SIGTERM). Then it
stops what it started, dependents first, and prints what the stop did. Services
that ran already before up are left running. A Ctrl-C during the start waits for
the start to end, then stops; a second Ctrl-C leaves at once.

When a service fails to start or is not ready in time, up stops what it started
at once and exits as start does. When the daemon goes away, up exits with status
4 and the services keep running: the next daemon adopts them.

-d (detach) is start: it returns once every service is ready, and leaves them
running. --timeout bounds the start and, on Ctrl-C, the stop.

Exit status: as for start when the start fails; then 0 when everything up started
stopped, 3 when a service failed to stop, 5 when the stop timed out, 4 when the
daemon went away, 1 when the output could not be followed.

With -o json (and without -d), stdout holds JSON lines, one object each: first
{"start": ANSWER} (as start -o json prints it), then {"log": LINE} per line of
output (as logs -o json prints it), then {"stop": ANSWER} (as stop -o json).`,
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTimeout(timeout); err != nil {
				return err
			}
			if detach {
				return a.start(cmd.Context(), args, false, timeout)
			}
			return a.up(cmd.Context(), args, timeout)
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "start in the background and return once all are ready, as start does")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound the start and, on Ctrl-C, the stop (0: the services' own timeouts only)")
	return cmd
}

// upEvent is one line of up -o json: exactly one of its fields is set.
type upEvent struct {
	Start *api.StartResponse `json:"start,omitempty"`
	Log   *api.LogLine       `json:"log,omitempty"`
	Stop  *api.StopResponse  `json:"stop,omitempty"`
}

// up is the foreground up: start, follow the output until ctx ends or a signal comes, stop
// what it started.
func (a *app) up(ctx context.Context, names []string, timeout time.Duration) error {
	// The first SIGINT or SIGTERM ends interrupted and gives the signals back their default
	// action, so that a second one ends this process at once.
	interrupted, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	unhook := context.AfterFunc(interrupted, stopSignals)
	defer unhook()

	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	u := &upRun{a: a, c: c, stack: stack, timeout: timeout, enc: json.NewEncoder(a.stdout), p: a.colors(a.stdout)}

	// Only output from now on: not what earlier runs of the services wrote.
	since := a.now()
	// ctx, not interrupted: the answer says what to stop, so a Ctrl-C waits for it.
	started, err := u.start(ctx, names)
	if err != nil {
		return err
	}
	ours := startedNames(started.Services)
	if failed := resultsError(started.Services); failed != nil {
		if _, err := u.stop(ctx, ours); err != nil {
			return withCode(exitCode(failed), err)
		}
		return failed
	}

	req := api.LogsRequest{Stack: stack, Services: resultNames(started.Services), Since: since, Follow: true}
	emit := func(l api.LogLine) error { return u.enc.Encode(upEvent{Log: &l}) }
	if !a.json() {
		emit = newLogPrinter(a.stdout, u.p, req.Services, false).print
	}
	err = c.Logs(interrupted, req, emit)
	if interrupted.Err() == nil {
		// A follower's stream does not end while the daemon runs: it went away, or failed.
		return u.streamEnded(ctx, err)
	}

	if len(ours) == 0 {
		if !a.quiet {
			fmt.Fprintln(a.human(), "nothing to stop: every service ran before up")
		}
		return nil
	}
	stopped, err := u.stop(ctx, ours)
	if err != nil {
		return err
	}
	return resultsError(stopped.Services)
}

// upRun is what the steps of one foreground up share.
type upRun struct {
	a       *app
	c       *client.Client
	stack   api.Stack
	timeout time.Duration
	enc     *json.Encoder // -o json: the JSON lines on stdout
	p       palette       // the colours of stdout
}

// start asks the daemon to start names and prints its answer.
func (u *upRun) start(ctx context.Context, names []string) (api.StartResponse, error) {
	ctx, cancel := withTimeout(ctx, u.timeout)
	defer cancel()
	resp, err := u.c.Start(ctx, api.StartRequest{Stack: u.stack, Services: names, Timeout: api.Duration(u.timeout)})
	if err != nil {
		return api.StartResponse{}, timeoutError(err, u.timeout)
	}
	if u.a.json() {
		return resp, u.enc.Encode(upEvent{Start: &resp})
	}
	writeResults(u.a.stdout, u.p, resp.Services, false, u.a.quiet)
	return resp, nil
}

// stop asks the daemon to stop names, what this up started, and prints its answer. It stops
// nothing when names is empty: a stop of no name would stop every service. ctx may have ended
// (that is why up stops): the stop goes on regardless, bounded by --timeout only.
func (u *upRun) stop(ctx context.Context, names []string) (api.StopResponse, error) {
	if len(names) == 0 {
		return api.StopResponse{}, nil
	}
	if !u.a.quiet {
		fmt.Fprintf(u.a.human(), "stopping %s\n", strings.Join(names, ", "))
	}
	ctx, cancel := withTimeout(context.WithoutCancel(ctx), u.timeout)
	defer cancel()
	resp, err := u.c.Stop(ctx, api.StopRequest{Stack: u.stack, Services: names, Timeout: api.Duration(u.timeout)})
	if err != nil {
		return api.StopResponse{}, timeoutError(err, u.timeout)
	}
	if u.a.json() {
		return resp, u.enc.Encode(upEvent{Stop: &resp})
	}
	writeResults(u.a.stdout, u.p, resp.Services, true, u.a.quiet)
	return resp, nil
}

// streamEnded is the error of a log stream that ended before up was interrupted: err (nil
// for a stream that simply ended), joined with client.ErrUnreachable when the daemon is gone.
// Nothing is stopped: the daemon that could stop it is gone, or fails.
func (u *upRun) streamEnded(ctx context.Context, err error) error {
	if err == nil {
		err = errors.New("logs: the daemon ended the stream")
	}
	if errors.Is(err, client.ErrUnreachable) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, probeWait)
	defer cancel()
	if _, derr := u.c.Daemon(ctx); errors.Is(derr, client.ErrUnreachable) {
		return fmt.Errorf("%w; %w", err, derr)
	}
	return err
}

// startedNames returns the services that a start which answered rs launched, in plan order:
// those it started or recreated, whatever became of them (one that failed or timed out may
// still run, or be restarted), but neither those it kept, which ran before, nor those it never
// launched because a dependency failed.
func startedNames(rs []api.ServiceResult) []string {
	var names []string
	for _, r := range rs {
		if (r.Action == actionStart || r.Action == actionRecreate) && r.Outcome != api.OutcomeBlocked {
			names = append(names, r.Name)
		}
	}
	return names
}

// resultNames returns the name of every result, in order.
func resultNames(rs []api.ServiceResult) []string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return names
}
