//go:build integration

package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/target/docker"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/internal/testenv"
	"github.com/graph-network-harness/harness/target"
)

// helperArgv runs the test binary, at /svc in the helper image, as the service.
var helperArgv = []string{"/svc", "-test.run=^TestHelperProcess$"}

// env is what an integration test works with: the engine, a stack name of its own, and a
// raw client for looking behind the Target's back.
type env struct {
	host  string
	stack string
	api   *client.Client
}

// newEnv returns the env of t. When t ends, everything labelled with its stack is removed
// (containers, networks, volumes), also when the test failed half-way.
func newEnv(t *testing.T) *env {
	t.Helper()
	host := testenv.Docker(t)
	api, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{host: host, stack: "t" + randomSuffix(), api: api}
	t.Cleanup(func() {
		e.removeStack(t)
		api.Close()
	})
	return e
}

// randomSuffix returns 8 random hex digits, so that parallel runs never share a name.
func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// removeStack removes whatever carries the stack label of e.
func (e *env) removeStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	byStack := client.Filters{}.Add("label", docker.LabelStack+"="+e.stack)
	list, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: byStack})
	if err != nil {
		t.Errorf("cleanup: list containers: %v", err)
	}
	for _, c := range list.Items {
		if _, err := e.api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove container %s: %v", c.Names, err)
		}
	}
	nets, err := e.api.NetworkList(ctx, client.NetworkListOptions{Filters: byStack})
	if err != nil {
		t.Errorf("cleanup: list networks: %v", err)
	}
	for _, n := range nets.Items {
		if _, err := e.api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			t.Errorf("cleanup: remove network %s: %v", n.Name, err)
		}
	}
	vols, err := e.api.VolumeList(ctx, client.VolumeListOptions{Filters: byStack})
	if err != nil {
		t.Errorf("cleanup: list volumes: %v", err)
	}
	for _, v := range vols.Items {
		if _, err := e.api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove volume %s: %v", v.Name, err)
		}
	}
}

// newTarget returns a Target on the engine of e that is closed when t ends.
func (e *env) newTarget(t *testing.T) *docker.Target {
	t.Helper()
	tg, err := docker.New(docker.Options{Host: e.host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tg
}

// helperImage builds an image FROM scratch that holds this package's test binary at /svc
// (no entrypoint, no command), removed when t ends, and returns its tag.
func (e *env) helperImage(t *testing.T) string {
	t.Helper()
	tag := "harness-test-svc:" + e.stack
	testenv.DockerImage(t, e.host, tag, map[string]string{"/svc": testenv.StaticTestBinary(t, ".")}, nil)
	return tag
}

// serverImage builds an image FROM scratch of testenv/testserver, with it as entrypoint,
// removed when t ends, and returns its tag.
func (e *env) serverImage(t *testing.T) string {
	t.Helper()
	tag := "harness-test-server:" + e.stack
	bin := testenv.StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	testenv.DockerImage(t, e.host, tag, map[string]string{"/testserver": bin}, []string{"/testserver"})
	return tag
}

// specs makes specs of the stack of e, each with a service name of its own.
type specs struct {
	e     *env
	image string
	n     atomic.Int64
}

// helper returns the spec of a test-binary service that acts b. A Grandchild's PID file
// directory is bind-mounted at the same path, so that the file appears on this host.
func (s *specs) helper(t *testing.T, b targettest.Behaviour) target.Spec {
	spec := s.spec(t, s.image)
	spec.Argv, spec.Env = helperArgv, b.Env()
	if b.PIDFile != "" {
		dir := filepath.Dir(b.PIDFile)
		spec.Container.Mounts = []target.Mount{{Source: dir, Target: dir}}
	}
	return spec
}

// spec returns the spec of a new service of image, with a log of its own.
func (s *specs) spec(t *testing.T, image string) target.Spec {
	service := fmt.Sprintf("svc%d", s.n.Add(1))
	return target.Spec{
		Stack:      s.e.stack,
		Service:    service,
		LogPath:    filepath.Join(t.TempDir(), service+".log"),
		StopSignal: "SIGTERM",
		ConfigHash: "hash-1",
		Container:  &target.Container{Image: image},
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start starts spec on tg and stops and removes the container when t ends.
func start(t *testing.T, ctx context.Context, tg target.Target, spec target.Spec) target.Handle {
	t.Helper()
	h, err := tg.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tg.Stop(ctx, h, 0); err != nil && !isNotFound(err) {
			t.Errorf("cleanup: Stop: %v", err)
		}
		if err := tg.Remove(ctx, h); err != nil && !isNotFound(err) {
			t.Errorf("cleanup: Remove: %v", err)
		}
	})
	return h
}

func isNotFound(err error) bool { return errors.Is(err, target.ErrNotFound) }

var equateErrors = cmpopts.EquateErrors()

// time10s is a grace that a service which honours SIGTERM never uses up.
const time10s = 10 * time.Second

func errorsIsInvalid(err error) bool { return errors.Is(err, target.ErrInvalidSpec) }

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
