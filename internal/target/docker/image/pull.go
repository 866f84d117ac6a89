package image

import (
	"context"
	"time"

	"github.com/moby/moby/client"
)

// pull pulls ref and reports its progress to note. The error is the engine's.
func pull(ctx context.Context, api client.APIClient, ref string, note func(string)) error {
	resp, err := api.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	p := newProgress("pulling "+ref, note, time.Now)
	return readMessages(ctx, resp, p.update)
}
