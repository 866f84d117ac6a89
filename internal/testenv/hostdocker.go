package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A host's Docker engine (Host.Docker) is a dockerd of its own, with its own containerd,
// running in the host's network, UTS and mount namespaces, so that the ports its containers
// publish are on the host's address only and everything in the host reaches it at the default
// socket /var/run/docker.sock. Its pieces:
//
//   - The host's /run becomes private (privateRun): in the host's mount namespace, /run is a
//     bind mount of Host.Dir/run holding bind mounts of the machine's /run entries, but not
//     docker.sock, docker.pid, docker (the machine engine's exec root), containerd (a system
//     containerd's socket, which dockerd would use instead of starting its own) and netns.
//     dockerd keeps its defaults there: socket /run/docker.sock, exec root /run/docker, pid
//     file /run/docker.pid, all in Host.Dir/run on the real filesystem. Its data root is
//     Host.Dir/docker.
//   - dockerd runs in new PID and mount namespaces (unshare --pid --mount-proc) under docker-init
//     (tini) as their init: when that init dies, the kernel kills every process of the PID
//     namespace, containerd, its shims and the containers (which have network namespaces of their
//     own, out of reach of the host's cleanup) included, also when the test process was killed
//     and a later NewLAN reaps its hosts. The mounts of dockerd (overlay, netns files) live in its
//     mount namespace, and go with its last process.
//   - ip netns exec gave the host a /sys of its network namespace, without the cgroup
//     hierarchies: dockerd's mount namespace mounts the machine's again (cgroupMounts), and the
//     containers' cgroups are under /harness-test-NAME-RANDOM (the host's netns name) in each
//     hierarchy, removed after dockerd, or by the next Host.Docker on the machine when the test
//     process was killed.

// engineWait bounds how long Docker waits for a new engine to answer.
const engineWait = 60 * time.Second

// enginePath is the PATH of the engine and of the commands that prepare it: dockerd finds
// containerd, runc, docker-proxy and iptables there.
const enginePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// engineStopWait bounds how long the cleanup waits for dockerd to stop after SIGTERM, before
// it kills the engine's PID namespace. dockerd gives each container 10s and itself 15s.
const engineStopWait = 30 * time.Second

// privateRun makes the host's /run private: $1 (Host.Dir/run) is bound over it, with the
// machine's /run entries bound or copied into it, but for those listed in the case. Everything
// is prepared at $1 and moved over /run at once, so that sshd never misses /run/sshd or its
// config under /run/harness-test. The host's mount namespace is private (host.go), so none of
// these mounts reach the machine's.
const privateRun = `set -eu
run=$1
mount --bind "$run" "$run"
for p in /run/* /run/.[!.]* /run/..?*; do
	name=${p##*/}
	case $name in
	containerd | docker | docker.pid | docker.sock | netns) continue ;;
	esac
	if [ -L "$p" ]; then
		cp -P "$p" "$run/$name"
	elif [ -d "$p" ]; then
		mkdir "$run/$name"
		mount --rbind "$p" "$run/$name"
	elif [ -e "$p" ]; then
		: >"$run/$name"
		mount --bind "$p" "$run/$name"
	fi
done
mount --move "$run" /run
`

// dockerdScript is the start of dockerd, run by sh as docker-init's child in dockerd's own
// mount and PID namespaces; %[1]s are the cgroup mount commands, %[2]s the data root, %[3]s
// dockerd and %[4]s its config file, all quoted. The storage driver is overlay2 when an overlay
// mount works in the data root, vfs otherwise.
const dockerdScript = `set -eu
%[1]s
# The machine's systemd and system bus are not this engine's (firewalld, cgroup driver).
for d in /run/systemd /run/dbus; do
	if [ -d "$d" ]; then mount -t tmpfs -o mode=755 none "$d"; fi
done
probe=%[2]s/overlay-probe
rm -rf "$probe"
mkdir -p "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
driver=vfs
if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
	umount "$probe/merged"
	driver=overlay2
fi
rm -rf "$probe"
echo "harness-test: storage driver $driver"
exec %[3]s --config-file %[4]s --storage-driver "$driver"
`

// engines are the engines that Host.Docker started and whose test has not ended, by host.
var engines struct {
	sync.Mutex
	m map[*Host]*hostEngine
}

// hostEngine is the engine of one host; mu is held while it starts.
type hostEngine struct {
	mu   sync.Mutex
	host string // DOCKER_HOST; "" until it answers
}

// Docker starts a Docker engine of the host's own and returns its DOCKER_HOST for the test
// process, "unix://" + Dir + "/run/docker.sock". Inside the host it is the default engine:
// /var/run/docker.sock is its socket for every process of the host (Command, ssh sessions),
// since the host's /run becomes private (its entries are the machine's, bound, but for Docker's
// and containerd's). The engine runs in the host's network namespace: ports that containers
// publish are on the host's addresses, reached from the test process at Addr, and not on the
// machine's. Images are built on it with DockerImage(t, host, ...): nothing is pulled.
//
// The engine is a dockerd with its own containerd, data root in Dir/docker, storage driver
// overlay2 (vfs where overlay mounts do not work), in PID and mount namespaces of its own, so
// that its processes and containers all die with it. It answers when Docker returns; its log is
// Dir/dockerd.log, whose tail goes into the test log when the start or the test fails. When t
// ends, dockerd is stopped with SIGTERM (it stops the containers), and after 30s its PID
// namespace is killed; then the containers' cgroups are removed. t may be the host's test or a
// subtest. Calling Docker again while the engine runs returns the same engine.
//
// Path does not know the private /run: what the host creates under /run is in Dir/run, and its
// other entries are the machine's.
//
// It needs dockerd, containerd, runc, docker-init and iptables (the engine's NAT and port
// publishing rules are in the host's netns); missing ones stop the test as missing
// infrastructure does.
func (h *Host) Docker(t testing.TB) string {
	t.Helper()
	engines.Lock()
	if engines.m == nil {
		engines.m = map[*Host]*hostEngine{}
	}
	e := engines.m[h]
	if e == nil {
		e = &hostEngine{}
		engines.m[h] = e
		// Registered before the engine's cleanup, so it runs after the engine is stopped.
		t.Cleanup(func() {
			engines.Lock()
			delete(engines.m, h)
			engines.Unlock()
		})
	}
	engines.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.host != "" {
		return e.host
	}
	tl := engineTools{
		dockerd:    Command(t, "dockerd"),
		dockerInit: Command(t, "docker-init"),
		unshare:    h.lan.tools.unshare,
		nsenter:    h.lan.tools.nsenter,
		sh:         h.lan.tools.sh,
	}
	for _, name := range []string{"containerd", "containerd-shim-runc-v2", "runc", "docker-proxy", "iptables"} {
		Command(t, name)
	}
	cgroups, err := cgroupMounts()
	if err != nil {
		t.Fatalf("testenv: host %s: docker: %v", h.Name, err)
	}
	if len(cgroups) == 0 {
		missing(t, "docker on host %s: no cgroup hierarchy is mounted under /sys/fs/cgroup", h.Name)
	}
	sweepCgroups(t, cgroups)
	start := time.Now()
	host, err := h.startDocker(t, tl, cgroups)
	if err != nil {
		t.Fatalf("testenv: host %s: docker: %v\n%s", h.Name, err, h.dockerLogTail())
	}
	e.host = host
	t.Logf("host %s: docker engine at %s, %s, answers after %v", h.Name, host, h.engineInfo(host), time.Since(start).Round(time.Millisecond))
	return host
}

// engineTools are the absolute paths of the programs that start a host's engine.
type engineTools struct {
	dockerd, dockerInit, unshare, nsenter, sh string
}

// startDocker makes the host's /run private, starts dockerd and waits until it answers. The
// cleanup that stops it is registered before it starts.
func (h *Host) startDocker(t testing.TB, tl engineTools, cgroups []cgroupMount) (string, error) {
	run := filepath.Join(h.Dir, "run")
	data := filepath.Join(h.Dir, "docker")
	for _, dir := range []string{run, data} {
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	socket := filepath.Join(run, "docker.sock")
	// /run is made private once: an engine started again, after the test of the first one
	// ended, finds it so.
	marker := filepath.Join(h.Dir, "run-private")
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := h.Command(ctx, tl.sh, "-c", privateRun, "sh", run)
		cmd.Env = []string{"PATH=" + enginePath}
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("private /run: %w: %s", err, bytes.TrimSpace(out))
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return "", err
		}
	}
	// A pid file left by a killed engine names a pid that the new one, in a new PID namespace,
	// may have itself: dockerd would refuse to start.
	if err := os.Remove(filepath.Join(run, "docker.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}

	config, err := json.MarshalIndent(map[string]any{
		"data-root": data,
		"exec-root": "/run/docker",
		"pidfile":   "/run/docker.pid",
		"hosts":     []string{"unix:///run/docker.sock"},
		// The engine's ID comes from this key; the default, /etc/docker/key.json, is the
		// machine engine's.
		"deprecated-key-path": filepath.Join(h.Dir, "docker-key.json"),
		"cgroup-parent":       "/" + h.NS.Name,
		// The machine's systemd must not get the containers' cgroups.
		"exec-opts": []string{"native.cgroupdriver=cgroupfs"},
	}, "", "\t")
	if err != nil {
		return "", err
	}
	configFile := filepath.Join(h.Dir, "daemon.json")
	if err := os.WriteFile(configFile, append(config, '\n'), 0o644); err != nil {
		return "", err
	}
	var mounts []string
	for _, m := range cgroups {
		mounts = append(mounts, m.command())
	}
	script := fmt.Sprintf(dockerdScript, strings.Join(mounts, "\n"), shellQuote(data), shellQuote(tl.dockerd), shellQuote(configFile))
	scriptFile := filepath.Join(h.Dir, "dockerd.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		return "", err
	}
	logFile, err := os.OpenFile(filepath.Join(h.Dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer logFile.Close()

	// nsenter becomes unshare, whose child is docker-init, the init of dockerd's PID namespace;
	// docker-init runs the script, which becomes dockerd.
	cmd := exec.Command(tl.nsenter, "-t", strconv.Itoa(h.PID), "-n", "-m", "-u", "--wd=/", "--",
		tl.unshare, "--pid", "--fork", "--mount-proc", "--",
		tl.dockerInit, "--", tl.sh, scriptFile)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = []string{"PATH=" + enginePath, "HOME=/root"}
	// Its own session: a ^C of go test goes to the test, whose cleanup stops the engine.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	// exited is closed once unshare, and so the whole PID namespace, is gone.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host %s: %s", h.Name, h.dockerLogTail())
		}
		killed, err := stopEngine(cmd.Process.Pid, exited)
		if err != nil {
			t.Errorf("cleanup host %s: docker: %v", h.Name, err)
		} else if killed {
			t.Logf("host %s: docker engine killed: it did not stop within %v of SIGTERM", h.Name, engineStopWait)
		}
		for _, m := range cgroups {
			if err := removeCgroupTree(filepath.Join(m.dir, h.NS.Name)); err != nil {
				t.Errorf("cleanup host %s: docker: %v", h.Name, err)
			}
		}
	})

	deadline := time.Now().Add(engineWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := pingDocker(ctx, socket)
		cancel()
		if err == nil {
			return "unix://" + socket, nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("dockerd exited before answering: %v", waitErr)
		default:
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the engine does not answer at %s within %v: %w", socket, engineWait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopEngine stops the engine whose unshare process is pid: SIGTERM to docker-init, which
// passes it on to dockerd, and after engineStopWait SIGKILL to docker-init, which makes the
// kernel kill the rest of its PID namespace; killed says whether it came to that. exited is
// closed when unshare is reaped, that is once docker-init and so every process of the
// namespace is gone.
func stopEngine(pid int, exited <-chan struct{}) (killed bool, err error) {
	for _, child := range childPids(pid) {
		syscall.Kill(child, syscall.SIGTERM)
	}
	select {
	case <-exited:
		return false, nil
	case <-time.After(engineStopWait):
	}
	for _, child := range childPids(pid) {
		syscall.Kill(child, syscall.SIGKILL)
	}
	select {
	case <-exited:
		return true, nil
	case <-time.After(10 * time.Second):
		return true, fmt.Errorf("the engine's PID namespace (unshare pid %d) survives SIGKILL for 10s", pid)
	}
}

// childPids returns the processes whose parent is pid.
func childPids(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(string(stat[i+1:])); len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			pids = append(pids, child)
		}
	}
	return pids
}

// engineInfo describes the engine at host for the test log: version, storage driver, ID.
func (h *Host) engineInfo(host string) string {
	socket, _ := dockerSocket(host)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := dockerGet(ctx, socket, "/info")
	if err != nil {
		return err.Error()
	}
	var info struct{ ServerVersion, Driver, ID, Name string }
	if err := json.Unmarshal(body, &info); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("dockerd %s, storage driver %s, name %s, ID %s", info.ServerVersion, info.Driver, info.Name, info.ID)
}

// dockerLogTail returns the last lines of dockerd's log, for failure messages.
func (h *Host) dockerLogTail() string {
	name := filepath.Join(h.Dir, "dockerd.log")
	data, err := os.ReadFile(name)
	if err != nil {
		return err.Error()
	}
	lines := strings.SplitAfter(string(bytes.TrimRight(data, "\n")), "\n")
	lines = lines[max(0, len(lines)-40):]
	return fmt.Sprintf("--- %s (last %d lines)\n%s\n", name, len(lines), strings.Join(lines, ""))
}

// cgroupMount is a cgroup file system, or the tmpfs that holds cgroup v1 hierarchies, mounted
// at dir (/sys/fs/cgroup or below) in the test process's mount namespace.
type cgroupMount struct {
	dir, fstype, options string
}

// command returns the shell command that mounts m again at the same place.
func (m cgroupMount) command() string {
	if m.fstype == "tmpfs" {
		return "mount -t tmpfs -o mode=755 cgroup " + shellQuote(m.dir)
	}
	// The options of the superblock, as they are: a cgroup v1 hierarchy is mounted again only
	// with its own, and cgroup2 would apply different ones (nsdelegate) to the whole machine.
	return fmt.Sprintf("mkdir -p %[1]s && mount -t %[2]s -o %[3]s %[2]s %[1]s", shellQuote(m.dir), m.fstype, shellQuote(m.options))
}

// cgroupMounts returns the cgroup mounts of the test process, parents first: the tmpfs at
// /sys/fs/cgroup and the v1 hierarchies below it, or the cgroup2 file system at /sys/fs/cgroup.
func cgroupMounts() ([]cgroupMount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var mounts []cgroupMount
	for line := range strings.Lines(string(data)) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		pre, post, ok := strings.Cut(strings.TrimSpace(line), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		dir := unescapeMountinfo(f[4])
		if dir != "/sys/fs/cgroup" && !strings.HasPrefix(dir, "/sys/fs/cgroup/") {
			continue
		}
		switch {
		case g[0] == "tmpfs" && dir == "/sys/fs/cgroup", g[0] == "cgroup", g[0] == "cgroup2":
			mounts = append(mounts, cgroupMount{dir: dir, fstype: g[0], options: g[2]})
		}
	}
	return mounts, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of a mountinfo path.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// sweepCgroups removes the cgroups of host engines whose host is gone (the netns named like
// the cgroup no longer exists): those of test processes killed before their cleanup. Failures
// are logged: they are not the test's.
func sweepCgroups(t testing.TB, cgroups []cgroupMount) {
	t.Helper()
	for _, m := range cgroups {
		if m.fstype == "tmpfs" {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(m.dir, "harness-test-*"))
		for _, dir := range matches {
			if _, err := os.Stat(filepath.Join("/run/netns", filepath.Base(dir))); !errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err := removeCgroupTree(dir); err != nil {
				t.Logf("remove cgroups of a host that is gone: %v", err)
			}
		}
	}
}

// removeCgroupTree removes the cgroup dir and those below it, deepest first; cgroups are
// removed with rmdir, their files go with them. A cgroup that does not exist is no error.
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, removeCgroupTree(filepath.Join(dir, e.Name())))
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
