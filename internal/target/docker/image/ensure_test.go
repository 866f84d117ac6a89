package image

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/target"
)

// notes collects note lines; safe for concurrent use.
type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) note(line string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines = append(n.lines, line)
}

func (n *notes) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.lines...)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestEnsurePresentImage(t *testing.T) {
	api := newFakeEngine(t.Name())
	api.images["app:1"] = true
	got, err := Ensure(t.Context(), api, Request{Stack: "s", Service: "app", Container: &target.Container{Image: "app:1"}}, nil)
	if err != nil || got != "app:1" {
		t.Fatalf("Ensure = %q, %v; want app:1", got, err)
	}
	if pulls, _ := api.counts(); pulls != 0 {
		t.Errorf("%d pulls of a present image", pulls)
	}
}

func TestEnsurePull(t *testing.T) {
	api := newFakeEngine(t.Name())
	api.pull = func(ctx context.Context, ref string) (io.Reader, error) {
		return messages(
			message{Status: "Pulling from library/app", ID: "1"},
			message{Status: "Pulling fs layer", ID: "abc"},
			message{Status: "Downloading", ID: "abc", Progress: &jsonstream.Progress{Current: 1, Total: 2_000_000}},
			message{Status: "Digest: sha256:0123"},
		), nil
	}
	var n notes
	got, err := Ensure(t.Context(), api, Request{Service: "app", Container: &target.Container{Image: "app:1"}}, n.note)
	if err != nil || got != "app:1" {
		t.Fatalf("Ensure = %q, %v; want app:1", got, err)
	}
	lines := n.all()
	want := []string{
		"pulling app:1: 1: Pulling from library/app",
		"pulling app:1: abc: Pulling fs layer",
		// Downloading came less than a second after the layer's last line.
		"pulling app:1: Digest: sha256:0123",
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "pulled app:1 in ") {
		t.Errorf("last note: want pulled app:1 in …, got %q", lines)
	} else if diff := cmp.Diff(want, lines[:len(lines)-1]); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

func TestEnsurePullErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		pull func(ctx context.Context, ref string) (io.Reader, error)
		want string
	}{{
		name: "refused",
		pull: func(context.Context, string) (io.Reader, error) {
			return nil, errors.New(`Error response from daemon: Get "https://127.0.0.1:1/v2/": connection refused`)
		},
		want: `image nosuch/thing:1: pull: Error response from daemon: Get "https://127.0.0.1:1/v2/": connection refused`,
	}, {
		name: "error message",
		pull: func(context.Context, string) (io.Reader, error) {
			return messages(message{Status: "Pulling from nosuch/thing", ID: "1"},
				message{Error: "manifest unknown", ErrorDetail: &jsonstream.Error{Message: "manifest for nosuch/thing:1 not found: manifest unknown"}}), nil
		},
		want: "image nosuch/thing:1: pull: manifest for nosuch/thing:1 not found: manifest unknown",
	}, {
		name: "garbage",
		pull: func(context.Context, string) (io.Reader, error) { return strings.NewReader("{nope"), nil },
		want: "image nosuch/thing:1: pull: read engine messages: invalid character 'n' looking for beginning of object key string",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeEngine(t.Name())
			api.pull = tc.pull
			_, err := Ensure(t.Context(), api, Request{Service: "app", Container: &target.Container{Image: "nosuch/thing:1"}}, nil)
			if diff := cmp.Diff(tc.want, errText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// buildRequest returns a request to build a context with a Dockerfile and a file.
func buildRequest(t *testing.T) Request {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY app /app\n", "app": "app", ".dockerignore": "*.tmp\n", "x.tmp": "x"})
	return Request{
		Stack: "Shop", Service: "api_v2",
		Container: &target.Container{Image: "shop/api:dev", Build: &target.Build{Context: dir, Args: map[string]string{"V": "1"}}},
		Labels:    map[string]string{"owner": "me", "harness.stack": "overridden"},
	}
}

func TestEnsureBuild(t *testing.T) {
	api := newFakeEngine(t.Name())
	api.build = func(context.Context) ([]message, error) {
		return []message{{Stream: "Step 1/2 : FROM scratch\n"}, {Stream: " ---> \nStep 2/2 : COPY app /app\n"}, {Aux: []byte(`{"ID":"sha256:1"}`)}}, nil
	}
	req := buildRequest(t)
	var n notes
	tag, err := Ensure(t.Context(), api, req, n.note)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^harness/shop-api-v2:[0-9a-f]{12}$`).MatchString(tag) {
		t.Errorf("tag = %q, want harness/shop-api-v2:HASH", tag)
	}
	v := "1"
	wantOpts := client.ImageBuildOptions{
		Tags: []string{tag, "shop/api:dev"}, Dockerfile: "Dockerfile", Remove: true, ForceRemove: true,
		BuildArgs: map[string]*string{"V": &v},
		Labels:    map[string]string{"owner": "me", "harness.stack": "Shop", "harness.service": "api_v2"},
	}
	if diff := cmp.Diff(wantOpts, api.opts); diff != "" {
		t.Errorf("build options (-want +got):\n%s", diff)
	}
	var sent []string
	tr := tar.NewReader(strings.NewReader(string(api.tar)))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		sent = append(sent, h.Name)
	}
	if diff := cmp.Diff([]string{".dockerignore", "Dockerfile", "app"}, sent); diff != "" {
		t.Errorf("context sent (-want +got):\n%s", diff)
	}
	lines := n.all()
	wantLines := []string{
		"building " + tag + " from " + req.Container.Build.Context,
		"build: Step 1/2 : FROM scratch", "build:  --->", "build: Step 2/2 : COPY app /app",
	}
	if len(lines) != len(wantLines)+1 || !strings.HasPrefix(lines[len(lines)-1], "built "+tag+" in ") {
		t.Errorf("notes: want %q and built …, got %q", wantLines, lines)
	} else if diff := cmp.Diff(wantLines, lines[:len(wantLines)]); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}

	// An unchanged context is not built again; Image is pointed at the tag again.
	again, err := Ensure(t.Context(), api, req, nil)
	if err != nil || again != tag {
		t.Fatalf("second Ensure = %q, %v; want %s", again, err, tag)
	}
	if _, builds := api.counts(); builds != 1 {
		t.Errorf("%d builds, want 1", builds)
	}
	if diff := cmp.Diff([]client.ImageTagOptions{{Source: tag, Target: "shop/api:dev"}}, api.retagged); diff != "" {
		t.Errorf("ImageTag calls (-want +got):\n%s", diff)
	}
}

func TestEnsureBuildErrors(t *testing.T) {
	req := buildRequest(t)
	dir := req.Container.Build.Context
	api := newFakeEngine(t.Name())
	api.build = func(context.Context) ([]message, error) {
		return []message{{Stream: "Step 2/2 : COPY secret /secret\n"}, {
			Error:       "COPY failed: file not found in build context or excluded by .dockerignore: stat secret: file does not exist",
			ErrorDetail: &jsonstream.Error{Message: "COPY failed: file not found in build context or excluded by .dockerignore: stat secret: file does not exist"},
		}}, nil
	}
	_, err := Ensure(t.Context(), api, req, nil)
	want := regexp.MustCompile(`^image harness/shop-api-v2:[0-9a-f]{12}: build context ` + regexp.QuoteMeta(dir) +
		`: COPY failed: file not found in build context or excluded by \.dockerignore: stat secret: file does not exist$`)
	if !want.MatchString(errText(err)) {
		t.Errorf("error = %v, want match of %s", err, want)
	}

	req.Container.Build.Dockerfile = "Dockerfile.dev"
	_, err = Ensure(t.Context(), api, req, nil)
	wantText := "image harness/shop-api-v2: build context " + dir + ": dockerfile " + filepath.Join(dir, "Dockerfile.dev") + ": file does not exist"
	if diff := cmp.Diff(wantText, errText(err)); diff != "" {
		t.Errorf("error of a missing Dockerfile (-want +got):\n%s", diff)
	}
	if _, builds := api.counts(); builds != 1 {
		t.Errorf("%d builds, want 1", builds)
	}
}

// TestEnsureConcurrentBuild: two Ensure calls for one context at the same time build once,
// and both see the progress.
func TestEnsureConcurrentBuild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api := newFakeEngine(t.Name())
		api.build = func(context.Context) ([]message, error) {
			<-release
			return []message{{Stream: "Step 1/1 : FROM scratch\n"}}, nil
		}
		req := buildRequest(t)
		var wg sync.WaitGroup
		tags := make([]string, 2)
		n := make([]notes, 2)
		for i := range 2 {
			wg.Go(func() {
				tag, err := Ensure(t.Context(), api, req, n[i].note)
				if err != nil {
					t.Error(err)
				}
				tags[i] = tag
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if _, builds := api.counts(); builds != 1 {
			t.Errorf("%d builds, want 1", builds)
		}
		if tags[0] == "" || tags[0] != tags[1] {
			t.Errorf("tags = %q, want two equal tags", tags)
		}
		for i := range n {
			if !slices.Contains(n[i].all(), "build: Step 1/1 : FROM scratch") {
				t.Errorf("caller %d: notes %q lack the build's output", i, n[i].all())
			}
		}
	})
}

// TestEnsureCancel: a caller that goes does not stop a pull another caller waits for; the
// last one does, and Ensure returns once the pull has stopped.
func TestEnsureCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pullCtx context.Context
		api := newFakeEngine(t.Name())
		api.pull = func(ctx context.Context, _ string) (io.Reader, error) {
			pullCtx = ctx
			return blockingBody{ctx}, nil
		}
		req := Request{Service: "app", Container: &target.Container{Image: "slow:1"}}
		errs := make([]chan error, 2)
		cancels := make([]context.CancelFunc, 2)
		for i := range errs {
			ctx, cancel := context.WithCancel(t.Context())
			errs[i], cancels[i] = make(chan error, 1), cancel
			go func() {
				_, err := Ensure(ctx, api, req, nil)
				errs[i] <- err
			}()
		}
		synctest.Wait()

		cancels[0]()
		if err := <-errs[0]; !errors.Is(err, context.Canceled) || err.Error() != "image slow:1: context canceled" {
			t.Errorf("first caller: %v, want image slow:1: context canceled", err)
		}
		synctest.Wait()
		if pullCtx.Err() != nil {
			t.Fatal("the pull stopped while a caller still waits for it")
		}

		cancels[1]()
		if err := <-errs[1]; !errors.Is(err, context.Canceled) {
			t.Errorf("second caller: %v, want context.Canceled", err)
		}
		if pullCtx.Err() == nil {
			t.Error("the pull goes on after its last caller went")
		}

		// A new call starts a new pull.
		api.pull = nil
		if _, err := Ensure(t.Context(), api, req, nil); err != nil {
			t.Fatal(err)
		}
		if pulls, _ := api.counts(); pulls != 2 {
			t.Errorf("%d pulls, want 2", pulls)
		}
	})
}

func TestRepository(t *testing.T) {
	for _, tc := range []struct{ stack, service, want string }{
		{"shop", "api", "harness/shop-api"},
		{"My Stack", "API__v2.", "harness/my-stack-api-v2"},
		{"", "db", "harness/db"},
		{"", "", "harness/image"},
		{"--", "ü", "harness/image"},
	} {
		if got := repository(tc.stack, tc.service); got != tc.want {
			t.Errorf("repository(%q, %q) = %q, want %q", tc.stack, tc.service, got, tc.want)
		}
	}
}
