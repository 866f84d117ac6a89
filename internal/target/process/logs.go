package process

import (
	"context"
	"fmt"
	"io"

	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/target"
)

// Logs implements target.Target. The reader yields the stored lines as the log file holds
// them, "TIME STREAM TEXT\n" (see internal/logfile), across rotated files; with Follow it
// goes on with new lines until ctx ends or it is closed, and then reports EOF. The log of an
// instance is found while this Target knows the instance, and from the journal (see
// Options.StateDir) until Remove; otherwise Logs is ErrNotFound.
//
// The reader is fed by a goroutine that it owns: Close ends it and waits for it.
func (t *Target) Logs(ctx context.Context, h target.Handle, opts target.LogOptions) (io.ReadCloser, error) {
	path, err := t.logPathOf(h)
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", h, err)
	}
	ropts := logfile.ReadOptions{Tail: opts.Tail, Since: opts.Since, Follow: opts.Follow}
	return logfile.NewReader(ctx, path, ropts, func(err error) error { return fmt.Errorf("logs %s: %w", h, err) }), nil
}

// logPathOf finds the log of h.
func (t *Target) logPathOf(h target.Handle) (string, error) {
	if _, _, err := t.parseHandle(h); err != nil {
		return "", err
	}
	path := ""
	if inst := t.known(h); inst != nil {
		path = inst.logPath
	} else if r, ok := t.record(h.ID); ok {
		path = r.LogPath
	}
	if path == "" {
		return "", fmt.Errorf("no log of this instance is known: %w", target.ErrNotFound)
	}
	return path, nil
}

// Subscribe returns the text of every line of output that an instance this Target started
// writes from now on, for log_line health checks; see logfile.Writer.Subscribe (a subscriber
// that falls behind loses lines). The channel is closed when ctx ends or the output ends.
// Adopted instances have no live output: ErrNotFound.
func (t *Target) Subscribe(ctx context.Context, h target.Handle) (<-chan string, error) {
	if _, _, err := t.parseHandle(h); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", h, err)
	}
	inst := t.known(h)
	if inst == nil || inst.log == nil {
		return nil, fmt.Errorf("subscribe %s: no live output of this instance: %w", h, target.ErrNotFound)
	}
	ch, err := inst.log.Subscribe(ctx)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", h, err)
	}
	return ch, nil
}
