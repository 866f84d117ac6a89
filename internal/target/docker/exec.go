package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/target"
)

const (
	// execOutputLimit bounds the output Exec keeps.
	execOutputLimit = 64 << 10
	// execPollMax is the longest pause between two looks at a finished command's exit code.
	execPollMax = 50 * time.Millisecond
)

// Exec implements target.Execer: it runs argv in the container, as a health check of kind
// command does, without a shell, with the container's environment, user and working
// directory. Output (stdout and stderr interleaved) is kept up to 64 KiB. A non-zero exit is
// no error. A container that is gone or does not run is ErrNotFound.
//
// The command's stdin is not attached. The engine ends the attach stream only once every
// attached stream is done, and an attached stdin is done only when the client half-closes
// it: attaching stdin without closing it makes the stream outlive the command, and a reader
// of it wait forever. (A descendant that keeps the command's stdout open holds the stream
// too; the engine closes it a moment after the command exits.) The stream is read on its own
// goroutine and closed when ctx ends, so Exec returns by ctx whatever the engine does. The
// command itself is not killed then: the Engine API has no way to.
func (t *Target) Exec(ctx context.Context, h target.Handle, argv []string) (target.ExecResult, error) {
	res, err := t.exec(ctx, h, argv)
	if err != nil {
		return res, fmt.Errorf("exec in %s: %w", h, err)
	}
	return res, nil
}

func (t *Target) exec(ctx context.Context, h target.Handle, argv []string) (target.ExecResult, error) {
	if len(argv) == 0 {
		return target.ExecResult{}, errors.New("no command")
	}
	id, err := t.containerID(h)
	if err != nil {
		return target.ExecResult{}, err
	}
	created, err := t.api.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if cerrdefs.IsConflict(err) {
		// The engine's answer for a container that does not run.
		return target.ExecResult{}, fmt.Errorf("%w (%w)", err, target.ErrNotFound)
	}
	if err != nil {
		return target.ExecResult{}, engineErr(err)
	}
	out := &capped{}
	if err := t.execOutput(ctx, created.ID, out); err != nil {
		return target.ExecResult{ExitCode: -1, Output: out.b}, err
	}
	code, err := t.execExitCode(ctx, created.ID)
	if err != nil {
		return target.ExecResult{ExitCode: -1, Output: out.b}, err
	}
	return target.ExecResult{ExitCode: code, Output: out.b}, nil
}

// execOutput starts exec execID attached and copies its output into out until the stream
// ends or ctx does.
func (t *Target) execOutput(ctx context.Context, execID string, out *capped) error {
	att, err := t.api.ExecAttach(ctx, execID, client.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	// The hijacked connection is not tied to ctx once the handshake is over.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	defer att.Close()
	_, err = stdcopy.StdCopy(out, out, att.Reader)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("read output: %w", err)
	}
	return nil
}

// execExitCode returns the exit code of exec execID, whose output stream has ended. The
// engine records the code when it handles the exit, which may come a moment after the end of
// the stream: until then the exec still runs.
func (t *Target) execExitCode(ctx context.Context, execID string) (int, error) {
	pause := time.Millisecond
	for {
		r, err := t.api.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return -1, fmt.Errorf("inspect: %w", err)
		}
		if !r.Running {
			return r.ExitCode, nil
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return -1, ctx.Err()
		case <-timer.C:
		}
		pause = min(2*pause, execPollMax)
	}
}

// capped keeps the first execOutputLimit bytes written to it and discards the rest. StdCopy
// writes both streams from one goroutine.
type capped struct{ b []byte }

func (c *capped) Write(p []byte) (int, error) {
	if room := execOutputLimit - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
