package docker

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/logfile"
)

// copyWaitLimit bounds how long Wait and Stop wait, once the container no longer runs, for
// its log copy to store the last of its output: the engine ends the log stream of a stopped
// container once the stream has caught up, so only a broken stream takes longer.
const copyWaitLimit = 30 * time.Second

// logCopy is the goroutine that copies the output of one container into its log file.
type logCopy struct {
	id   string
	w    *logfile.Writer
	done chan struct{} // closed once the copy has ended and the writer is closed
	// stopping is set by Stop: the exit it causes is not noted in the log.
	stopping atomic.Bool
}

// follow starts copying the output of container id into w, from since on (zero: from the
// container's start), unless a copy of id runs already; it closes w in either case. The copy
// ends when the engine ends the stream (the container stopped) or on Close.
func (t *Target) follow(id string, w *logfile.Writer, since time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.copies[id] != nil || t.closed {
		w.Close()
		return
	}
	c := &logCopy{id: id, w: w, done: make(chan struct{})}
	t.copies[id] = c
	t.wg.Add(1)
	go t.copyLogs(c, since)
}

// copyLogs is the goroutine of c.
func (t *Target) copyLogs(c *logCopy, since time.Time) {
	defer t.wg.Done()
	defer close(c.done)
	defer func() {
		t.mu.Lock()
		delete(t.copies, c.id)
		t.mu.Unlock()
	}()
	ctx := t.copyCtx
	err := t.copyStream(ctx, c, since)
	switch {
	case ctx.Err() != nil:
		// Close: the container runs on; a Target that adopts it resumes the copy.
	case err != nil:
		t.log.Warn("docker: copy output", "container", c.id, "err", err)
	case !c.stopping.Load():
		t.noteExit(ctx, c)
	}
	if err := c.w.Close(); err != nil {
		t.log.Warn("docker: close log", "container", c.id, "err", err)
	}
}

// copyStream follows the engine's log stream of c's container and stores every line until
// the stream ends.
func (t *Target) copyStream(ctx context.Context, c *logCopy, since time.Time) error {
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true}
	if !since.IsZero() {
		opts.Since = since.UTC().Format(time.RFC3339Nano)
	}
	stream, err := t.api.ContainerLogs(ctx, c.id, opts)
	if err != nil {
		return err
	}
	defer stream.Close()
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	drained := make(chan struct{}, 2)
	drain := func(name string, r *io.PipeReader) {
		defer func() { drained <- struct{}{} }()
		// Drain reads to the end even when it cannot store (the demultiplexer must never
		// block on a pipe), and says so then.
		if err := c.w.Drain(name, r); err != nil {
			t.log.Warn("docker: store output", "container", c.id, "stream", name, "err", err)
		}
	}
	go drain("stdout", outR)
	go drain("stderr", errR)
	_, err = stdcopy.StdCopy(outW, errW, stream)
	// A clean end is EOF for the drains, so that a last line without a newline is stored.
	outW.Close()
	errW.Close()
	<-drained
	<-drained
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// noteExit notes in the log how the container of c exited, when the stream ended because it
// did.
func (t *Target) noteExit(ctx context.Context, c *logCopy) {
	res, err := t.api.ContainerInspect(ctx, c.id, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil || res.Container.State.Running {
		return
	}
	e := exitOf(res.Container.State.ExitCode, time.Time{})
	if err := c.w.Note("%s", exitNote(e)); err != nil {
		t.log.Warn("docker: log the exit", "container", c.id, "err", err)
	}
}

// copyOf returns the running log copy of container id, or nil.
func (t *Target) copyOf(id string) *logCopy {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.copies[id]
}

// awaitCopy waits until the log copy of container id, which no longer runs, has stored its
// output, for at most copyWaitLimit, or until ctx ends.
func (t *Target) awaitCopy(ctx context.Context, id string) error {
	c := t.copyOf(id)
	if c == nil {
		return nil
	}
	limit := time.NewTimer(copyWaitLimit)
	defer limit.Stop()
	select {
	case <-c.done:
	case <-limit.C:
		t.log.Warn("docker: the log stream of a stopped container did not end", "container", id, "waited", copyWaitLimit)
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// lastStored returns the time of the last line stored at path; zero when there is none.
func lastStored(ctx context.Context, path string) (time.Time, error) {
	var last time.Time
	err := logfile.Read(ctx, path, logfile.ReadOptions{Tail: 1}, func(l logfile.Line) error {
		last = l.Time
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return last, nil
}
