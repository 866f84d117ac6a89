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
		err := logfile.Read(ctx, orch.LogPath(name), logfile.ReadOptions{Tail: req.Tail, Since: req.Since}, func(l logfile.Line) error {
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
			errs <- logfile.Read(ctx, orch.LogPath(name), logfile.ReadOptions{Since: since, Follow: true}, func(l logfile.Line) error {
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

func logLine(service string, l logfile.Line) api.LogLine {
	return api.LogLine{Service: service, Time: l.Time, Stream: l.Stream, Text: l.Text}
}
