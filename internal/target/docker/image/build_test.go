package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/client"
	"go.uber.org/goleak"
)

// TestBuildSendError: a context that cannot be read is the error, not what the engine made
// of a context cut short.
func TestBuildSendError(t *testing.T) {
	defer goleak.VerifyNone(t)
	req := buildRequest(t)
	dir := req.Container.Build.Context
	bc, err := scan(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "app")); err != nil {
		t.Fatal(err)
	}
	api := newFakeEngine(t.Name())
	err = build(t.Context(), api, bc, client.ImageBuildOptions{}, func(string) {})
	if want := "send context: app: openat app: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("build = %v, want %s", err, want)
	}
}

// TestBuildCancel: cancelling ctx stops a build that is under way and its sender.
func TestBuildCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	bc, err := scan(buildRequest(t).Container.Build.Context, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	api := newFakeEngine(t.Name())
	api.build = func(ctx context.Context) ([]message, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err := build(ctx, api, bc, client.ImageBuildOptions{}, func(string) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("build = %v, want context.Canceled", err)
	}
}
