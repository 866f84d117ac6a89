//go:build integration

package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/testenv"
	"github.com/graph-network-harness/harness/target"
)

// countingEngine counts the builds and pulls that reach the engine.
type countingEngine struct {
	client.APIClient
	builds, pulls atomic.Int32
}

func (c *countingEngine) ImageBuild(ctx context.Context, tar io.Reader, opts client.ImageBuildOptions) (client.ImageBuildResult, error) {
	c.builds.Add(1)
	return c.APIClient.ImageBuild(ctx, tar, opts)
}

func (c *countingEngine) ImagePull(ctx context.Context, ref string, opts client.ImagePullOptions) (client.ImagePullResponse, error) {
	c.pulls.Add(1)
	return c.APIClient.ImagePull(ctx, ref, opts)
}

// engine returns a client of the test engine that counts builds and pulls.
func engine(t *testing.T) *countingEngine {
	t.Helper()
	api, err := client.New(client.WithHost(testenv.Docker(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	return &countingEngine{APIClient: api}
}

// helloSource is a static program for images FROM scratch: it prints its id, or fails or
// sleeps when asked. The id makes its binary, and so every layer the tests build, unique to
// the run.
const helloSource = `package main

import (
	"fmt"
	"os"
	"time"
)

const id = %q

func main() {
	if len(os.Args) > 1 && os.Args[1] == "fail" {
		fmt.Println("failing as asked")
		os.Exit(3)
	}
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		fmt.Println("sleeping as asked")
		time.Sleep(time.Minute)
	}
	fmt.Println("hello", id)
}
`

// buildHello writes a static hello binary, built with CGO_ENABLED=0, to dir/hello.
func buildHello(t *testing.T, dir, id string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command builds the test binary: %v", err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), fmt.Appendf(nil, helloSource, id), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), goTool, "build", "-trimpath", "-o", filepath.Join(dir, "hello"), "main.go")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hello: %v\n%s", err, out)
	}
}

// images removes, when the test ends, every image the test made: the references Ensure
// returned or tagged, and every intermediate image a build printed (" ---> ID").
type images struct {
	mu   sync.Mutex
	refs []string // in the order first seen
}

var stepImage = regexp.MustCompile(`^build:  ---> ([0-9a-f]{12})$`)

// note is a note function that records the intermediate images and logs every line.
func (im *images) note(t *testing.T) func(string) {
	return func(line string) {
		t.Log(line)
		if m := stepImage.FindStringSubmatch(line); m != nil {
			im.add(m[1])
		}
	}
}

func (im *images) add(refs ...string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, ref := range refs {
		if !slices.Contains(im.refs, ref) {
			im.refs = append(im.refs, ref)
		}
	}
}

// removeAll removes the images, newest first, in passes: an image that still has children
// (a conflict) is tried again once a pass has removed others. Then it checks that no image
// labelled label=value is left.
func (im *images) removeAll(t *testing.T, api client.APIClient, label, value string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	left := slices.Clone(im.refs)
	slices.Reverse(left)
	for len(left) > 0 {
		var again []string
		var errs []error
		for _, ref := range left {
			_, err := api.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
			switch {
			case err == nil, cerrdefs.IsNotFound(err):
			case cerrdefs.IsConflict(err):
				again = append(again, ref)
				errs = append(errs, fmt.Errorf("remove image %s: %w", ref, err))
			default:
				t.Errorf("remove image %s: %v", ref, err)
			}
		}
		if len(again) == len(left) {
			t.Errorf("images left: %v", errors.Join(errs...))
			break
		}
		left = again
	}
	list, err := api.ImageList(ctx, client.ImageListOptions{All: true, Filters: client.Filters{}.Add("label", label+"="+value)})
	if err != nil {
		t.Errorf("list images: %v", err)
	}
	for _, img := range list.Items {
		t.Errorf("image %s %v is left", img.ID, img.RepoTags)
	}
}

func TestEnsureBuildIntegration(t *testing.T) {
	api := engine(t)
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	stack := "it-" + suffix
	var made images
	t.Cleanup(func() { made.removeAll(t, api, "harness.test", suffix) })

	dir := t.TempDir()
	buildHello(t, dir, suffix)
	writeTree(t, dir, map[string]string{
		"Dockerfile":    "FROM scratch\nCOPY hello /hello\nCOPY data /data\nENTRYPOINT [\"/hello\"]\n",
		"data":          "one",
		".dockerignore": "secret\n*.tmp\n",
		"secret":        "do not send",
	})
	alias := "harness-test/hello-" + suffix + ":dev"
	req := Request{
		Stack: stack, Service: "hello",
		Container: &target.Container{Image: alias, Build: &target.Build{Context: dir}},
		Labels:    map[string]string{"harness.test": suffix},
	}
	ensure := func(t *testing.T, ctx context.Context, req Request) (string, error) {
		t.Helper()
		start := time.Now()
		tag, err := Ensure(ctx, api, req, made.note(t))
		t.Logf("Ensure = %q, %v (%s)", tag, err, time.Since(start).Round(time.Millisecond))
		if err == nil {
			made.add(tag)
		}
		return tag, err
	}
	made.add(alias)

	var first string
	t.Run("builds", func(t *testing.T) {
		tag, err := ensure(t, t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		first = tag
		if !strings.HasPrefix(tag, "harness/"+stack+"-hello:") {
			t.Errorf("tag %q, want harness/%s-hello:HASH", tag, stack)
		}
		for _, ref := range []string{tag, alias} {
			img, err := api.ImageInspect(t.Context(), ref)
			if err != nil {
				t.Fatalf("inspect %s: %v", ref, err)
			}
			if got := img.Config.Labels; got["harness.stack"] != stack || got["harness.service"] != "hello" || got["harness.test"] != suffix {
				t.Errorf("labels of %s: %v", ref, got)
			}
		}
		if n := api.builds.Load(); n != 1 {
			t.Errorf("%d builds, want 1", n)
		}
	})
	t.Run("unchanged context is not rebuilt", func(t *testing.T) {
		old := time.Now().Add(-time.Hour)
		for _, name := range []string{"data", "hello", "Dockerfile"} {
			if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
				t.Fatal(err)
			}
		}
		writeTree(t, dir, map[string]string{"scratch.tmp": "ignored"})
		tag, err := ensure(t, t.Context(), req)
		if err != nil || tag != first {
			t.Fatalf("Ensure = %q, %v; want %s", tag, err, first)
		}
		if n := api.builds.Load(); n != 1 {
			t.Errorf("%d builds, want still 1", n)
		}
	})
	t.Run("changed file, new tag", func(t *testing.T) {
		writeTree(t, dir, map[string]string{"data": "two"})
		tag, err := ensure(t, t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if tag == first {
			t.Errorf("tag %s after a change, the same as before", tag)
		}
		if n := api.builds.Load(); n != 2 {
			t.Errorf("%d builds, want 2", n)
		}
	})
	t.Run("concurrent calls build once", func(t *testing.T) {
		writeTree(t, dir, map[string]string{"data": "three"})
		before := api.builds.Load()
		var wg sync.WaitGroup
		tags := make([]string, 3)
		for i := range tags {
			wg.Go(func() {
				tag, err := ensure(t, t.Context(), req)
				if err != nil {
					t.Error(err)
				}
				tags[i] = tag
			})
		}
		wg.Wait()
		if n := api.builds.Load() - before; n != 1 {
			t.Errorf("%d builds for 3 concurrent calls, want 1", n)
		}
		if tags[0] != tags[1] || tags[1] != tags[2] {
			t.Errorf("tags %q, want 3 equal tags", tags)
		}
	})
	t.Run("ignored file is not sent", func(t *testing.T) {
		r := req
		r.Service = "secret"
		r.Container = &target.Container{Build: &target.Build{Context: dir, Dockerfile: "Dockerfile.secret"}}
		writeTree(t, dir, map[string]string{"Dockerfile.secret": "FROM scratch\nCOPY secret /secret\n"})
		_, err := ensure(t, t.Context(), r)
		want := regexp.MustCompile(`^image harness/` + stack + `-secret:[0-9a-f]{12}: build context ` + regexp.QuoteMeta(dir) + `: COPY failed: .*secret`)
		if !want.MatchString(errText(err)) {
			t.Errorf("error = %v, want match of %s", err, want)
		}
	})
	t.Run("failing build", func(t *testing.T) {
		r := req
		r.Service = "fail"
		r.Container = &target.Container{Build: &target.Build{Context: dir, Dockerfile: "Dockerfile.fail"}}
		writeTree(t, dir, map[string]string{"Dockerfile.fail": "FROM scratch\nCOPY hello /hello\nRUN [\"/hello\", \"fail\"]\n"})
		_, err := ensure(t, t.Context(), r)
		want := regexp.MustCompile(`^image harness/` + stack + `-fail:[0-9a-f]{12}: build context ` + regexp.QuoteMeta(dir) + `: .*returned a non-zero code: 3$`)
		if !want.MatchString(errText(err)) {
			t.Errorf("error = %v, want match of %s", err, want)
		}
	})
	t.Run("missing Dockerfile", func(t *testing.T) {
		r := req
		r.Container = &target.Container{Build: &target.Build{Context: dir, Dockerfile: "nope/Dockerfile"}}
		_, err := ensure(t, t.Context(), r)
		want := "image harness/" + stack + "-hello: build context " + dir + ": dockerfile " + filepath.Join(dir, "nope/Dockerfile") + ": file does not exist"
		if errText(err) != want {
			t.Errorf("error = %v, want %s", err, want)
		}
	})
	t.Run("cancel stops a build", func(t *testing.T) {
		r := req
		r.Service = "slow"
		r.Container = &target.Container{Build: &target.Build{Context: dir, Dockerfile: "Dockerfile.slow"}}
		writeTree(t, dir, map[string]string{"Dockerfile.slow": "FROM scratch\nCOPY hello /hello\nRUN [\"/hello\", \"sleep\"]\n"})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		note := made.note(t)
		start := time.Now()
		_, err := Ensure(ctx, api, r, func(line string) {
			note(line)
			if strings.Contains(line, "sleeping as asked") {
				cancel()
			}
		})
		t.Logf("Ensure returned after %s: %v", time.Since(start).Round(time.Millisecond), err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

func TestEnsurePullIntegration(t *testing.T) {
	api := engine(t)
	// A registry on a loopback port where nothing listens: no traffic leaves the machine.
	ref := "127.0.0.1:1/harness-test-nosuch-" + fmt.Sprintf("%08x", rand.Uint32()) + ":1"
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := Ensure(ctx, api, Request{Stack: "it", Service: "nosuch", Container: &target.Container{Image: ref}}, func(line string) { t.Log(line) })
	t.Logf("Ensure returned after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if !strings.HasPrefix(errText(err), "image "+ref+": pull: ") {
		t.Errorf("error = %v, want image %s: pull: …", err, ref)
	}
	if n := api.pulls.Load(); n != 1 {
		t.Errorf("%d pulls, want 1", n)
	}
}
