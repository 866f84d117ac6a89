package process

import (
	"context"
	"fmt"
	"io"

	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/target"
)

// logTimeLayout is the time stamp of a line, as internal/logfile stores it: UTC, fixed width.
const logTimeLayout = "2006-01-02T15:04:05.000000000Z"

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
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	r := &logReader{PipeReader: pr, cancel: cancel, done: make(chan struct{})}
	ropts := logfile.ReadOptions{Tail: opts.Tail, Since: opts.Since, Follow: opts.Follow}
	go func() {
		defer close(r.done)
		var buf []byte
		err := logfile.Read(ctx, path, ropts, func(l logfile.Line) error {
			buf = appendLine(buf[:0], l)
			_, err := pw.Write(buf)
			return err
		})
		if opts.Follow && ctx.Err() != nil {
			err = nil // following ends with ctx: that is its EOF
		}
		if err != nil {
			err = fmt.Errorf("logs %s: %w", h, err)
		}
		pw.CloseWithError(err)
	}()
	return r, nil
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

// appendLine renders l as the log file stores it.
func appendLine(b []byte, l logfile.Line) []byte {
	b = l.Time.UTC().AppendFormat(b, logTimeLayout)
	b = append(b, ' ')
	b = append(b, l.Stream...)
	b = append(b, ' ')
	b = append(b, l.Text...)
	return append(b, '\n')
}

// logReader is the reader of Logs and the owner of the goroutine that feeds it.
type logReader struct {
	*io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
}

// Close stops the feeding goroutine and waits for it.
func (r *logReader) Close() error {
	r.cancel()
	err := r.PipeReader.Close()
	<-r.done
	return err
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
