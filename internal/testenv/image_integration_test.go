//go:build integration

package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestDockerImage builds testserver static, puts it in an image FROM scratch and runs it
// there with -version.
func TestDockerImage(t *testing.T) {
	host := Docker(t)
	bin := StaticBinary(t, "./testserver", "-ldflags=-X main.version=v9")
	b := make([]byte, 4)
	rand.Read(b)
	tag := "harness-test-testenv:" + hex.EncodeToString(b)
	DockerImage(t, host, tag, map[string]string{"/bin/testserver": bin}, []string{"/bin/testserver"})

	api, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// The command follows the image's entrypoint.
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{Image: tag, Config: &container.Config{Cmd: []string{"-version"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := api.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if _, err := api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	waited := api.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{})
	select {
	case r := <-waited.Result:
		if r.StatusCode != 0 {
			t.Fatalf("testserver -version exited with %d", r.StatusCode)
		}
	case err := <-waited.Error:
		t.Fatal(err)
	}
	logs, err := api.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("testserver v9\n", out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
