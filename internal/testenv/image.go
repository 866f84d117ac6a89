package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// StaticBinary builds the main package pkg (an import path, or a directory such as
// "./testserver") with CGO_ENABLED=0, so that it runs in an image FROM scratch, and returns
// the path of the binary, in a directory of t's that is removed when t ends. buildFlags go to
// go build as they are, such as "-ldflags=-X main.version=v1".
func StaticBinary(t testing.TB, pkg string, buildFlags ...string) string {
	t.Helper()
	return goBuild(t, "build", path.Base(pkg), pkg, buildFlags)
}

// StaticTestBinary builds the test binary of package pkg (go test -c) with CGO_ENABLED=0 and
// returns its path, as StaticBinary does. A test runs its own package's test binary in a
// container this way: pkg ".", buildFlags "-tags=integration" when the tests that the binary
// must hold need that tag.
func StaticTestBinary(t testing.TB, pkg string, buildFlags ...string) string {
	t.Helper()
	return goBuild(t, "test", path.Base(pkg)+".test", pkg, append([]string{"-c"}, buildFlags...))
}

// goBuild runs go VERB -o DIR/NAME FLAGS PKG with cgo off.
func goBuild(t testing.TB, verb, name, pkg string, flags []string) string {
	t.Helper()
	goCmd := Command(t, "go") // go test puts GOROOT/bin first in PATH
	if name == "." || name == ".test" || name == "" {
		name = "pkg" + strings.TrimPrefix(name, ".")
	}
	out := filepath.Join(t.TempDir(), name)
	args := append([]string{verb, "-o", out}, flags...)
	cmd := exec.Command(goCmd, append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s %s: %v\n%s", verb, pkg, err, msg)
	}
	return out
}

// DockerImage builds the image tag FROM scratch on the engine at host (as Docker returns it)
// through the Engine API: files maps a path in the image to a file of this host (its mode is
// kept), entrypoint is the image's ENTRYPOINT (nil: none, and no CMD either). The image is
// removed when t ends. The legacy builder builds it: nothing is pulled; and without its cache,
// whose intermediate images one test's cleanup would remove under another's build of the same
// files.
func DockerImage(t testing.TB, host, tag string, files map[string]string, entrypoint []string) {
	t.Helper()
	api, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { api.Close() })
	buildContext, err := scratchContext(files, entrypoint)
	if err != nil {
		t.Fatalf("image %s: %v", tag, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := api.ImageBuild(ctx, buildContext, client.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		NoCache:     true,
		Labels:      map[string]string{"harness.test": t.Name()},
	})
	if err != nil {
		t.Fatalf("build image %s: %v", tag, err)
	}
	defer res.Body.Close()
	// Registered before the build ends: a build that tagged the image and then failed
	// leaves it behind otherwise.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := api.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("cleanup: remove image %s: %v", tag, err)
		}
	})
	if err := buildOutcome(res.Body); err != nil {
		t.Fatalf("build image %s: %v", tag, err)
	}
}

// scratchContext returns a build context as a tar stream: a Dockerfile that copies each file
// into an image FROM scratch, and the files.
func scratchContext(files map[string]string, entrypoint []string) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dockerfile := []string{"FROM scratch"}
	targets := make([]string, 0, len(files))
	for target := range files {
		targets = append(targets, target)
	}
	slices.Sort(targets)
	for i, target := range targets {
		name := "file" + strconv.Itoa(i)
		if err := addFile(tw, name, files[target]); err != nil {
			return nil, err
		}
		j, err := json.Marshal([]string{name, target})
		if err != nil {
			return nil, err
		}
		dockerfile = append(dockerfile, "COPY "+string(j))
	}
	if entrypoint != nil {
		j, err := json.Marshal(entrypoint)
		if err != nil {
			return nil, err
		}
		dockerfile = append(dockerfile, "ENTRYPOINT "+string(j))
	}
	df := []byte(strings.Join(dockerfile, "\n") + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(df); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// addFile adds the host file src to tw as name, with its mode.
func addFile(tw *tar.Writer, name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), Size: fi.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// buildOutcome reads the JSON messages of a build to their end and returns the error one of
// them reports, if any.
func buildOutcome(r io.Reader) error {
	dec := json.NewDecoder(r)
	var log strings.Builder
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		err := dec.Decode(&msg)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read build output: %w", err)
		}
		log.WriteString(msg.Stream)
		if msg.Error != "" {
			return fmt.Errorf("%s\n%s", msg.Error, log.String())
		}
	}
}
