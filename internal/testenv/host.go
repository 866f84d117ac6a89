package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Host is a separate machine on a LAN: its own network namespace with one interface (eth0) on
// the LAN's bridge, its own hostname (UTS namespace), its own /root, /tmp and /run/wireguard
// (a mount namespace with bind mounts; the rest of the filesystem is shared), and its own
// OpenSSH sshd listening on Addr:22 that lets root in with the LAN's KeyFile. Processes are
// not isolated (no PID namespace): the test sees and signals them (Pids, Kill).
//
// Concurrency: the exported fields are immutable; every method may be called from several
// goroutines.
type Host struct {
	// Name is the host's name and hostname.
	Name string
	// NS is the host's network namespace, harness-test-NAME-RANDOM.
	NS *Namespace
	// Addr is the host's address on the LAN; sshd listens on Addr:22.
	Addr netip.Addr
	// User is the user the LAN's KeyFile logs in as: "root".
	User string
	// HostKey is sshd's public host key, "ssh-ed25519 AAAA...".
	HostKey string
	// Fingerprint is HostKey's fingerprint as ssh-keygen -l prints it, "SHA256:...".
	Fingerprint string
	// Dir is the host's directory on the real filesystem, outside the paths the host hides:
	// sshd's config, host key, authorized_keys, pid file and log (sshd.log), and the sources of
	// the host's private directories (see Path). It is removed when the test ends.
	Dir string
	// Link is the root namespace's end of the host's veth pair, a port of the LAN's bridge.
	Link string
	// PID is the pid of the host's sshd listener. It is also the process whose namespaces
	// Command enters.
	PID int

	lan *LAN
}

// privateDirs are the paths that a host hides behind its own directories, with the name of
// each one's source in Host.Dir. sshd resolves AuthorizedKeysFile per login inside the host, so
// none of sshd's files may live under these paths.
var privateDirs = []struct{ path, src string }{
	{"/root", "root"},
	{"/tmp", "tmp"},
	{"/run/wireguard", "wireguard"},
}

// sshdConfig is the sshd_config of a host; the %[n]s are the address, the host's directory.
const sshdConfig = `# sshd of a harness test host
Port 22
ListenAddress %[1]s
HostKey %[2]s/ssh_host_ed25519_key
AuthorizedKeysFile %[2]s/authorized_keys
PidFile %[2]s/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
ClientAliveInterval 5
LogLevel VERBOSE
PrintMotd no
# Tests open many sessions and connections at once (pools, parallel probes); the defaults
# (10 sessions per connection, random drops from 10 unauthenticated connections) make that
# flaky.
MaxSessions 100
MaxStartups 100
`

// launch is the shell that turns `ip netns exec` into a host: it runs in new mount and UTS
// namespaces (unshare), sets the hostname, binds the private directories and becomes sshd,
// so sshd's pid is the one exec.Cmd started. $1 is the name, $2 the host's directory, $3 sshd.
const launch = `set -e
hostname "$1"
mount --bind "$2/root" /root
mount --bind "$2/tmp" /tmp
mount --bind "$2/wireguard" /run/wireguard
exec "$3" -D -f "$2/sshd_config" -E "$2/sshd.log"
`

// Host adds a host named name (1-16 of [a-z0-9-]; it is also its hostname) to the LAN and
// returns it once its sshd accepts connections. Its sshd, its processes, namespace, link and
// directory are removed when t ends; t may be the LAN's test or one of its subtests. Host adds
// the host's key to KnownHosts.
func (l *LAN) Host(t testing.TB, name string) *Host {
	t.Helper()
	if !validNetnsName(name) {
		t.Fatalf("testenv.LAN.Host: name %q: want 1-16 of [a-z0-9-], starting with a letter or digit", name)
	}
	addr, err := l.nextAddr()
	if err != nil {
		t.Fatalf("testenv.LAN.Host %s: %v", name, err)
	}
	id := fmt.Sprintf("%08x", rand.Uint32())
	h := &Host{
		Name: name,
		Addr: addr,
		User: "root",
		Dir:  filepath.Join(l.Dir, name+"-"+id),
		Link: "hv" + id,
		lan:  l,
	}
	if err := os.Mkdir(h.Dir, 0o755); err != nil {
		t.Fatalf("testenv.LAN.Host %s: %v", name, err)
	}
	// Registered first, so it runs last: after sshd and the namespace are gone.
	t.Cleanup(func() {
		if err := os.RemoveAll(h.Dir); err != nil {
			t.Errorf("cleanup host %s: %v", name, err)
		}
	})
	h.NS = Netns(t, name)
	if err := h.link(t); err != nil {
		t.Fatalf("testenv.LAN.Host %s: %v", name, err)
	}
	if err := h.configure(); err != nil {
		t.Fatalf("testenv.LAN.Host %s: %v", name, err)
	}
	if err := h.start(t); err != nil {
		t.Fatalf("testenv.LAN.Host %s: %v\n%s", name, err, h.logTail())
	}
	if err := l.addKnownHost(h.Addr, h.HostKey); err != nil {
		t.Fatalf("testenv.LAN.Host %s: %v", name, err)
	}
	t.Logf("host %s: %s on %s, netns %s, sshd pid %d, dir %s", name, h.Addr, l.Name, h.NS.Name, h.PID, h.Dir)
	return h
}

// link connects the host's namespace to the bridge with a veth pair: eth0 with Addr inside,
// Link on the bridge outside; lo is up, and the default route goes through the gateway.
func (h *Host) link(t testing.TB) error {
	ip, ns := h.lan.tools.ip, h.NS.Name
	if err := plug(t, h.lan, ns, h.Dir, h.Link, "eth0", h.Addr); err != nil {
		return err
	}
	for _, argv := range [][]string{
		{ip, "-n", ns, "link", "set", "lo", "up"},
		{ip, "-n", ns, "route", "add", "default", "via", h.lan.Gateway.String()},
	} {
		if err := runCmd(argv...); err != nil {
			return fmt.Errorf("configure link: %w", err)
		}
	}
	return nil
}

// plug connects the namespace ns to lan's bridge with a veth pair, up: inside with addr in
// the namespace, link on the bridge. dir gets the names that the reaper of a killed test
// reads (netns, link), before anything exists. The pair is deleted when t ends.
func plug(t testing.TB, lan *LAN, ns, dir, link, inside string, addr netip.Addr) error {
	ip := lan.tools.ip
	if err := os.WriteFile(filepath.Join(dir, "netns"), []byte(ns+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "link"), []byte(link+"\n"), 0o644); err != nil {
		return err
	}
	if err := runCmd(ip, "link", "add", link, "type", "veth", "peer", "name", inside, "netns", ns); err != nil {
		return fmt.Errorf("create link: %w", err)
	}
	// Deleting one end deletes the pair; the namespace's cleanup would too, but asynchronously.
	t.Cleanup(func() {
		if err := runCmd(ip, "link", "delete", link); err != nil {
			t.Errorf("cleanup link %s: %v", link, err)
		}
	})
	prefix := netip.PrefixFrom(addr, lan.Subnet.Bits()).String()
	for _, argv := range [][]string{
		{ip, "link", "set", link, "master", lan.Name, "up"},
		{ip, "-n", ns, "addr", "add", prefix, "dev", inside},
		{ip, "-n", ns, "link", "set", inside, "up"},
	} {
		if err := runCmd(argv...); err != nil {
			return fmt.Errorf("configure link: %w", err)
		}
	}
	return nil
}

// configure writes sshd's host key, authorized_keys and config, and the private directories.
func (h *Host) configure() error {
	key := filepath.Join(h.Dir, "ssh_host_ed25519_key")
	if err := runCmd(h.lan.tools.sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", "root@"+h.Name, "-f", key); err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	if f := strings.Fields(string(pub)); len(f) >= 2 {
		h.HostKey = f[0] + " " + f[1]
	}
	// "256 SHA256:... root@NAME (ED25519)"
	out, err := exec.Command(h.lan.tools.sshKeygen, "-l", "-f", key+".pub").Output()
	if err != nil {
		return fmt.Errorf("host key fingerprint: %w", err)
	}
	if f := strings.Fields(string(out)); len(f) >= 2 {
		h.Fingerprint = f[1]
	}
	clientKey, err := os.ReadFile(h.lan.KeyFile + ".pub")
	if err != nil {
		return fmt.Errorf("authorized_keys: %w", err)
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "authorized_keys"), clientKey, 0o600); err != nil {
		return fmt.Errorf("authorized_keys: %w", err)
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "sshd_config"), fmt.Appendf(nil, sshdConfig, h.Addr, h.Dir), 0o644); err != nil {
		return fmt.Errorf("sshd config: %w", err)
	}
	modes := map[string]os.FileMode{"root": 0o700, "tmp": 0o1777, "wireguard": 0o700}
	for _, d := range privateDirs {
		src := filepath.Join(h.Dir, d.src)
		// Chmod after Mkdir: the umask would clear /tmp's sticky, world-writable bits.
		if err := os.Mkdir(src, 0o700); err != nil {
			return fmt.Errorf("private dir: %w", err)
		}
		if err := os.Chmod(src, modes[d.src]); err != nil {
			return fmt.Errorf("private dir: %w", err)
		}
	}
	// Mount points on the real filesystem: /run/wireguard for the bind, and Debian's
	// privilege separation directory, which sshd refuses to start without. Both are left in
	// place: another host may be using them, and the system's sshd and wg use them too.
	for _, dir := range []string{"/run/wireguard", "/run/sshd"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("sshd: %w", err)
		}
	}
	return nil
}

// start starts sshd inside the host and waits until it sends its banner on Addr:22.
func (h *Host) start(t testing.TB) error {
	tl := h.lan.tools
	// launch.log gets what goes wrong before sshd's own log is open (hostname, mount).
	logFile, err := os.OpenFile(filepath.Join(h.Dir, "launch.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(tl.ip, "netns", "exec", h.NS.Name,
		tl.unshare, "--mount", "--uts", "--propagation", "private",
		tl.sh, "-c", launch, "sh", h.Name, h.Dir, tl.sshd)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	h.PID = cmd.Process.Pid
	// exited is closed once sshd is reaped, with its error in waitErr.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host %s: %s", h.Name, h.logTail())
		}
		if err := killNetns(h.NS.Name, 10*time.Second); err != nil {
			t.Errorf("cleanup host %s: %v", h.Name, err)
		}
		// The listener is this process's child: it is reaped here, the others by init.
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("cleanup host %s: sshd (pid %d) still not reaped after 10s", h.Name, h.PID)
		}
	})
	if err := h.awaitBanner(exited, 10*time.Second); err != nil {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited before accepting connections: %v", waitErr)
		default:
			return err
		}
	}
	return nil
}

// awaitBanner connects to Addr:22 from the root namespace until sshd sends "SSH-2.0", exited
// is closed (nil: never), or timeout passes.
func (h *Host) awaitBanner(exited <-chan struct{}, timeout time.Duration) error {
	target := netip.AddrPortFrom(h.Addr, 22).String()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("sshd exited")
		default:
		}
		last = readBanner(target, time.Second)
		if last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("sshd does not answer on %s within %v: %w", target, timeout, last)
}

// readBanner connects to target and reads the SSH protocol version line.
func readBanner(target string, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", target, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read banner: %w", err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("banner %q, want SSH-2.0-", strings.TrimSpace(line))
	}
	return nil
}

// logTail returns the last lines of the launcher's and sshd's logs, for failure messages.
func (h *Host) logTail() string {
	var b strings.Builder
	for _, name := range []string{"launch.log", "sshd.log"} {
		data, err := os.ReadFile(filepath.Join(h.Dir, name))
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", name, err)
			continue
		}
		lines := strings.SplitAfter(string(bytes.TrimRight(data, "\n")), "\n")
		lines = lines[max(0, len(lines)-30):]
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", filepath.Join(h.Dir, name), len(lines), strings.Join(lines, ""))
	}
	return b.String()
}

// Command returns a command that runs argv inside the host, as root: in its network, mount
// and UTS namespaces (nsenter into sshd's), so it sees the host's /root and /tmp, with / as
// working directory. nsenter execs argv in place, so cancelling ctx kills argv itself.
// Programs of the test's own /tmp (go test's binaries) are hidden there: copy them to a
// host path first (Path).
func (h *Host) Command(ctx context.Context, argv ...string) *exec.Cmd {
	args := append([]string{"-t", strconv.Itoa(h.PID), "-n", "-m", "-u", "--wd=/", "--"}, argv...)
	cmd := exec.CommandContext(ctx, h.lan.tools.nsenter, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Path returns where the host's path p (absolute) lives on the real filesystem: under Dir for
// /root, /tmp, /run/wireguard and what is below them, p itself elsewhere, since the host shares
// the rest of the filesystem.
func (h *Host) Path(p string) string {
	p = path.Clean(p)
	for _, d := range privateDirs {
		if rest, ok := strings.CutPrefix(p, d.path); ok && (rest == "" || rest[0] == '/') {
			return filepath.Join(h.Dir, d.src, rest)
		}
	}
	return p
}

// SetSSHD sets the sshd_config keyword key of the host to value (replacing the line that sets
// it, or adding one) and makes sshd read its configuration again (SIGHUP: it restarts, keeping
// its PID); it returns once sshd listens again. Connections that are open keep their settings.
func (h *Host) SetSSHD(t testing.TB, key, value string) {
	t.Helper()
	path := filepath.Join(h.Dir, "sshd_config")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testenv: sshd config of %s: %v", h.Name, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	set := key + " " + value
	i := slices.IndexFunc(lines, func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 0 && strings.EqualFold(f[0], key)
	})
	if i >= 0 {
		lines[i] = set
	} else {
		lines = append(lines, set)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatalf("testenv: sshd config of %s: %v", h.Name, err)
	}
	listening := func() int {
		log, _ := os.ReadFile(filepath.Join(h.Dir, "sshd.log"))
		return strings.Count(string(log), "Server listening")
	}
	before := listening()
	if err := syscall.Kill(h.PID, syscall.SIGHUP); err != nil {
		t.Fatalf("testenv: reload sshd of %s: %v", h.Name, err)
	}
	for deadline := time.Now().Add(10 * time.Second); listening() <= before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("testenv: sshd of %s does not listen again after SIGHUP:\n%s", h.Name, h.logTail())
		}
	}
	if err := h.awaitBanner(nil, 10*time.Second); err != nil {
		t.Fatalf("testenv: sshd of %s after SIGHUP: %v\n%s", h.Name, err, h.logTail())
	}
}

// Cut takes the host off the LAN by setting its link on the bridge down: nothing reaches it
// and nothing leaves it, and established TCP connections stall without a reset, as when a
// cable is pulled. Restore undoes it.
func (h *Host) Cut(t testing.TB) {
	t.Helper()
	if err := runCmd(h.lan.tools.ip, "link", "set", h.Link, "down"); err != nil {
		t.Fatalf("testenv: cut host %s: %v", h.Name, err)
	}
}

// Restore puts the host back on the LAN after Cut, and returns once the host's sshd answers
// again on Addr:22 from the root namespace, so that the test's next connection does not race
// the link coming up.
func (h *Host) Restore(t testing.TB) {
	t.Helper()
	if err := h.restore(); err != nil {
		t.Fatalf("testenv: restore host %s: %v\n%s", h.Name, err, h.logTail())
	}
}

func (h *Host) restore() error {
	ip, ns := h.lan.tools.ip, h.NS.Name
	if err := runCmd(ip, "link", "set", h.Link, "up"); err != nil {
		return err
	}
	// The kernel applies carrier changes asynchronously (linkwatch): until both ends have it,
	// packets are still dropped.
	deadline := time.Now().Add(10 * time.Second)
	for {
		root, _ := exec.Command(ip, "-o", "link", "show", h.Link).Output()
		inside, _ := exec.Command(ip, "-n", ns, "-o", "link", "show", "eth0").Output()
		if bytes.Contains(root, []byte("LOWER_UP")) && bytes.Contains(inside, []byte("LOWER_UP")) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no carrier 10s after link up:\n%s%s", root, inside)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Address resolution that ran during the cut ends in failure some seconds later and fails
	// the packets queued on it with "no route to host": start afresh on both sides.
	if err := runCmd(ip, "neigh", "flush", "dev", h.lan.Name, "to", h.Addr.String()); err != nil {
		return err
	}
	if err := runCmd(ip, "-n", ns, "neigh", "flush", "dev", "eth0"); err != nil {
		return err
	}
	return h.awaitBanner(nil, 10*time.Second)
}

// Pids returns, in pid order, every process in the host's network namespace but its sshd
// listener: the sessions' sshd processes, what they run, what Command runs.
func (h *Host) Pids(t testing.TB) []int {
	t.Helper()
	pids, err := h.pids()
	if err != nil {
		t.Fatalf("testenv: host %s: %v", h.Name, err)
	}
	return pids
}

func (h *Host) pids() ([]int, error) {
	pids, err := netnsPids(h.NS.Name)
	if err != nil {
		return nil, err
	}
	out := pids[:0]
	for _, pid := range pids {
		if pid != h.PID {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Kill sends sig to the host's processes (Pids) whose command line, its arguments joined by
// spaces, contains match ("" matches all), and returns how many it signalled. The sshd
// listener is never signalled, so the host stays reachable; a process that exits meanwhile is
// not counted.
func (h *Host) Kill(t testing.TB, sig syscall.Signal, match string) int {
	t.Helper()
	pids, err := h.pids()
	if err != nil {
		t.Fatalf("testenv: host %s: %v", h.Name, err)
	}
	n := 0
	for _, pid := range pids {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")), match) {
			continue // gone meanwhile, or not a match
		}
		if err := syscall.Kill(pid, sig); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				continue
			}
			t.Fatalf("testenv: host %s: kill %d: %v", h.Name, pid, err)
		}
		n++
	}
	return n
}
