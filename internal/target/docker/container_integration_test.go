//go:build integration

package docker_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/target"
)

// freePort returns a TCP port of 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitLine follows the log of h until a stdout line starts with prefix.
func waitLine(t *testing.T, ctx context.Context, tg target.Target, h target.Handle, prefix string) {
	t.Helper()
	rc, err := tg.Logs(ctx, h, target.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 0, 4096)
	for {
		b := make([]byte, 1024)
		n, err := rc.Read(b)
		buf = append(buf, b[:n]...)
		if strings.Contains(string(buf), " stdout "+prefix) {
			return
		}
		if err != nil {
			t.Fatalf("the log of %s ended without %q: %v", h, prefix, err)
		}
	}
}

// get returns the status and body of GET url, retrying while the connection is refused.
func get(t *testing.T, ctx context.Context, url string) (int, string) {
	t.Helper()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
}

// A published port answers on loopback; an exposed one is not published. The container gets
// Env and Dir.
func TestPortsEnvDir(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	s := &specs{e: e}
	spec := s.spec(t, e.serverImage(t))
	port := freePort(t)
	spec.Container.Ports = []target.Port{
		{Target: 8080, Published: port, HostIP: "127.0.0.1"},
		{Target: 9090, Protocol: "udp"},
	}
	spec.Env = []string{"GREETING=hello world"}
	spec.Dir = "/tmp"
	h := start(t, ctx, tg, spec)
	waitLine(t, ctx, tg, h, "listening on")

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if code, body := get(t, ctx, base+"/health"); code != 200 || body != "ok" {
		t.Errorf("GET /health = %d %q, want 200 ok", code, body)
	}
	if _, body := get(t, ctx, base+"/env"); !strings.Contains(body, "\nGREETING=hello world\n") {
		t.Errorf("GET /env lacks GREETING=hello world:\n%s", body)
	}
	c, err := e.api.ContainerInspect(ctx, h.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var exposed []string
	for p := range c.Container.Config.ExposedPorts {
		exposed = append(exposed, p.String())
	}
	var published []string
	for p, bs := range c.Container.HostConfig.PortBindings {
		for _, b := range bs {
			published = append(published, fmt.Sprintf("%s:%s->%s", b.HostIP, b.HostPort, p))
		}
	}
	got := map[string]any{"exposed": sorted(exposed), "published": published, "dir": c.Container.Config.WorkingDir,
		"init": *c.Container.HostConfig.Init, "restart": string(c.Container.HostConfig.RestartPolicy.Name)}
	want := map[string]any{"exposed": []string{"8080/tcp", "9090/udp"}, "published": []string{fmt.Sprintf("127.0.0.1:%d->8080/tcp", port)},
		"dir": "/tmp", "init": true, "restart": "no"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("container (-want +got):\n%s", diff)
	}
	st, err := tg.Inspect(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || st.PID <= 0 || st.IP == "" || st.StartedAt.IsZero() || st.Container != h.ID {
		t.Errorf("Inspect = %+v, want running with a PID, an IP, a start time and the container ID", st)
	}
}

// A named volume is created with the stack's label, and used as it is the next time.
func TestNamedVolume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	s := &specs{e: e}
	spec := s.spec(t, e.serverImage(t))
	name := "harness-test-data-" + e.stack
	spec.Container.Mounts = []target.Mount{{Source: name, Target: "/data", Volume: true}}
	h := start(t, ctx, tg, spec)
	v, err := e.api.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		t.Fatalf("the volume: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"harness.stack": e.stack}, v.Volume.Labels); diff != "" {
		t.Errorf("volume labels (-want +got):\n%s", diff)
	}
	c, err := e.api.ContainerInspect(ctx, h.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for _, m := range c.Container.Mounts {
		mounts = append(mounts, string(m.Type)+":"+m.Name+":"+m.Destination)
	}
	if diff := cmp.Diff([]string{"volume:" + name + ":/data"}, mounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
}

// A Start that fails wraps ErrInvalidSpec when the spec is to blame, and leaves no container.
func TestStartFailsLeavingNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	s := &specs{e: e}
	image := e.serverImage(t)
	for _, tc := range []struct {
		name    string
		edit    func(*target.Spec)
		invalid bool
	}{
		{"no container", func(s *target.Spec) { s.Container = nil }, true},
		{"no image", func(s *target.Spec) { s.Container.Image = "" }, true},
		{"bad stop signal", func(s *target.Spec) { s.StopSignal = "SIGNOPE" }, true},
		{"bad protocol", func(s *target.Spec) { s.Container.Ports = []target.Port{{Target: 80, Protocol: "sctp2"}} }, true},
		{"relative bind", func(s *target.Spec) { s.Container.Mounts = []target.Mount{{Source: "data", Target: "/data"}} }, true},
		{"address without network", func(s *target.Spec) { s.Container.IP = "10.1.2.3" }, true},
		{"missing image", func(s *target.Spec) { s.Container.Image = "harness-test-missing:" + e.stack }, false},
		{"missing network", func(s *target.Spec) { s.Container.Network = "harness-test-missing-" + e.stack }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := s.spec(t, image)
			tc.edit(&spec)
			h, err := tg.Start(ctx, spec)
			if err == nil {
				t.Fatalf("Start: %s, no error", h)
			}
			if got := errorsIsInvalid(err); got != tc.invalid {
				t.Errorf("Start: %v: ErrInvalidSpec %v, want %v", err, got, tc.invalid)
			}
			if isNotFound(err) {
				t.Errorf("Start: %v: ErrNotFound, which is for handles", err)
			}
			list, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true,
				Filters: client.Filters{}.Add("label", "harness.stack="+e.stack, "harness.service="+spec.Service)})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Items) != 0 {
				t.Errorf("a failed Start left %d containers", len(list.Items))
			}
		})
	}
}

// With docker-init as the container's init, a program the image lacks is found missing
// only once the container runs: the init exits with status 127 and says why in the log.
func TestMissingProgram(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	s := &specs{e: e}
	spec := s.spec(t, e.serverImage(t))
	spec.Container.Entrypoint = []string{"/no-such-program"}
	h := start(t, ctx, tg, spec)
	exit, err := tg.Wait(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(target.Exit{Code: 127}, exit, cmpopts.IgnoreFields(target.Exit{}, "At")); diff != "" {
		t.Errorf("Wait (-want +got):\n%s", diff)
	}
	lines := logLines(t, tg, h)
	if len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "/no-such-program") || lines[len(lines)-1] != "harness exited with status 127" {
		t.Errorf("log does not name the missing program and the exit:\n%s", strings.Join(lines, "\n"))
	}
}

// The handle of another target or node, or a malformed one, names no container here, and
// the engine is not asked.
func TestHandleOfAnotherNodeOrTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	h := startServer(t, ctx, e, tg, e.serverImage(t))
	for _, other := range []target.Handle{
		{Target: "process", Node: h.Node, ID: h.ID},
		{Target: h.Target, Node: "elsewhere", ID: h.ID},
		{Target: h.Target, Node: h.Node, ID: h.ID[:12]},
		{Target: h.Target, Node: h.Node, ID: "harness-" + e.stack + "-svc1"},
	} {
		if _, err := tg.Inspect(ctx, other); !isNotFound(err) {
			t.Errorf("Inspect %s: %v, want ErrNotFound", other, err)
		}
	}
	if _, err := tg.Logs(ctx, target.Handle{Target: h.Target, Node: h.Node, ID: strings.Repeat("0", 64)}, target.LogOptions{}); !isNotFound(err) {
		t.Errorf("Logs of an unknown container: %v, want ErrNotFound", err)
	}
}
