package docker

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/target"
)

// Logs implements target.Target: it reads the container's log file, which the log copy fills
// (see internal/logfile for the format), so that containers and processes read alike. The
// file is the container's harness.log-path label, or, once the container is gone, the one
// this Target remembers from Start until Remove. With Follow the reader goes on with new
// lines until ctx ends or it is closed.
//
// The reader is fed by a goroutine that it owns: Close ends it and waits for it.
func (t *Target) Logs(ctx context.Context, h target.Handle, opts target.LogOptions) (io.ReadCloser, error) {
	path, err := t.logPathOf(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", h, err)
	}
	ropts := logfile.ReadOptions{Tail: opts.Tail, Since: opts.Since, Follow: opts.Follow}
	return logfile.NewReader(ctx, path, ropts, func(err error) error { return fmt.Errorf("logs %s: %w", h, err) }), nil
}

// logPathOf finds the log of h.
func (t *Target) logPathOf(ctx context.Context, h target.Handle) (string, error) {
	id, err := t.containerID(h)
	if err != nil {
		return "", err
	}
	c, err := t.inspect(ctx, id)
	switch {
	case err == nil && c.Config != nil && c.Config.Labels[LabelLogPath] != "":
		return c.Config.Labels[LabelLogPath], nil
	case err != nil && !errors.Is(err, target.ErrNotFound):
		return "", err
	}
	t.mu.Lock()
	path := t.logPaths[id]
	t.mu.Unlock()
	if path == "" {
		return "", fmt.Errorf("no log of this container is known: %w", target.ErrNotFound)
	}
	return path, nil
}
