//go:build integration

package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/testenv"
)

// dockerStack is a stack of the e2e tests that runs containers: its name is unique, and when
// the test ends it is brought down and nothing labelled with it may be left on the engine.
type dockerStack struct {
	*stack
	name  string
	image string // the test server image: /server, a static Go HTTP server
	api   *client.Client
}

// newDockerStack makes a stack from yaml, in which NAME stands for the stack's name and IMAGE
// for the test server image, which has no entrypoint: each service names /server in its command.
func newDockerStack(t *testing.T, yaml string) *dockerStack {
	t.Helper()
	host := testenv.Docker(t)
	api, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	name := fmt.Sprintf("e2e-%d", time.Now().UnixNano()%1e9)
	image := "harness-e2e/server:" + name
	server := testenv.StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	testenv.DockerImage(t, host, image, map[string]string{"/server": server}, nil)
	d := &dockerStack{name: name, image: image, api: api}
	d.stack = newStack(t, d.expand(yaml))
	// Registered after newStack's cleanup, so it runs first: down, then check the engine.
	t.Cleanup(func() {
		d.run(nil, "down", "--volumes")
		if left := d.leftovers(); left != "" {
			t.Errorf("left on the engine after down: %s", left)
		}
	})
	return d
}

func (d *dockerStack) expand(yaml string) string {
	return strings.NewReplacer("NAME", d.name, "IMAGE", d.image).Replace(yaml)
}

// leftovers lists the containers and networks labelled with the stack.
func (d *dockerStack) leftovers() string {
	d.t.Helper()
	return stackLeftovers(d.t, d.api, d.name)
}

// stackLeftovers lists the containers and networks of api's engine labelled with stack.
func stackLeftovers(t *testing.T, api *client.Client, stack string) string {
	t.Helper()
	ctx := context.Background()
	label := client.Filters{}.Add("label", "harness.stack="+stack)
	var left []string
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs.Items {
		left = append(left, "container "+strings.Join(c.Names, ","))
	}
	ns, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: label})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns.Items {
		left = append(left, "network "+n.Name)
	}
	return strings.Join(left, "; ")
}

// get fetches url (a loopback or bridge address the test created) and returns the body.
func get(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body)
}

const mixedYAML = `version: "1.0"
name: NAME
services:
  web:
    type: docker
    image: IMAGE
    command: ["/server", "-listen", ":8080"]
    ports: ["18080:8080"]
    env: {GREETING: "${GREETING:-one}"}
    health_check: {http: "http://localhost:8080/health", interval: 1s, start_interval: 50ms}
  client:
    type: process
    binary: bash
    args: ["-c", "exec 3<>/dev/tcp/${web.ip}/${web.port}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3; echo; echo reached ${web.addr}; exec sleep 600"]
    dependencies: [{service: web, condition: healthy}]
`

func TestDockerMixedStack(t *testing.T) {
	d := newDockerStack(t, mixedYAML)
	d.must(0, "start")
	st := d.status()
	web := st["web"]
	if web.State != "running" || web.Health != "healthy" || len(web.ContainerID) != 64 {
		t.Fatalf("web: want running, healthy, with a container ID; got %+v", web)
	}
	ip, err := netip.ParseAddr(web.IP)
	if err != nil || ip.IsLoopback() {
		t.Fatalf("web's IP %q: want its address on the harness bridge", web.IP)
	}
	// The process reached the container at ${web.addr}: the bridge address, container port.
	waitLog(t, d.stack, "client", "reached "+web.IP+":8080")
	if r := d.must(0, "logs", "client"); !strings.Contains(r.stdout, "hello from") {
		t.Errorf("client's log lacks the answer of web:\n%s", r)
	}
	// exec runs inside the container: only the image has /server.
	if r := d.must(0, "exec", "web", "--", "/server", "-version"); !strings.Contains(r.stdout, "testserver") {
		t.Errorf("exec web -- /server -version: %s", r)
	}
	// "18080:8080" publishes the service on the host.
	if body := get(t, "http://127.0.0.1:18080/health"); strings.TrimSpace(body) != "ok" {
		t.Errorf("GET 127.0.0.1:18080/health: %q", body)
	}

	// The daemon dies; nothing is removed; the next start adopts the same container.
	d.killDaemon()
	d.must(0, "start")
	if got := d.status()["web"].ContainerID; got != web.ContainerID {
		t.Errorf("container after the daemon was killed: %s, want the same %s", got, web.ContainerID)
	}
	// A changed env recreates the container, with the new env.
	if r := d.run([]string{"GREETING=two"}, "start"); r.code != 0 {
		t.Fatalf("start with GREETING=two: %s", r)
	}
	if got := d.status()["web"].ContainerID; got == web.ContainerID {
		t.Errorf("container after its env changed: still %s, want a new one", got)
	}
	if env := get(t, "http://127.0.0.1:18080/env"); !strings.Contains(env, "GREETING=two") {
		t.Errorf("the recreated container's env lacks GREETING=two:\n%s", env)
	}

	// down leaves nothing labelled with the stack.
	d.must(0, "down")
	if left := d.leftovers(); left != "" {
		t.Errorf("left on the engine after down: %s", left)
	}
}

func TestDockerMissingImage(t *testing.T) {
	d := newDockerStack(t, `version: "1.0"
name: NAME
services:
  ghost:
    type: docker
    image: 127.0.0.1:1/nosuch/ghost:1
`)
	r := d.must(3, "start")
	if !strings.Contains(r.stdout+r.stderr, "127.0.0.1:1/nosuch/ghost:1") {
		t.Errorf("start does not name the image:\n%s", r)
	}
	if left := d.leftovers(); left != "" {
		t.Errorf("left on the engine after a failed start: %s", left)
	}
}

func TestDockerPortConflictInvalid(t *testing.T) {
	d := newDockerStack(t, `version: "1.0"
name: NAME
services:
  a: {type: docker, image: IMAGE, ports: ["18080:8080"]}
  b: {type: docker, image: IMAGE, ports: ["18080:8080"]}
`)
	r := d.must(2, "validate")
	if !strings.Contains(r.stdout+r.stderr, "host port 18080/tcp on local is already published by service \"a\"") {
		t.Errorf("validate does not name the conflict:\n%s", r)
	}
}

const builtYAML = `version: "1.0"
name: NAME
services:
  built:
    type: docker
    build: {context: ./ctx}
    command: ["-listen", ":8080"]
    volumes: ["NAME-data:/data"]
    health_check: {command: /server, args: ["-version"], interval: 1s, start_interval: 50ms}
  logged:
    type: docker
    image: IMAGE
    command: ["/server", "-listen", ":9090"]
    health_check: {log_line: "listening on", interval: 1s, start_interval: 50ms}
  blinker:
    type: docker
    image: IMAGE
    command: ["/server", "-version"]
    restart: {policy: always, backoff: {initial: 100ms, max: 200ms}}
`

// A built image, a named volume, checks inside the container and on its output, and logs -f
// of a container that exits and is restarted again and again.
func TestDockerBuildVolumeChecksLogs(t *testing.T) {
	d := newDockerStack(t, builtYAML)
	server := testenv.StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	bin, err := os.ReadFile(server)
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := filepath.Join(d.dir, "ctx")
	files := map[string]string{"Dockerfile": "FROM scratch\nCOPY server /server\nENTRYPOINT [\"/server\"]\n", "server": string(bin)}
	for name, content := range files {
		if err := os.MkdirAll(ctxDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d.must(0, "start")
	st := d.status()
	for _, name := range []string{"built", "logged"} {
		if st[name].State != "running" || st[name].Health != "healthy" {
			t.Errorf("%s: want running and healthy, got %+v", name, st[name])
		}
	}
	// The image of built is tagged harness/STACK-SERVICE:HASH.
	imgs, err := d.api.ImageList(context.Background(), client.ImageListOptions{Filters: client.Filters{}.Add("reference", "harness/"+d.name+"-built:*")})
	if err != nil || len(imgs.Items) != 1 {
		t.Errorf("images harness/%s-built:*: %d (%v), want 1", d.name, len(imgs.Items), err)
	}

	// logs -f follows blinker across its restarts: each run prints its version once.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, sc := d.background(ctx, "logs", "-f", "-n", "0", "blinker")
	runs := 0
	for runs < 3 && sc.Scan() {
		if strings.Contains(sc.Text(), "testserver dev") {
			runs++
		}
	}
	cancel()
	_ = cmd.Wait()
	if runs < 3 {
		t.Errorf("logs -f blinker: %d runs before it ended (%v), want 3", runs, sc.Err())
	}

	// down keeps the named volume; down --volumes removes it.
	volume := func() bool {
		_, err := d.api.VolumeInspect(context.Background(), d.name+"-data", client.VolumeInspectOptions{})
		return err == nil
	}
	d.must(0, "down")
	if !volume() {
		t.Errorf("down removed the named volume %s-data", d.name)
	}
	d.must(0, "down", "--volumes")
	if volume() {
		t.Errorf("down --volumes left the named volume %s-data", d.name)
	}
}
