package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/internal/target/docker/image"
	"github.com/graph-network-harness/harness/target"
)

// cleanupTimeout bounds the removal of what a failed Start created: the caller's context
// may be what ended it.
const cleanupTimeout = time.Minute

// Start implements target.Target. It adopts the container of the spec's service when one
// runs with the spec's ConfigHash (see the package doc), and otherwise removes any container
// of the service, makes sure the image and the named volumes exist, and creates and starts
// the container named ContainerName(Stack, Service). It returns once the container runs,
// not once it is ready. When it fails, no container of it is left. Problems of the spec
// (no image, a bad port, a command the image does not have) wrap target.ErrInvalidSpec.
func (t *Target) Start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	h, err := t.start(ctx, spec)
	if err != nil {
		return target.Handle{}, fmt.Errorf("container %s: %w", ContainerName(spec.Stack, spec.Service), err)
	}
	return h, nil
}

func (t *Target) start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	if err := ctx.Err(); err != nil {
		return target.Handle{}, err
	}
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return target.Handle{}, errClosed
	}
	stop, err := validate(spec)
	if err != nil {
		return target.Handle{}, fmt.Errorf("%w: %w", err, target.ErrInvalidSpec)
	}
	// Validated in full before anything is touched; the image is filled in below.
	opts, err := createOptions(spec, "", stop)
	if err != nil {
		return target.Handle{}, fmt.Errorf("%w: %w", err, target.ErrInvalidSpec)
	}
	unlock := t.names.lock(opts.Name)
	defer unlock()

	if id, logPath, ok, err := t.adoptOrClear(ctx, spec); err != nil {
		return target.Handle{}, err
	} else if ok {
		t.resume(ctx, id, logPath)
		return t.handle(id), nil
	}

	var w *logfile.Writer
	if spec.LogPath != "" {
		if w, err = logfile.Open(spec.LogPath, t.opts.LogOptions); err != nil {
			return target.Handle{}, err
		}
	}
	id, err := t.create(ctx, spec, opts, w)
	if err != nil {
		if w != nil {
			w.Close()
		}
		return target.Handle{}, err
	}
	t.remember(id, spec.LogPath)
	if w != nil {
		t.follow(id, w, time.Time{})
	}
	return t.handle(id), nil
}

// validate checks what the engine would not, or not clearly, and returns the stop signal.
func validate(spec target.Spec) (string, error) {
	switch {
	case spec.Container == nil:
		return "", errors.New("no container")
	case spec.Container.Image == "" && spec.Container.Build == nil:
		return "", errors.New("no image and nothing to build")
	case spec.Stack == "" || spec.Service == "":
		return "", errors.New("no stack or service name")
	}
	stop := spec.StopSignal
	if stop == "" {
		stop = "SIGTERM"
	}
	stop, err := parseSignal(stop)
	if err != nil {
		return "", fmt.Errorf("stop signal: %w", err)
	}
	return stop, nil
}

// create makes sure the image and volumes of spec exist, then creates and starts its
// container and returns its ID. Image progress goes to w as notes.
func (t *Target) create(ctx context.Context, spec target.Spec, opts client.ContainerCreateOptions, w *logfile.Writer) (id string, err error) {
	note := func(line string) {
		if w == nil {
			t.log.Debug("docker: image", "service", spec.Service, "progress", line)
		} else if err := w.Note("%s", line); err != nil {
			t.log.Warn("docker: log image progress", "service", spec.Service, "err", err)
		}
	}
	req := image.Request{Stack: spec.Stack, Service: spec.Service, Container: spec.Container,
		Labels: map[string]string{LabelStack: spec.Stack, LabelService: spec.Service}}
	ref, err := image.Ensure(ctx, t.api, req, note)
	if err != nil {
		return "", err
	}
	if err := t.ensureVolumes(ctx, spec.Stack, volumesOf(spec.Container)); err != nil {
		return "", err
	}
	opts.Config.Image = ref
	created, err := t.api.ContainerCreate(ctx, opts)
	if err != nil {
		return "", fmt.Errorf("create container: %w", specErr(err))
	}
	defer func() {
		if err != nil {
			t.discard(created.ID)
		}
	}()
	for _, warning := range created.Warnings {
		note("engine: " + warning)
	}
	if _, err := t.api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return "", fmt.Errorf("start container: %w", specErr(err))
	}
	return created.ID, nil
}

// specErr adds target.ErrInvalidSpec to an engine error that blames the request: an invalid
// argument (no command, a bad mount, an address outside the network's subnet).
func specErr(err error) error {
	if cerrdefs.IsInvalidArgument(err) {
		return fmt.Errorf("%w (%w)", err, target.ErrInvalidSpec)
	}
	return err
}

// discard force-removes container id, which a failed Start created or a new one replaces.
func (t *Target) discard(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, err := t.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		t.log.Warn("docker: remove container", "container", id, "err", err)
	}
}

// adoptOrClear looks for the containers of spec's service by their labels. It returns the one
// that runs with spec's config hash, with the log path it has, for adoption; every other
// one (stopped, or of another configuration) it removes, so that no leftover holds the
// container's name.
func (t *Target) adoptOrClear(ctx context.Context, spec target.Spec) (id, logPath string, ok bool, err error) {
	filters := client.Filters{}.Add("label", LabelStack+"="+spec.Stack, LabelService+"="+spec.Service)
	list, err := t.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return "", "", false, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range list.Items {
		if !ok && c.State == container.StateRunning && c.Labels[LabelConfigHash] == spec.ConfigHash {
			id, logPath, ok = c.ID, c.Labels[LabelLogPath], true
			continue
		}
		_, err := t.api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			return "", "", false, fmt.Errorf("remove the old container %.12s: %w", c.ID, err)
		}
	}
	return id, logPath, ok, nil
}

// resume resumes the copy of the output of the adopted container id into logPath, from the
// time of the last line stored there: what the container wrote since is copied; what was
// stored is not copied again.
func (t *Target) resume(ctx context.Context, id, logPath string) {
	t.remember(id, logPath)
	if logPath == "" || t.copyOf(id) != nil {
		return
	}
	since, err := lastStored(ctx, logPath)
	if err != nil {
		t.log.Warn("docker: read the end of the log", "container", id, "err", err)
	}
	w, err := logfile.Open(logPath, t.opts.LogOptions)
	if err != nil {
		t.log.Warn("docker: open the log of an adopted container", "container", id, "err", err)
		return
	}
	t.follow(id, w, since)
}

// remember records the log path of container id for Logs.
func (t *Target) remember(id, logPath string) {
	if logPath == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.logPaths[id] = logPath
}

// ensureVolumes creates the named volumes that do not exist, labelled with the stack.
func (t *Target) ensureVolumes(ctx context.Context, stack string, names []string) error {
	for _, name := range names {
		_, err := t.api.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
		if err == nil {
			continue
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("volume %s: %w", name, err)
		}
		opts := client.VolumeCreateOptions{Name: name, Labels: map[string]string{LabelStack: stack}}
		if _, err := t.api.VolumeCreate(ctx, opts); err != nil {
			return fmt.Errorf("create volume %s: %w", name, specErr(err))
		}
	}
	return nil
}
