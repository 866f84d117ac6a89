package image

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// fakeEngine is the part of the Engine API that Ensure uses, in memory. Calls of anything
// else panic (the embedded interface is nil).
type fakeEngine struct {
	client.APIClient
	host string

	// pull and build answer ImagePull and ImageBuild; nil answers with no messages. A
	// successful build adds its tags to images.
	pull  func(ctx context.Context, ref string) (io.Reader, error)
	build func(ctx context.Context) ([]message, error)

	mu       sync.Mutex
	images   map[string]bool
	pulls    int
	builds   int
	tar      []byte                   // of the last build
	opts     client.ImageBuildOptions // of the last build
	retagged []client.ImageTagOptions // every ImageTag
}

func newFakeEngine(host string) *fakeEngine {
	return &fakeEngine{host: "fake://" + host, images: map[string]bool{}}
}

func (f *fakeEngine) DaemonHost() string { return f.host }

func (f *fakeEngine) ImageInspect(ctx context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[ref] {
		return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
	}
	return client.ImageInspectResult{}, nil
}

func (f *fakeEngine) ImagePull(ctx context.Context, ref string, _ client.ImagePullOptions) (client.ImagePullResponse, error) {
	f.mu.Lock()
	f.pulls++
	f.mu.Unlock()
	var body io.Reader = strings.NewReader("")
	if f.pull != nil {
		var err error
		if body, err = f.pull(ctx, ref); err != nil {
			return nil, err
		}
	}
	return pullResponse{io.NopCloser(body)}, nil
}

func (f *fakeEngine) ImageBuild(ctx context.Context, tar io.Reader, opts client.ImageBuildOptions) (client.ImageBuildResult, error) {
	data, err := io.ReadAll(tar)
	if err != nil {
		return client.ImageBuildResult{}, err
	}
	f.mu.Lock()
	f.builds++
	f.tar, f.opts = data, opts
	f.mu.Unlock()
	var ms []message
	if f.build != nil {
		if ms, err = f.build(ctx); err != nil {
			return client.ImageBuildResult{}, err
		}
	}
	if !slices.ContainsFunc(ms, func(m message) bool { return m.failure() != nil }) {
		f.mu.Lock()
		for _, tag := range opts.Tags {
			f.images[tag] = true
		}
		f.mu.Unlock()
	}
	return client.ImageBuildResult{Body: io.NopCloser(messages(ms...))}, nil
}

func (f *fakeEngine) ImageTag(ctx context.Context, opts client.ImageTagOptions) (client.ImageTagResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retagged = append(f.retagged, opts)
	f.images[opts.Target] = true
	return client.ImageTagResult{}, nil
}

func (f *fakeEngine) counts() (pulls, builds int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pulls, f.builds
}

// pullResponse is the answer of fakeEngine.ImagePull; Ensure only reads it.
type pullResponse struct{ io.ReadCloser }

func (pullResponse) JSONMessages(context.Context) iter.Seq2[jsonstream.Message, error] {
	panic("not used")
}

func (pullResponse) Wait(context.Context) error { panic("not used") }

// messages encodes ms as the engine's stream of JSON messages.
func messages(ms ...message) io.Reader {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, m := range ms {
		if err := enc.Encode(m); err != nil {
			panic(err)
		}
	}
	return &buf
}

// blockingBody is an answer that sends nothing until ctx ends.
type blockingBody struct{ ctx context.Context }

func (b blockingBody) Read([]byte) (int, error) {
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}
