package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Router is a separate namespace joined to two LANs that forwards between their hosts only UDP
// to one port of one host and the packets that host sends from that port: the one door of a
// WireGuard endpoint behind a firewall.
//
// The hosts it joins route the other LAN's subnet through it, a route more specific than their
// default route (the root namespace), so their traffic to the other LAN takes the router
// whatever the root namespace forwards. Hosts of the from LAN that NewRouter was not given keep
// only their default route: they reach the other LAN as the root namespace lets them (with a
// running dockerd it drops forwarded traffic; without one it may forward it), but the replies of
// NewRouter's to host go back through the router, which drops them. The firewall is IPv4's: the LANs have
// no IPv6 addresses but link-local ones, which are never forwarded.
//
// Concurrency: the exported fields are immutable; Counters may be called from several
// goroutines.
type Router struct {
	// NS is the router's network namespace, harness-test-router-RANDOM. Its firewall (FORWARD
	// policy DROP, two ACCEPT rules and a final DROP rule) is its own: the root namespace's
	// sysctls and firewall are left as they are.
	NS *Namespace
	// ToAddr is the router's address on the LAN of the host it lets through to, FromAddr its
	// address on the LAN of the hosts it lets through from: the gateways of their routes to
	// the other LAN.
	ToAddr, FromAddr netip.Addr

	ip, iptables string
}

// Names of the router's interfaces inside its namespace.
const (
	routerToLink   = "eth-to"
	routerFromLink = "eth-from"
)

// NewRouter joins the LAN of to and the LAN of the hosts from (one LAN, not to's) with a router
// through which the hosts from reach to only with UDP to to.Addr:port, and to reaches them only
// with UDP from that port. Everything else between the two LANs is dropped, without a reply:
// TCP connections time out. Its namespace, links, addresses and the hosts' routes are removed
// when t ends; t may be the hosts' test or one of its subtests. A host can be behind one
// router per other LAN: a second route to that LAN's subnet fails. It needs iptables, besides
// what NewLAN needs.
func NewRouter(t testing.TB, to *Host, port uint16, from ...*Host) *Router {
	t.Helper()
	if len(from) == 0 {
		t.Fatal("testenv.NewRouter: no host to route from")
	}
	fromLAN := from[0].lan
	for _, h := range from {
		if h.lan != fromLAN {
			t.Fatalf("testenv.NewRouter: hosts %s and %s are on different LANs", from[0].Name, h.Name)
		}
	}
	if fromLAN == to.lan {
		t.Fatalf("testenv.NewRouter: %s and %s are on one LAN, %s", to.Name, from[0].Name, to.lan.Name)
	}
	r := &Router{ip: to.lan.tools.ip, iptables: Command(t, "iptables")}
	if err := r.create(t, to, port, from); err != nil {
		t.Fatalf("testenv.NewRouter to %s:%d: %v", to.Name, port, err)
	}
	t.Logf("router %s: %s on %s, %s on %s, forwards UDP to %s:%d only",
		r.NS.Name, r.ToAddr, to.lan.Name, r.FromAddr, fromLAN.Name, to.Addr, port)
	return r
}

// create makes the namespace, its legs on both LANs, its firewall and the hosts' routes,
// registering the cleanup of each as soon as it exists.
func (r *Router) create(t testing.TB, to *Host, port uint16, from []*Host) error {
	fromLAN := from[0].lan
	var err error
	if r.ToAddr, err = to.lan.nextAddr(); err != nil {
		return err
	}
	if r.FromAddr, err = fromLAN.nextAddr(); err != nil {
		return err
	}
	// A directory in each LAN's directory with the files of a host, so that the reaper of a
	// killed test removes the namespace and both links with the first LAN it reaps.
	id := fmt.Sprintf("%08x", rand.Uint32())
	toDir := filepath.Join(to.lan.Dir, "router-"+id)
	fromDir := filepath.Join(fromLAN.Dir, "router-"+id)
	for _, dir := range []string{toDir, fromDir} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		t.Cleanup(func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Errorf("cleanup router: %v", err)
			}
		})
	}
	r.NS = Netns(t, "router")
	if err := runCmd(r.ip, "-n", r.NS.Name, "link", "set", "lo", "up"); err != nil {
		return fmt.Errorf("configure lo: %w", err)
	}
	if err := plug(t, to.lan, r.NS.Name, toDir, fmt.Sprintf("hv%08x", rand.Uint32()), routerToLink, r.ToAddr); err != nil {
		return err
	}
	if err := plug(t, fromLAN, r.NS.Name, fromDir, fmt.Sprintf("hv%08x", rand.Uint32()), routerFromLink, r.FromAddr); err != nil {
		return err
	}

	// The firewall is complete before forwarding is on: nothing passes meanwhile. Stateless
	// rules, so conntrack plays no part.
	dport := strconv.Itoa(int(port))
	for _, rule := range [][]string{
		{"-P", "FORWARD", "DROP"},
		{"-A", "FORWARD", "-i", routerFromLink, "-o", routerToLink, "-p", "udp", "-d", to.Addr.String(), "--dport", dport, "-j", "ACCEPT"},
		{"-A", "FORWARD", "-i", routerToLink, "-o", routerFromLink, "-p", "udp", "-s", to.Addr.String(), "--sport", dport, "-j", "ACCEPT"},
		// Counts what is dropped (Counters); the policy stays DROP in case this rule is gone.
		{"-A", "FORWARD", "-j", "DROP"},
	} {
		if err := runCmd(append([]string{r.ip, "netns", "exec", r.NS.Name, r.iptables, "-w"}, rule...)...); err != nil {
			return fmt.Errorf("firewall: %w", err)
		}
	}
	// Inside the router's namespace only: /proc/sys/net is the namespace of the process that
	// opens it.
	if err := runCmd(r.ip, "netns", "exec", r.NS.Name, to.lan.tools.sh, "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward"); err != nil {
		return fmt.Errorf("enable forwarding: %w", err)
	}

	for _, h := range from {
		if err := r.route(t, h, to.lan.Subnet, r.FromAddr); err != nil {
			return err
		}
	}
	return r.route(t, to, fromLAN.Subnet, r.ToAddr)
}

// route makes h send its traffic to subnet through the router's address gw on h's LAN.
func (r *Router) route(t testing.TB, h *Host, subnet netip.Prefix, gw netip.Addr) error {
	argv := func(op string) []string {
		return []string{r.ip, "-n", h.NS.Name, "route", op, subnet.String(), "via", gw.String()}
	}
	if err := runCmd(argv("add")...); err != nil {
		return fmt.Errorf("route of host %s: %w", h.Name, err)
	}
	t.Cleanup(func() {
		// A host that is already gone took its routes with it.
		if _, err := os.Stat(filepath.Join("/run/netns", h.NS.Name)); err != nil {
			return
		}
		if err := runCmd(argv("del")...); err != nil {
			t.Errorf("cleanup router: %v", err)
		}
	})
	return nil
}

// Counters returns how many packets the router has forwarded (the UDP it lets through, both
// ways) and dropped (everything else between the LANs) since NewRouter.
func (r *Router) Counters(t testing.TB) (forwarded, dropped uint64) {
	t.Helper()
	out, err := exec.Command(r.ip, "netns", "exec", r.NS.Name, r.iptables, "-w", "-L", "FORWARD", "-n", "-v", "-x").Output()
	if err != nil {
		t.Fatalf("testenv: router counters: %v", err)
	}
	forwarded, dropped, err = parseCounters(out)
	if err != nil {
		t.Fatalf("testenv: router counters: %v\n%s", err, out)
	}
	return forwarded, dropped
}

// parseCounters reads `iptables -L FORWARD -n -v -x` of a router: a chain line, a header line
// ("pkts bytes target prot ..."), then two ACCEPT rules and one DROP rule, whose first column
// is the packet count.
func parseCounters(out []byte) (forwarded, dropped uint64, err error) {
	var accepts, drops int
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 3 || f[0] == "Chain" || f[0] == "pkts" {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %q: %w", s.Text(), err)
		}
		switch f[2] {
		case "ACCEPT":
			forwarded += n
			accepts++
		case "DROP":
			dropped += n
			drops++
		}
	}
	if accepts != 2 || drops != 1 {
		return 0, 0, errors.New("want 2 ACCEPT rules and 1 DROP rule in FORWARD")
	}
	return forwarded, dropped, nil
}
