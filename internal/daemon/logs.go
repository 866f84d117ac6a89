package daemon

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/target"
)

// Logs implements httpapi.Backend: the stored lines of the services, interleaved by time;
// with Follow, then every new line as it is written, across restarts and rotation.
//
// The stored part is read up to t0, the moment the request began, and sorted; the followers
// deliver from t0 on. A line is in exactly one part, by its stamp.
func (d *daemon) Logs(ctx context.Context, req api.LogsRequest, emit func(api.LogLine) error) error {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return err
	}
	names := req.Services
	if err := checkNames(orch.Stack(), names); err != nil {
		return err
	}
	if len(names) == 0 {
		for _, svc := range orch.Stack().Services {
			names = append(names, svc.Name)
		}
	}
	t0 := time.Now()
	var stored []api.LogLine
	for _, name := range names {
		err := readLogs(ctx, orch, name, target.LogOptions{Tail: req.Tail, Since: req.Since}, func(l logfile.Line) error {
			if req.Follow && !l.Time.Before(t0) {
				return nil // the followers' part
			}
			stored = append(stored, logLine(name, l))
			return nil
		})
		if err != nil {
			return err
		}
	}
	slices.SortStableFunc(stored, func(a, b api.LogLine) int { return a.Time.Compare(b.Time) })
	for _, l := range stored {
		if err := emit(l); err != nil {
			return err
		}
	}
	if !req.Follow {
		return nil
	}
	since := t0
	if req.Since.After(t0) {
		since = req.Since
	}
	return follow(ctx, orch, names, since, emit)
}

// follow emits the lines of names stamped at or after since, as they are written, until ctx
// ends (nil) or emit fails.
func follow(ctx context.Context, orch *orchestrator.Orchestrator, names []string, since time.Time, emit func(api.LogLine) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan api.LogLine)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			errs <- readLogs(ctx, orch, name, target.LogOptions{Since: since, Follow: true}, func(l logfile.Line) error {
				select {
				case lines <- logLine(name, l):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		})
	}
	defer wg.Wait() // after cancel: every follower returns
	for {
		select {
		case l := <-lines:
			if err := emit(l); err != nil {
				return err
			}
		case err := <-errs:
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// readLogs calls fn with the stored lines of service, wherever they are stored: a remote
// service's on its node. With Follow it returns nil when ctx ends.
func readLogs(ctx context.Context, orch *orchestrator.Orchestrator, service string, opts target.LogOptions, fn func(logfile.Line) error) error {
	rc, err := orch.Logs(ctx, service, opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	err = logfile.Scan(rc, fn)
	if opts.Follow && ctx.Err() != nil {
		return nil
	}
	return err
}

func logLine(service string, l logfile.Line) api.LogLine {
	return api.LogLine{Service: service, Time: l.Time, Stream: l.Stream, Text: l.Text}
}
