package docker

import (
	"context"
	"fmt"
	"slices"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/target"
)

// Wait implements target.Target: it waits until the container no longer runs and its output
// up to the exit is stored (when this Target copies it), or ctx ends. See exitOf for how the
// status reads.
func (t *Target) Wait(ctx context.Context, h target.Handle) (target.Exit, error) {
	e, err := t.wait(ctx, h)
	if err != nil {
		return target.Exit{}, fmt.Errorf("wait %s: %w", h, err)
	}
	return e, nil
}

func (t *Target) wait(ctx context.Context, h target.Handle) (target.Exit, error) {
	id, err := t.containerID(h)
	if err != nil {
		return target.Exit{}, err
	}
	status, err := t.waitStopped(ctx, id)
	if err != nil {
		return target.Exit{}, err
	}
	if err := t.awaitCopy(ctx, id); err != nil {
		return target.Exit{}, err
	}
	at := time.Now()
	if c, err := t.inspect(ctx, id); err == nil && c.State != nil {
		at = parseTime(c.State.FinishedAt, at)
	}
	return exitOf(status, at), nil
}

// waitStopped waits until container id does not run and returns its exit status.
func (t *Target) waitStopped(ctx context.Context, id string) (int, error) {
	res := t.api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	// Both channels are drained by one receive: the client's goroutine sends on exactly one,
	// and a cancelled ctx makes it send the error at once. Selecting on ctx here instead
	// would leave it blocked on the unbuffered result channel forever.
	select {
	case r := <-res.Result:
		if r.Error != nil && r.Error.Message != "" {
			return 0, fmt.Errorf("engine: %s", r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-res.Error:
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, engineErr(err)
	}
}

// Stop implements target.Target: it sends the container's stop signal (the label's), and
// after grace, rounded up to whole seconds, the engine kills it; with no grace it is killed
// at once. Stop returns when the container no longer runs and its output is stored. Stopping
// a container that has exited succeeds.
func (t *Target) Stop(ctx context.Context, h target.Handle, grace time.Duration) error {
	if err := t.stop(ctx, h, grace); err != nil {
		return fmt.Errorf("stop %s: %w", h, err)
	}
	return nil
}

func (t *Target) stop(ctx context.Context, h target.Handle, grace time.Duration) error {
	id, err := t.containerID(h)
	if err != nil {
		return err
	}
	c, err := t.inspect(ctx, id)
	if err != nil {
		return err
	}
	if c.State != nil && c.State.Running {
		if cp := t.copyOf(id); cp != nil {
			cp.stopping.Store(true)
		}
		if grace <= 0 {
			_, err = t.api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"})
		} else {
			seconds := int((grace + time.Second - 1) / time.Second)
			_, err = t.api.ContainerStop(ctx, id, client.ContainerStopOptions{Signal: stopSignalOf(c), Timeout: &seconds})
		}
		// A container that exited meanwhile cannot be killed: a conflict, and no matter.
		if err != nil && !cerrdefs.IsConflict(err) {
			return engineErr(err)
		}
	}
	if _, err := t.waitStopped(ctx, id); err != nil {
		return err
	}
	return t.awaitCopy(ctx, id)
}

// stopSignalOf is the stop signal of container c: its label, else its configuration's.
func stopSignalOf(c container.InspectResponse) string {
	if c.Config == nil {
		return ""
	}
	if s, err := parseSignal(c.Config.Labels[LabelStopSignal]); err == nil {
		return engineSignal(s)
	}
	return c.Config.StopSignal
}

// Remove implements target.Target: it removes the stopped container, not its volumes. A
// running container is not removed (an error); a gone one is ErrNotFound.
func (t *Target) Remove(ctx context.Context, h target.Handle) error {
	id, err := t.containerID(h)
	if err != nil {
		return fmt.Errorf("remove %s: %w", h, err)
	}
	if _, err := t.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{}); err != nil {
		return fmt.Errorf("remove %s: %w", h, engineErr(err))
	}
	t.mu.Lock()
	delete(t.logPaths, id)
	t.mu.Unlock()
	return nil
}

// Inspect implements target.Target. PID is the host PID of the container's init; IP is the
// container's address on its network (the one it was started on, else the first by name).
func (t *Target) Inspect(ctx context.Context, h target.Handle) (target.Status, error) {
	id, err := t.containerID(h)
	if err != nil {
		return target.Status{}, fmt.Errorf("inspect %s: %w", h, err)
	}
	c, err := t.inspect(ctx, id)
	if err != nil {
		return target.Status{}, fmt.Errorf("inspect %s: %w", h, err)
	}
	return statusOf(c), nil
}

// statusOf reads the Status of an inspected container.
func statusOf(c container.InspectResponse) target.Status {
	st := target.Status{Container: c.ID, IP: ipOf(c)}
	s := c.State
	if s == nil {
		return st
	}
	st.Running, st.PID = s.Running, s.Pid
	st.StartedAt = parseTime(s.StartedAt, time.Time{})
	if !s.Running && (s.Status == container.StateExited || s.Status == container.StateDead) {
		e := exitOf(s.ExitCode, parseTime(s.FinishedAt, time.Time{}))
		st.Exit = &e
	}
	return st
}

// ipOf is the IPv4 address of c on the network of its network mode, else on the first of
// its networks by name.
func ipOf(c container.InspectResponse) string {
	if c.NetworkSettings == nil || len(c.NetworkSettings.Networks) == 0 {
		return ""
	}
	nets := c.NetworkSettings.Networks
	if c.HostConfig != nil {
		if ep := nets[string(c.HostConfig.NetworkMode)]; ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String()
		}
	}
	names := make([]string, 0, len(nets))
	for name := range nets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if ep := nets[name]; ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String()
		}
	}
	return ""
}

// parseTime reads a time of the engine; the engine's zero time, or one that does not parse,
// is def.
func parseTime(s string, def time.Time) time.Time {
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || at.Year() <= 1 {
		return def
	}
	return at
}

// inspect returns the engine's view of container id; a container that is gone, or whose ID
// is not id (a name or a prefix matched), is ErrNotFound.
func (t *Target) inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	res, err := t.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, engineErr(err)
	}
	if res.Container.ID != id {
		return container.InspectResponse{}, fmt.Errorf("container %.12s is gone: %w", id, target.ErrNotFound)
	}
	return res.Container, nil
}

// Signal implements target.Signaler: it sends sig (a name such as "TERM" or "SIGTERM", or a
// number) to the container's init, which forwards it to the service.
func (t *Target) Signal(ctx context.Context, h target.Handle, sig string) error {
	id, err := t.containerID(h)
	if err != nil {
		return fmt.Errorf("signal %s: %w", h, err)
	}
	name, err := parseSignal(sig)
	if err != nil {
		return fmt.Errorf("signal %s: %w", h, err)
	}
	if _, err := t.api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: engineSignal(name)}); err != nil {
		return fmt.Errorf("signal %s: %w", h, engineErr(err))
	}
	return nil
}
