package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/target"
)

// Request is the image a service needs.
type Request struct {
	Stack, Service string
	// Container holds Image and Build (see target.Container).
	Container *target.Container
	// Labels go on a built image.
	Labels map[string]string
}

// flights shares the work of concurrent Ensure calls for one reference (see doc.go).
var flights group

// Ensure makes sure the image of req is on the engine and returns the reference to create
// the container from. note receives progress lines (pull and build progress) for the
// service's log. Errors name the image.
func Ensure(ctx context.Context, api client.APIClient, req Request, note func(string)) (string, error) {
	if note == nil {
		note = func(string) {}
	}
	if req.Container == nil {
		return "", fmt.Errorf("service %s: no container to make an image for", req.Service)
	}
	if req.Container.Build == nil {
		ref := req.Container.Image
		if ref == "" {
			return "", fmt.Errorf("service %s: no image and no build", req.Service)
		}
		err := flights.do(ctx, api.DaemonHost()+" "+ref, note, func(ctx context.Context, note func(string)) error {
			return ensurePulled(ctx, api, ref, note)
		})
		if err != nil {
			return "", fmt.Errorf("image %s: %w", ref, err)
		}
		return ref, nil
	}
	return ensureBuilt(ctx, api, req, note)
}

// ensurePulled pulls ref unless the engine has it.
func ensurePulled(ctx context.Context, api client.APIClient, ref string, note func(string)) error {
	present, err := exists(ctx, api, ref)
	if err != nil || present {
		return err
	}
	start := time.Now()
	if err := pull(ctx, api, ref, note); err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	note(fmt.Sprintf("pulled %s in %s", ref, time.Since(start).Round(100*time.Millisecond)))
	return nil
}

// ensureBuilt builds the image of req's build context unless the engine has the tag of its
// hash, and returns that tag.
func ensureBuilt(ctx context.Context, api client.APIClient, req Request, note func(string)) (string, error) {
	b := req.Container.Build
	repo := repository(req.Stack, req.Service)
	bc, err := scan(b.Context, b.Dockerfile)
	if err != nil {
		return "", fmt.Errorf("image %s: build context %s: %w", repo, b.Context, err)
	}
	sum, err := bc.hash(ctx, b.Args)
	if err != nil {
		return "", fmt.Errorf("image %s: build context %s: %w", repo, b.Context, err)
	}
	tag := repo + ":" + sum
	err = flights.do(ctx, api.DaemonHost()+" "+tag, note, func(ctx context.Context, note func(string)) error {
		return ensureTag(ctx, api, bc, buildOptions(req, tag), note)
	})
	if err != nil {
		return "", fmt.Errorf("image %s: %w", tag, err)
	}
	return tag, nil
}

// ensureTag builds bc with opts unless the engine has its first tag, opts.Tags[0]. The other
// tag, Container.Image, is pointed at that image in both cases.
func ensureTag(ctx context.Context, api client.APIClient, bc *buildContext, opts client.ImageBuildOptions, note func(string)) error {
	tag := opts.Tags[0]
	present, err := exists(ctx, api, tag)
	if err != nil {
		return err
	}
	if !present {
		start := time.Now()
		note(fmt.Sprintf("building %s from %s", tag, bc.dir))
		if err := build(ctx, api, bc, opts, note); err != nil {
			return fmt.Errorf("build context %s: %w", bc.dir, err)
		}
		note(fmt.Sprintf("built %s in %s", tag, time.Since(start).Round(100*time.Millisecond)))
		return nil
	}
	// The other tag may name the image of another context, built before.
	for _, alias := range opts.Tags[1:] {
		if _, err := api.ImageTag(ctx, client.ImageTagOptions{Source: tag, Target: alias}); err != nil {
			return fmt.Errorf("tag %s: %w", alias, err)
		}
	}
	return nil
}

// buildOptions are the options of the build of req: tagged tag, then Container.Image.
func buildOptions(req Request, tag string) client.ImageBuildOptions {
	b := req.Container.Build
	opts := client.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  b.Dockerfile,
		Labels:      map[string]string{},
		Remove:      true,
		ForceRemove: true,
	}
	if opts.Dockerfile == "" {
		opts.Dockerfile = defaultDockerfile
	}
	if img := req.Container.Image; img != "" && img != tag {
		opts.Tags = append(opts.Tags, img)
	}
	if len(b.Args) > 0 {
		opts.BuildArgs = make(map[string]*string, len(b.Args))
		for k, v := range b.Args {
			opts.BuildArgs[k] = &v
		}
	}
	for k, v := range req.Labels {
		opts.Labels[k] = v
	}
	opts.Labels["harness.stack"] = req.Stack
	opts.Labels["harness.service"] = req.Service
	return opts
}

// exists reports whether the engine has the image ref.
func exists(ctx context.Context, api client.APIClient, ref string) (bool, error) {
	_, err := api.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect: %w", err)
	}
}

// repository is the name of the built images of a service: harness/STACK-SERVICE, each part
// reduced to what a repository name allows (lowercase letters, digits, single dashes).
func repository(stack, service string) string {
	var parts []string
	for _, s := range []string{stack, service} {
		if p := namePart(s); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		parts = []string{"image"}
	}
	return "harness/" + strings.Join(parts, "-")
}

// namePart lowercases s and turns every run of other characters than [a-z0-9] into one dash,
// trimmed at both ends.
func namePart(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}
