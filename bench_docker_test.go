package harness_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/testenv"
)

// BenchmarkStart10Containers starts 10 containers through harness, each with a TCP check,
// until all are healthy, and in the same iteration the floor: the same 10
// containers on a bridge network of their own, created and started directly through the
// Engine API from 10 goroutines (floorContainers), before or after, by turns. It reports both
// and their ratio. The
// image is the test server FROM scratch, built once; it needs a Docker engine.
func BenchmarkStart10Containers(b *testing.B) {
	host := testenv.Docker(b)
	api, err := client.New(client.WithHost(host))
	if err != nil {
		b.Fatal(err)
	}
	defer api.Close()
	image := fmt.Sprintf("harness-bench/server:%d", time.Now().UnixNano())
	server := testenv.StaticBinary(b, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	testenv.DockerImage(b, host, image, map[string]string{"/server": server}, nil)

	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		name := fmt.Sprintf("bench%d-%d", time.Now().UnixNano()%1e6, i)
		// Which goes first alternates: each runs sometimes while the engine still cleans up
		// after the other.
		var floor time.Duration
		if i%2 == 1 {
			floor = floorContainers(b, api, name+"-floor", image)
		}
		var y strings.Builder
		fmt.Fprintf(&y, "version: \"1.0\"\nname: %s\nservices:\n", name)
		for j := range 10 {
			fmt.Fprintf(&y, "  c%d: {type: docker, image: %q, command: [/server, -listen, \":8080\"], health_check: {tcp: 8080}}\n", j, image)
		}
		m := benchStack(b, y.String())
		b.StartTimer()
		t0 := time.Now()
		err := m.Start(ctx)
		start := time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Down(ctx, true); err != nil {
			b.Fatal(err)
		}
		m.Close()
		if i%2 == 0 {
			floor = floorContainers(b, api, name+"-floor", image)
		}
		b.ReportMetric(float64(start.Milliseconds()), "start-ms")
		b.ReportMetric(float64(floor.Milliseconds()), "floor-ms")
		b.ReportMetric(float64(start)/float64(floor), "x-floor")
		b.StartTimer()
	}
}

// floorContainers creates a bridge network and, from 10 goroutines, creates and starts 10
// containers of image on it, and returns how long that took; then removes them untimed.
func floorContainers(b *testing.B, api *client.Client, name, image string) time.Duration {
	ctx := context.Background()
	ids := make([]string, 10)
	t0 := time.Now()
	net, err := api.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge"})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
				Name:       fmt.Sprintf("%s-c%d", name, i),
				Config:     &container.Config{Image: image, Cmd: []string{"/server", "-listen", ":8080"}},
				HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(name)},
			})
			if err != nil {
				b.Error(err)
				return
			}
			ids[i] = created.ID
			if _, err := api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	floor := time.Since(t0)
	for _, id := range ids {
		if id != "" {
			if _, err := api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
				b.Error(err)
			}
		}
	}
	if _, err := api.NetworkRemove(ctx, net.ID, client.NetworkRemoveOptions{}); err != nil {
		b.Error(err)
	}
	return floor
}
