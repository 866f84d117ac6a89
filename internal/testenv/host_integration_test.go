//go:build integration

package testenv_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/testenv"
)

// helperEnv selects what TestHelperHost does in a child process.
const helperEnv = "HARNESS_TESTENV_HOST_HELPER"

// TestHelperHost is the child process of these tests when helperEnv is set, and does nothing
// otherwise:
//
//	listen        listen on 127.0.0.1:0, print the port, answer every connection with $TOKEN
//	dial ADDR     connect to ADDR, print what arrives within a second; exit 1 if it cannot connect
//	lan fail      create a LAN with a host, print their names (namesPrefix), fail the test
//	lan block     the same, then block until killed
func TestHelperHost(t *testing.T) {
	mode := os.Getenv(helperEnv)
	switch {
	case mode == "":
		return
	case mode == "listen":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		for {
			conn, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			io.WriteString(conn, os.Getenv("TOKEN"))
			conn.Close()
		}
	case strings.HasPrefix(mode, "dial "):
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(mode, "dial "), 2*time.Second)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		got, _ := io.ReadAll(conn)
		fmt.Printf("%s", got)
		os.Exit(0)
	case strings.HasPrefix(mode, "lan "):
		lan := testenv.NewLAN(t, "child")
		h := lan.Host(t, "child")
		// A detached process of a session, which outlives it, must go too.
		if out, err := sshTo(t, lan, h, nil, "setsid sleep 1000 </dev/null >/dev/null 2>&1 &").CombinedOutput(); err != nil {
			fmt.Printf("ssh: %v: %s\n", err, out)
			os.Exit(1)
		}
		sleep := waitPids(t, h, func(cmdlines []string) bool { return slices.Contains(cmdlines, "sleep 1000") })
		printNames(namesOf(lan, h, sleep))
		if mode == "lan fail" {
			t.Fatal("failing on purpose: cleanup must still remove everything")
		}
		select {}
	default:
		t.Fatalf("%s=%q: unknown mode", helperEnv, mode)
	}
}

// TestHostSSH logs in to three hosts of a LAN with the real OpenSSH client, checking their
// host keys strictly against KnownHosts.
func TestHostSSH(t *testing.T) {
	t.Parallel()
	lan := testenv.NewLAN(t, "ssh")
	hosts := []*testenv.Host{lan.Host(t, "alpha"), lan.Host(t, "beta"), lan.Host(t, "gamma")}
	for _, h := range hosts {
		out, err := sshTo(t, lan, h, nil, "hostname; id -u").CombinedOutput()
		if err != nil {
			t.Fatalf("ssh %s: %v: %s", h.Addr, err, out)
		}
		if diff := cmp.Diff(h.Name+"\n0\n", string(out)); diff != "" {
			t.Errorf("ssh %s hostname; id -u (-want +got):\n%s", h.Addr, diff)
		}
		if !strings.HasPrefix(h.HostKey, "ssh-ed25519 AAAA") || !strings.HasPrefix(h.Fingerprint, "SHA256:") {
			t.Errorf("host %s: key %q, fingerprint %q", h.Name, h.HostKey, h.Fingerprint)
		}
	}
	// ssh-keygen -F finds every host by address, with the fingerprint Host reports.
	for _, h := range hosts {
		out, err := exec.Command(testenv.Command(t, "ssh-keygen"), "-l", "-F", h.Addr.String(), "-f", lan.KnownHosts).CombinedOutput()
		if err != nil || !strings.Contains(string(out), h.Fingerprint) {
			t.Errorf("ssh-keygen -lF %s: %v:\n%s\nwant %s", h.Addr, err, out, h.Fingerprint)
		}
	}
}

// TestHostIsolation shows that each host has its own network: a listener on 127.0.0.1 inside
// one host is reachable from that host only, while hosts reach each other's sshd on the LAN.
func TestHostIsolation(t *testing.T) {
	t.Parallel()
	lan := testenv.NewLAN(t, "iso")
	a, b := lan.Host(t, "a"), lan.Host(t, "b")
	binA, binB := installTestBinary(t, a), installTestBinary(t, b)
	token := fmt.Sprintf("token-%x", rand.Uint64())

	ctx, cancel := context.WithCancel(t.Context())
	listen := a.Command(ctx, binA, "-test.run=^TestHelperHost$")
	listen.Env = append(os.Environ(), helperEnv+"=listen", "TOKEN="+token)
	listen.Stderr = os.Stderr
	stdout, err := listen.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		listen.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("listener in %s: %v", a.Name, err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("listener in %s printed %q", a.Name, line)
	}
	local := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	dial := func(h *testenv.Host, bin, target string) (string, error) {
		cmd := h.Command(t.Context(), bin, "-test.run=^TestHelperHost$")
		cmd.Env = append(os.Environ(), helperEnv+"=dial "+target)
		out, err := cmd.Output()
		return string(out), err
	}
	if out, err := dial(a, binA, local); err != nil || !strings.HasPrefix(out, token) {
		t.Errorf("from %s to its own %s: %v: %q, want %q", a.Name, local, err, out, token)
	}
	// Refused, not any other failure: b's dialer did run, and found no listener.
	for _, target := range []string{local, net.JoinHostPort(a.Addr.String(), strconv.Itoa(port))} {
		if out, err := dial(b, binB, target); err == nil || !strings.Contains(out, "connection refused") {
			t.Errorf("from %s to %s: %v: %q, want connection refused", b.Name, target, err, out)
		}
	}
	// Hosts do reach each other on the LAN (the firewall rule of NewLAN): b sees a's sshd.
	if out, err := dial(b, binB, net.JoinHostPort(a.Addr.String(), "22")); err != nil || !strings.HasPrefix(out, "SSH-2.0-") {
		t.Errorf("from %s to %s:22: %v: %q, want an SSH banner", b.Name, a.Addr, err, out)
	}
	// The root namespace may have a listener of its own on that port: it must not be a's.
	if got := dialFromRoot(local); strings.Contains(got, token) {
		t.Errorf("from the root namespace to %s: got %q, a's listener", local, got)
	}
	if got := dialFromRoot(net.JoinHostPort(a.Addr.String(), strconv.Itoa(port))); got != "" {
		t.Errorf("from the root namespace to %s:%d: got %q, want no connection", a.Addr, port, got)
	}
}

// TestHostPrivatePaths writes to /tmp and /root/.harness of one host over SSH and finds the
// files at Path, not in another host and not on the real filesystem.
func TestHostPrivatePaths(t *testing.T) {
	t.Parallel()
	lan := testenv.NewLAN(t, "paths")
	a, b := lan.Host(t, "a"), lan.Host(t, "b")
	name := fmt.Sprintf("testenv-%x", rand.Uint64())
	files := []string{"/tmp/" + name, "/root/.harness/" + name}
	script := fmt.Sprintf("set -e; mkdir -p /root/.harness; echo %[1]s > %[2]s; echo %[1]s > %[3]s", a.Name, files[0], files[1])
	if out, err := sshTo(t, lan, a, nil, script).CombinedOutput(); err != nil {
		t.Fatalf("ssh %s: %v: %s", a.Name, err, out)
	}
	for _, f := range files {
		got, err := os.ReadFile(a.Path(f))
		if err != nil {
			t.Errorf("%s of %s: %v", f, a.Name, err)
		} else if diff := cmp.Diff(a.Name+"\n", string(got)); diff != "" {
			t.Errorf("%s of %s at %s (-want +got):\n%s", f, a.Name, a.Path(f), diff)
		}
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s on the real filesystem: %v, want it absent", f, err)
		}
		if _, err := os.Stat(b.Path(f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of %s: %v, want it absent", f, b.Name, err)
		}
		if out, err := sshTo(t, lan, b, nil, "test ! -e "+f).CombinedOutput(); err != nil {
			t.Errorf("%s exists in %s: %v: %s", f, b.Name, err, out)
		}
	}
	// Command sees the same private paths as SSH sessions.
	out, err := a.Command(t.Context(), "cat", files[1]).CombinedOutput()
	if err != nil || string(out) != a.Name+"\n" {
		t.Errorf("cat %s in %s: %v: %q", files[1], a.Name, err, out)
	}
}

// TestHostCut takes a host off the LAN for three seconds: new connections fail meanwhile, an
// idle session survives it, and new connections work again after Restore.
func TestHostCut(t *testing.T) {
	t.Parallel()
	lan := testenv.NewLAN(t, "cut")
	h := lan.Host(t, "cut")

	session := sshTo(t, lan, h, nil, "echo ready; read line; echo got $line")
	stdin, err := session.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := session.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	session.Stderr = &stderr
	if err := session.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { session.Process.Kill(); session.Wait() })
	lines := bufio.NewReader(stdout)
	if line, err := lines.ReadString('\n'); line != "ready\n" {
		t.Fatalf("session: %q, %v; stderr: %s", line, err, stderr.String())
	}

	h.Cut(t)
	cut := time.Now()
	if out, err := sshTo(t, lan, h, []string{"-o", "ConnectTimeout=2"}, "true").CombinedOutput(); err == nil {
		t.Errorf("ssh during the cut succeeded: %s", out)
	} else {
		t.Logf("ssh during the cut: %v: %s", err, bytes.TrimSpace(out))
	}
	time.Sleep(3*time.Second - time.Since(cut))
	h.Restore(t)

	if out, err := sshTo(t, lan, h, nil, "hostname").CombinedOutput(); err != nil || string(out) != h.Name+"\n" {
		t.Errorf("ssh after Restore: %v: %q", err, out)
	}
	io.WriteString(stdin, "ping\n")
	if line, err := lines.ReadString('\n'); line != "got ping\n" {
		t.Errorf("session opened before the cut: %q, %v; stderr: %s", line, err, stderr.String())
	}
}

// TestHostPidsKill finds a process that a session left behind and kills it.
func TestHostPidsKill(t *testing.T) {
	t.Parallel()
	lan := testenv.NewLAN(t, "kill")
	h := lan.Host(t, "kill")
	if out, err := sshTo(t, lan, h, nil, "setsid sleep 1000 </dev/null >/dev/null 2>&1 &").CombinedOutput(); err != nil {
		t.Fatalf("ssh: %v: %s", err, out)
	}
	// Once the session's own processes are gone, the sleep is all that is left.
	pid := waitPids(t, h, func(cmdlines []string) bool { return slices.Equal(cmdlines, []string{"sleep 1000"}) })
	if n := h.Kill(t, syscall.SIGKILL, "sleep 1000"); n != 1 {
		t.Errorf("Kill(SIGKILL, sleep 1000) = %d, want 1", n)
	}
	waitPids(t, h, func(cmdlines []string) bool { return len(cmdlines) == 0 })
	if n := h.Kill(t, syscall.SIGKILL, "sleep 1000"); n != 0 {
		t.Errorf("second Kill = %d, want 0", n)
	}
	// The host still answers: Kill spares the listener.
	if out, err := sshTo(t, lan, h, nil, "true").CombinedOutput(); err != nil {
		t.Errorf("ssh after killing pid %d: %v: %s", pid, err, out)
	}
}

// TestHostCleanup checks that nothing of a LAN and its host remains after the test that made
// them: one that passes, one that fails, and one that is killed (then the next NewLAN removes
// its leftovers).
func TestHostCleanup(t *testing.T) {
	// The children would skip for the same reasons, and their skip must not look like a leak.
	testenv.RequireRoot(t)
	for _, name := range []string{"ip", "sshd", "ssh", "ssh-keygen", "unshare", "nsenter"} {
		testenv.Command(t, name)
	}
	t.Run("passed", func(t *testing.T) {
		var n names
		t.Run("lan", func(t *testing.T) {
			lan := testenv.NewLAN(t, "cleanup")
			h := lan.Host(t, "cleanup")
			if out, err := sshTo(t, lan, h, nil, "setsid sleep 1000 </dev/null >/dev/null 2>&1 &").CombinedOutput(); err != nil {
				t.Fatalf("ssh: %v: %s", err, out)
			}
			n = namesOf(lan, h, waitPids(t, h, func(cmdlines []string) bool { return slices.Contains(cmdlines, "sleep 1000") }))
		})
		assertGone(t, n)
	})
	t.Run("failed", func(t *testing.T) {
		cmd := helper(t, "lan fail")
		out, err := cmd.Output()
		if err == nil {
			t.Fatalf("the failing child passed:\n%s", out)
		}
		n, ok := parseNames(out)
		if !ok {
			t.Fatalf("the child printed no names: %v\n%s", err, out)
		}
		assertGone(t, n)
	})
	t.Run("killed", func(t *testing.T) {
		cmd := helper(t, "lan block")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var n names
		ok := false
		for s := bufio.NewScanner(stdout); !ok && s.Scan(); {
			n, ok = parseNames(s.Bytes())
		}
		cmd.Process.Kill()
		cmd.Wait()
		if !ok {
			t.Fatal("the child printed no names")
		}
		// The next LAN of any test removes what the killed one left.
		testenv.NewLAN(t, "reaper")
		assertGone(t, n)
	})
}

// sshTo returns the real OpenSSH client running command on h as its user, with the LAN's key
// and strict host key checking against KnownHosts. opts come first: ssh keeps the first value
// of an option.
func sshTo(t testing.TB, lan *testenv.LAN, h *testenv.Host, opts []string, command string) *exec.Cmd {
	args := append(slices.Clone(opts),
		"-F", "/dev/null",
		"-i", lan.KeyFile,
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile="+lan.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10",
		h.User+"@"+h.Addr.String(), command)
	return exec.CommandContext(t.Context(), testenv.Command(t, "ssh"), args...)
}

// installTestBinary copies this test binary into h's /root, since go test keeps it under a
// /tmp that hosts do not see, and returns its path inside h.
func installTestBinary(t testing.TB, h *testenv.Host) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	const inHost = "/root/testenv.test"
	if err := os.WriteFile(h.Path(inHost), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return inHost
}

// dialFromRoot connects to target from the test process and returns what arrives within a
// second, "" when it cannot connect.
func dialFromRoot(target string) string {
	conn, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(time.Second))
	got, _ := io.ReadAll(conn)
	return string(got)
}

// waitPids polls h's processes until done accepts their command lines, and returns the pid
// of "sleep 1000" among them (0: none). Sessions end asynchronously after ssh returns.
func waitPids(t testing.TB, h *testenv.Host, done func(cmdlines []string) bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := h.Pids(t)
		var cmdlines []string
		for _, pid := range pids {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			cmdlines = append(cmdlines, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")))
		}
		if done(cmdlines) {
			if i := slices.Index(cmdlines, "sleep 1000"); i >= 0 {
				return pids[i]
			}
			return 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of %s: %q", h.Name, cmdlines)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// names are what a LAN with one host leaves on the machine if its cleanup fails.
type names struct {
	Bridge, Netns, Link, LANDir, HostDir string
	SSHD, Sleep                          int
}

const namesPrefix = "TESTENV-NAMES "

func namesOf(lan *testenv.LAN, h *testenv.Host, sleep int) names {
	return names{Bridge: lan.Name, Netns: h.NS.Name, Link: h.Link, LANDir: lan.Dir, HostDir: h.Dir, SSHD: h.PID, Sleep: sleep}
}

func printNames(n names) {
	b, _ := json.Marshal(n)
	fmt.Printf("%s%s\n", namesPrefix, b)
}

func parseNames(out []byte) (names, bool) {
	for line := range strings.Lines(string(out)) {
		if js, ok := strings.CutPrefix(line, namesPrefix); ok {
			var n names
			return n, json.Unmarshal([]byte(js), &n) == nil
		}
	}
	return names{}, false
}

// helper returns this test binary running TestHelperHost in mode.
func helper(t testing.TB, mode string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperHost$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	return cmd
}

// assertGone checks that no trace of n is left: namespace, links, firewall rule, directories
// and processes.
func assertGone(t testing.TB, n names) {
	t.Helper()
	if n.Bridge == "" || n.Netns == "" {
		t.Fatalf("incomplete names %+v", n)
	}
	ip := testenv.Command(t, "ip")
	if out, _ := exec.Command(ip, "netns", "list").Output(); strings.Contains(string(out), n.Netns) {
		t.Errorf("netns %s remains:\n%s", n.Netns, out)
	}
	for _, link := range []string{n.Bridge, n.Link} {
		if out, err := exec.Command(ip, "link", "show", link).CombinedOutput(); err == nil {
			t.Errorf("link %s remains:\n%s", link, out)
		}
	}
	if path, err := exec.LookPath("iptables"); err == nil {
		if out, _ := exec.Command(path, "-w", "-S", "FORWARD").Output(); strings.Contains(string(out), n.Bridge) {
			t.Errorf("firewall rule of %s remains:\n%s", n.Bridge, out)
		}
	}
	for _, dir := range []string{n.HostDir, n.LANDir} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want it removed", dir, err)
		}
	}
	// Killed processes that were not the test's children are reaped by init, a moment later.
	for _, pid := range []int{n.SSHD, n.Sleep} {
		deadline := time.Now().Add(5 * time.Second)
		for alive(pid, filepath.Base(n.HostDir)) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid, filepath.Base(n.HostDir)) {
			t.Errorf("process %d remains", pid)
		}
	}
}

// alive reports whether pid runs one of the commands of these tests (sshd with the host's
// config, sleep 1000), and not some other process that reused the pid.
func alive(pid int, hostDir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	cmdline := string(b)
	return err == nil && (strings.Contains(cmdline, hostDir) || cmdline == "sleep\x001000\x00")
}
