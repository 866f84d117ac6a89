package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// runDir holds the directories of LANs and hosts. It is under /run and not under t.TempDir
// because every host hides /tmp behind a private one, and its sshd reads its config, host key
// and authorized_keys inside the host's mount namespace, per login.
const runDir = "/run/harness-test"

// LAN is a bridge in the root network namespace with a private IPv4 /24 of its own, on which
// hosts (LAN.Host) are separate machines with their own OpenSSH sshd. The test process is the
// controller: it reaches every host through the bridge, from Gateway.
//
// Concurrency: the exported fields are immutable after NewLAN; Host may be called from several
// goroutines (parallel subtests), and KnownHosts is rewritten atomically when a host is added,
// so a reader sees either the old or the new list.
type LAN struct {
	// Name is the bridge's interface name, "ht" and 8 random hex digits: unique across parallel
	// tests and test binaries, and under the 15 characters of an interface name.
	Name string
	// Subnet is a /24 under 10.0.0.0/8 that overlapped no route of this machine when the LAN
	// was created.
	Subnet netip.Prefix
	// Gateway is the root namespace's address on the bridge, the first of Subnet: the hosts'
	// default route, and the source of the controller's connections to them.
	Gateway netip.Addr
	// KeyFile is an ed25519 client private key (mode 0600, no passphrase) that every host of
	// this LAN authorises for root.
	KeyFile string
	// KnownHosts is a known_hosts file with one "ADDR ssh-ed25519 AAAA..." line per host of
	// this LAN, as OpenSSH and golang.org/x/crypto/ssh/knownhosts read it.
	KnownHosts string
	// Dir is the LAN's directory, /run/harness-test/NAME: the client key, known_hosts and one
	// directory per host. It is removed when the test ends.
	Dir string

	label string // the name given to NewLAN, for messages
	tools tools

	mu    sync.Mutex
	last  byte     // last octet of the last address handed out; the gateway has 1
	known []string // lines of KnownHosts
}

// tools are the absolute paths of the programs that LANs and hosts run.
type tools struct {
	ip, iptables, sshKeygen, sshd, unshare, nsenter, sh string
}

// NewLAN creates a LAN for the test: a bridge with a fresh subnet, an iptables rule that lets
// its hosts talk to each other, and a client key. Everything is removed when t ends. name says
// what the LAN is for in messages (1-16 of [a-z0-9-]). It needs root, ip, ssh-keygen, sshd,
// unshare and nsenter; missing ones stop the test as missing infrastructure does.
//
// It first removes the LANs of test processes that were killed before their cleanup ran.
func NewLAN(t testing.TB, name string) *LAN {
	t.Helper()
	if !validNetnsName(name) {
		t.Fatalf("testenv.NewLAN: name %q: want 1-16 of [a-z0-9-], starting with a letter or digit", name)
	}
	RequireRoot(t)
	l := &LAN{
		Name:  fmt.Sprintf("ht%08x", rand.Uint32()),
		label: name,
		tools: tools{
			ip:        Command(t, "ip"),
			sshKeygen: Command(t, "ssh-keygen"),
			sshd:      Command(t, "sshd"),
			unshare:   Command(t, "unshare"),
			nsenter:   Command(t, "nsenter"),
			sh:        Command(t, "sh"),
		},
		last: 1,
	}
	// iptables is optional: without it there is no firewall that could drop bridged traffic.
	if path, err := exec.LookPath("iptables"); err == nil {
		l.tools.iptables = path
	}
	l.Dir = filepath.Join(runDir, l.Name)
	l.KeyFile = filepath.Join(l.Dir, "id_ed25519")
	l.KnownHosts = filepath.Join(l.Dir, "known_hosts")
	if err := l.create(t); err != nil {
		t.Fatalf("testenv.NewLAN %s: %v", name, err)
	}
	t.Logf("LAN %s: bridge %s, subnet %s, dir %s", name, l.Name, l.Subnet, l.Dir)
	return l
}

// create makes the LAN's directory, bridge, subnet, firewall rule and key, registering the
// cleanup of each as soon as it exists, so that a failure half-way leaves nothing.
func (l *LAN) create(t testing.TB) error {
	unlock, err := lockRunDir()
	if err != nil {
		return err
	}
	// The lock covers the reaping of stale LANs and the choice of the subnet up to the moment
	// its route exists: a parallel NewLAN then sees the route and picks another one.
	defer unlock()
	reapStale(t, l.tools)

	if err := os.Mkdir(l.Dir, 0o700); err != nil {
		return fmt.Errorf("create dir: %w", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(l.Dir); err != nil {
			t.Errorf("cleanup LAN %s: %v", l.label, err)
		}
	})
	// The owner file tells a later NewLAN whether this LAN's test process still runs.
	owner, err := processID(os.Getpid())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "owner"), []byte(owner), 0o600); err != nil {
		return fmt.Errorf("write owner: %w", err)
	}

	if err := runCmd(l.tools.ip, "link", "add", l.Name, "type", "bridge"); err != nil {
		return fmt.Errorf("create bridge: %w", err)
	}
	t.Cleanup(func() {
		if err := runCmd(l.tools.ip, "link", "delete", l.Name); err != nil {
			t.Errorf("cleanup LAN %s: %v", l.label, err)
		}
	})
	// Up before the address: the kernel adds the subnet's route only on an up interface, and
	// that route is what keeps parallel LANs off this subnet.
	if err := runCmd(l.tools.ip, "link", "set", l.Name, "up"); err != nil {
		return fmt.Errorf("bridge up: %w", err)
	}
	routes, err := routedPrefixes(l.tools.ip)
	if err != nil {
		return err
	}
	l.Subnet, err = freeSubnet(routes, randomSubnet)
	if err != nil {
		return err
	}
	l.Gateway = l.Subnet.Addr().Next()
	gw := netip.PrefixFrom(l.Gateway, l.Subnet.Bits()).String()
	if err := runCmd(l.tools.ip, "addr", "add", gw, "dev", l.Name); err != nil {
		return fmt.Errorf("bridge address: %w", err)
	}
	unlock()

	// A running dockerd sets the FORWARD policy to DROP and makes bridged IPv4 go through
	// iptables: without this rule hosts could reach the gateway but not each other.
	if l.tools.iptables != "" {
		rule := func(op string) []string {
			return []string{l.tools.iptables, "-w", op, "FORWARD", "-i", l.Name, "-o", l.Name, "-j", "ACCEPT"}
		}
		if err := runCmd(rule("-I")...); err != nil {
			return fmt.Errorf("allow forwarding on the bridge: %w", err)
		}
		t.Cleanup(func() {
			if err := runCmd(rule("-D")...); err != nil {
				t.Errorf("cleanup LAN %s: %v", l.label, err)
			}
		})
	}

	if err := runCmd(l.tools.sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", "harness-test@"+l.Name, "-f", l.KeyFile); err != nil {
		return fmt.Errorf("client key: %w", err)
	}
	if err := os.WriteFile(l.KnownHosts, nil, 0o644); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	return nil
}

// nextAddr hands out the next free address of the subnet.
func (l *LAN) nextAddr() (netip.Addr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last >= 254 {
		return netip.Addr{}, errors.New("no address left on the LAN")
	}
	l.last++
	a := l.Subnet.Addr().As4()
	a[3] = l.last
	return netip.AddrFrom4(a), nil
}

// addKnownHost adds a host's line to KnownHosts. The file is replaced by a rename, so that a
// concurrent ssh reads a whole file.
func (l *LAN) addKnownHost(addr netip.Addr, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.known = append(l.known, addr.String()+" "+key)
	tmp := l.KnownHosts + ".new"
	if err := os.WriteFile(tmp, []byte(strings.Join(l.known, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	if err := os.Rename(tmp, l.KnownHosts); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	return nil
}

// lockRunDir takes the machine-wide lock of runDir, shared by parallel tests and test binaries.
func lockRunDir() (unlock func(), err error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", runDir, err)
	}
	f, err := os.OpenFile(filepath.Join(runDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", runDir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", runDir, err)
	}
	var once sync.Once
	return func() { once.Do(func() { f.Close() }) }, nil
}

// routedPrefixes returns the destinations of every IPv4 route of the root namespace, in every
// table, except default routes (which would overlap everything).
func routedPrefixes(ip string) ([]netip.Prefix, error) {
	out, err := exec.Command(ip, "-4", "-j", "route", "show", "table", "all").Output()
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return parseRoutes(out)
}

// parseRoutes reads the JSON of `ip -4 -j route show`: a "dst" is "default", a prefix or a
// single address.
func parseRoutes(js []byte) ([]netip.Prefix, error) {
	var routes []struct{ Dst string }
	if err := json.Unmarshal(bytes.TrimSpace(js), &routes); err != nil {
		return nil, fmt.Errorf("parse routes: %w", err)
	}
	var prefixes []netip.Prefix
	for _, r := range routes {
		switch {
		case r.Dst == "default" || r.Dst == "":
		case strings.Contains(r.Dst, "/"):
			p, err := netip.ParsePrefix(r.Dst)
			if err != nil {
				return nil, fmt.Errorf("parse routes: %w", err)
			}
			if p.Bits() > 0 {
				prefixes = append(prefixes, p)
			}
		default:
			a, err := netip.ParseAddr(r.Dst)
			if err != nil {
				return nil, fmt.Errorf("parse routes: %w", err)
			}
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return prefixes, nil
}

// randomSubnet returns a random /24 of 10.1.0.0-10.254.255.0: 10.0.x and 10.255.x are left to
// whatever else likes round numbers.
func randomSubnet() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), 0}), 24)
}

// freeSubnet returns the first of up to 100 candidates that overlaps none of used.
func freeSubnet(used []netip.Prefix, candidate func() netip.Prefix) (netip.Prefix, error) {
	for range 100 {
		p := candidate()
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /24 under 10.0.0.0/8 after 100 tries")
}

// runCmd runs argv and returns an error that carries its output, for the setup steps whose
// output matters only when they fail.
func runCmd(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
