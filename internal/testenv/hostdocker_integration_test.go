//go:build integration

package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// dockerHelperEnv selects what TestHelperHostDocker does in a child process.
const dockerHelperEnv = "HARNESS_TESTENV_DOCKER_HELPER"

// TestHelperHostDocker is the child process of these tests when dockerHelperEnv is set, and
// does nothing otherwise:
//
//	info      print "engine ID NAME" of the engine at the default socket, as a program of a
//	          host started by sshd or Command finds it (DOCKER_HOST unset)
//	killed    start a host with an engine running testserver, print its names (engineNames),
//	          then block until killed
func TestHelperHostDocker(t *testing.T) {
	switch mode := os.Getenv(dockerHelperEnv); mode {
	case "":
		return
	case "info":
		api, err := client.New() // the default host: unix:///var/run/docker.sock
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		info, err := api.Info(context.Background(), client.InfoOptions{})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Printf("engine %s %s\n", info.Info.ID, info.Info.Name)
		os.Exit(0)
	case "killed":
		lan := NewLAN(t, "dockerkill")
		h := lan.Host(t, "k")
		host := h.Docker(t)
		runTestserver(t, host, StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver"))
		n := engineNamesOf(t, h)
		js, _ := json.Marshal(n)
		fmt.Printf("engine names %s\n", js)
		select {}
	default:
		t.Fatalf("%s=%q: unknown mode", dockerHelperEnv, mode)
	}
}

// TestHostDocker runs testserver in a container on host a's own engine, publishing port 18080:
// it answers at a's address and nowhere else, the machine's engine does not know it, and every
// program of a (Command, an ssh session) reaches a's engine at the default socket.
func TestHostDocker(t *testing.T) {
	lan := NewLAN(t, "docker")
	a := lan.Host(t, "a")
	start := time.Now()
	host := a.Docker(t)
	t.Logf("a.Docker took %v", time.Since(start).Round(time.Millisecond))
	if a.Docker(t) != host {
		t.Error("a second a.Docker returned another engine")
	}
	bin := StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	c := runTestserver(t, host, bin)

	// The published port answers at a's address, from the root namespace across the bridge.
	url := fmt.Sprintf("http://%s:18080/", a.Addr)
	want := "hello from " + c.Config.Hostname
	if got, err := httpGetRetry(url, 10*time.Second); err != nil || strings.TrimSpace(got) != want {
		t.Errorf("GET %s: %q, %v; want %q", url, got, err, want)
	}
	// And not on the machine's own addresses.
	if got, err := httpGetRetry("http://127.0.0.1:18080/", 0); err == nil && strings.Contains(got, c.Config.Hostname) {
		t.Errorf("GET http://127.0.0.1:18080/ answers %q: the container's port is published on the machine", got)
	}

	// None of the engine's mounts (the host's /run, overlay, netns files) is the machine's.
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mountinfo)) {
		if strings.Contains(line, a.Dir) {
			t.Errorf("a mount of host a in the machine's mount namespace: %s", strings.TrimSpace(line))
		}
	}

	// The engine is not the machine's: another ID, a's hostname, and the machine's engine, if
	// one runs, does not know the container.
	hostInfo := engineInfoOf(t, host)
	if hostInfo.Name != "a" {
		t.Errorf("engine name %q, want a (the host's hostname)", hostInfo.Name)
	}
	if machine := os.Getenv("DOCKER_HOST"); machine == "" || machine == defaultDockerHost {
		if err := pingDocker(t.Context(), "/var/run/docker.sock"); err != nil {
			t.Logf("no machine engine answers at %s: %v", defaultDockerHost, err)
		} else {
			machineInfo := engineInfoOf(t, defaultDockerHost)
			if machineInfo.ID == hostInfo.ID {
				t.Errorf("a's engine has the machine engine's ID %s", hostInfo.ID)
			}
			api, err := client.New(client.WithHost(defaultDockerHost))
			if err != nil {
				t.Fatal(err)
			}
			defer api.Close()
			list, err := api.ContainerList(t.Context(), client.ContainerListOptions{All: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, mc := range list.Items {
				if mc.ID == c.ID {
					t.Errorf("the machine's engine lists a's container %s", c.ID)
				}
			}
			t.Logf("machine engine %s (%s) lists %d containers, none of them a's", machineInfo.ID, machineInfo.Name, len(list.Items))
		}
	}

	// Programs of a find a's engine at the default socket: run through Command, and started
	// by sshd.
	inHost := "/root/testenv.test"
	copyFile(t, must(os.Executable()), a.Path(inHost))
	wantLine := fmt.Sprintf("engine %s %s", hostInfo.ID, hostInfo.Name)
	cmd := a.Command(t.Context(), inHost, "-test.run=^TestHelperHostDocker$")
	cmd.Env = []string{dockerHelperEnv + "=info", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != wantLine {
		t.Errorf("client in a (Command): %v: %q, want %q", err, out, wantLine)
	}
	ssh := exec.CommandContext(t.Context(), Command(t, "ssh"),
		"-F", "/dev/null", "-i", lan.KeyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile="+lan.KnownHosts, "-o", "StrictHostKeyChecking=yes",
		"root@"+a.Addr.String(), dockerHelperEnv+"=info "+inHost+" -test.run=^TestHelperHostDocker$")
	if out, err := ssh.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != wantLine {
		t.Errorf("client in a (ssh): %v: %q, want %q", err, out, wantLine)
	}
	// The docker CLI and curl, when the machine has them, see the same engine.
	if docker, err := exec.LookPath("docker"); err == nil {
		cmd := a.Command(t.Context(), docker, "info", "--format", "{{.ID}} {{.Name}} {{.Driver}}")
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}
		out, err := cmd.CombinedOutput()
		if f := strings.Fields(string(out)); err != nil || len(f) != 3 || f[0] != hostInfo.ID || f[1] != "a" {
			t.Errorf("docker info in a: %v: %q, want ID %s, name a", err, out, hostInfo.ID)
		} else {
			t.Logf("docker info in a: %s", strings.TrimSpace(string(out)))
		}
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := a.Command(t.Context(), curl, "-sS", "--unix-socket", "/run/docker.sock", "http://x/_ping").CombinedOutput()
		if err != nil || string(out) != "OK" {
			t.Errorf("curl /_ping at a's /run/docker.sock: %v: %q", err, out)
		}
	}
	// The machine's /run is untouched: no socket of a's there.
	if fi, err := os.Stat("/run/docker.sock"); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			var hs syscall.Stat_t
			if syscall.Stat(strings.TrimPrefix(host, "unix://"), &hs) == nil && hs.Ino == st.Ino && hs.Dev == st.Dev {
				t.Error("the machine's /run/docker.sock is a's socket")
			}
		}
	}
}

// TestHostDockerCleanup checks that nothing of a host's engine remains, no process (dockerd,
// containerd, shim, container), mount or cgroup: after the test that started it, and after
// the test process was killed and a later NewLAN reaped its hosts.
func TestHostDockerCleanup(t *testing.T) {
	RequireRoot(t)
	for _, name := range []string{"dockerd", "containerd", "docker-init", "sshd", "ip", "unshare", "nsenter"} {
		Command(t, name)
	}
	bin := StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	t.Run("passed", func(t *testing.T) {
		var n engineNames
		t.Run("engine", func(t *testing.T) {
			lan := NewLAN(t, "dockerclean")
			h := lan.Host(t, "c")
			runTestserver(t, h.Docker(t), bin)
			n = engineNamesOf(t, h)
		})
		assertEngineGone(t, n)
	})
	t.Run("killed", func(t *testing.T) {
		self := must(os.Executable())
		cmd := exec.CommandContext(t.Context(), self, "-test.run=^TestHelperHostDocker$", "-test.v")
		cmd.Env = append(os.Environ(), dockerHelperEnv+"=killed")
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var n engineNames
		var lines []string
		for s := bufio.NewScanner(stdout); n.Netns == "" && s.Scan(); {
			lines = append(lines, s.Text())
			if js, ok := strings.CutPrefix(s.Text(), "engine names "); ok {
				if err := json.Unmarshal([]byte(js), &n); err != nil {
					t.Fatal(err)
				}
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if n.Netns == "" {
			t.Fatalf("the child printed no names:\n%s", strings.Join(lines, "\n"))
		}
		// The next LAN of any test kills the host's processes, and so the engine's PID
		// namespace; the next engine's start removes the cgroups, which the killed engine
		// could not.
		NewLAN(t, "reaper")
		left := slices.DeleteFunc(slices.Clone(n.Cgroups), func(dir string) bool { return !exists(dir) })
		if len(left) == 0 {
			t.Errorf("the killed engine left no cgroups: the test proves nothing about sweepCgroups")
		}
		cgroups, err := cgroupMounts()
		if err != nil {
			t.Fatal(err)
		}
		sweepCgroups(t, cgroups)
		assertEngineGone(t, n)
	})
}

// engineNames are what a host with an engine running a container leaves on the machine if its
// cleanup fails.
type engineNames struct {
	Netns, HostDir string
	// Procs are the engine's processes and the container's, as "PID STARTTIME".
	Procs   []string
	Cgroups []string
}

// engineNamesOf lists the processes of h (in its netns: dockerd, containerd, shims) and of its
// containers (in its cgroups), and the engine's cgroup directories.
func engineNamesOf(t testing.TB, h *Host) engineNames {
	t.Helper()
	n := engineNames{Netns: h.NS.Name, HostDir: h.Dir}
	pids, err := netnsPids(h.NS.Name)
	if err != nil {
		t.Fatal(err)
	}
	pids = append(pids, cgroupPids(h.NS.Name)...)
	var cmdlines []string
	for _, pid := range pids {
		if id, err := processID(pid); err == nil {
			n.Procs = append(n.Procs, strings.TrimSpace(id))
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			cmdlines = append(cmdlines, filepath.Base(strings.Fields(strings.ReplaceAll(string(b), "\x00", " ") + " ?")[0]))
		}
	}
	for _, want := range []string{"dockerd", "containerd", "containerd-shim-runc-v2", "docker-init", "testserver"} {
		if !slices.Contains(cmdlines, want) {
			t.Errorf("processes of host %s: %q, no %s", h.Name, cmdlines, want)
		}
	}
	cgroups, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cgroups {
		if dir := filepath.Join(m.dir, h.NS.Name); m.fstype != "tmpfs" && exists(dir) {
			n.Cgroups = append(n.Cgroups, dir)
		}
	}
	if len(n.Cgroups) == 0 {
		t.Errorf("host %s: no cgroup %s under %v", h.Name, h.NS.Name, cgroups)
	}
	t.Logf("host %s: processes %q, cgroups %q", h.Name, cmdlines, n.Cgroups)
	return n
}

// assertEngineGone fails the test unless nothing of n remains: it waits a few seconds for the
// processes, which the kernel kills asynchronously after their PID namespace's init.
func assertEngineGone(t testing.TB, n engineNames) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var alive []string
		for _, p := range n.Procs {
			pid, _ := strconv.Atoi(strings.Fields(p)[0])
			if id, err := processID(pid); err == nil && strings.TrimSpace(id) == p {
				alive = append(alive, p)
			}
		}
		if pids := cgroupPids(n.Netns); len(pids) > 0 {
			alive = append(alive, fmt.Sprintf("in cgroups %s: %v", n.Netns, pids))
		}
		if len(alive) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of the engine survive: %q", alive)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, dir := range append([]string{n.HostDir, "/run/netns/" + n.Netns}, n.Cgroups...) {
		if exists(dir) {
			t.Errorf("%s remains", dir)
		}
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mountinfo)) {
		if strings.Contains(line, runDir) || strings.Contains(line, n.Netns) {
			t.Errorf("mount remains: %s", strings.TrimSpace(line))
		}
	}
}

// cgroupPids returns the processes in the cgroups of the engine whose cgroup parent is name.
func cgroupPids(name string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if strings.Contains(string(b), ":/"+name+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// runTestserver runs bin, in an image FROM scratch built on the engine at host, as
// "testserver -listen :8080" with port 8080 published on 18080, and returns the container.
// It is removed when t ends.
func runTestserver(t testing.TB, host, bin string) container.InspectResponse {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	tag := "harness-test-hostdocker:" + suffix
	DockerImage(t, host, tag, map[string]string{"/testserver": bin}, []string{"/testserver"})
	api, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	port, _ := network.PortFrom(8080, network.TCP)
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "harness-test-hostdocker-" + suffix,
		Config: &container.Config{
			Image:        tag,
			Cmd:          []string{"-listen", ":8080"},
			ExposedPorts: network.PortSet{port: {}},
		},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{port: {{HostPort: "18080"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := api.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove container: %v", err)
		}
	})
	if _, err := api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	inspected, err := api.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return inspected.Container
}

// engineIdentity is what /info says about an engine.
type engineIdentity struct{ ID, Name, Driver string }

func engineInfoOf(t testing.TB, host string) engineIdentity {
	t.Helper()
	socket, err := dockerSocket(host)
	if err != nil {
		t.Fatal(err)
	}
	body, err := dockerGet(t.Context(), socket, "/info")
	if err != nil {
		t.Fatal(err)
	}
	var info engineIdentity
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// httpGetRetry GETs url until it answers 200 or within passes, and returns the body.
func httpGetRetry(url string, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body), nil
			}
			err = fmt.Errorf("%s: %v: %q", resp.Status, rerr, body)
		}
		if time.Now().After(deadline) {
			return "", err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
