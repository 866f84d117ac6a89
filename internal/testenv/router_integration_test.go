//go:build integration

package testenv_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/testenv"
)

// routerHelperEnv selects what TestHelperRouter does in a child process.
const routerHelperEnv = "HARNESS_TESTENV_ROUTER_HELPER"

// The port the router lets through, as WireGuard's, and one it does not.
const (
	wgPort    = 51820
	otherPort = 51821
)

// TestHelperRouter is the child process of the router tests when routerHelperEnv is set, and
// does nothing otherwise:
//
//	udp-echo PORT...       listen on UDP :PORT for each PORT, print "ready", send every datagram back
//	udp-send ADDR PAYLOAD  send PAYLOAD to ADDR, print "FROM REPLY" of the reply within 2s; exit 1 without one
//	router block           create two LANs with a host each and a router, print their names, block
func TestHelperRouter(t *testing.T) {
	mode := os.Getenv(routerHelperEnv)
	args := strings.Fields(mode)
	switch {
	case mode == "":
		return
	case args[0] == "udp-echo":
		for _, port := range args[1:] {
			conn, err := net.ListenPacket("udp4", ":"+port)
			if err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
			go func() {
				buf := make([]byte, 1500)
				for {
					n, from, err := conn.ReadFrom(buf)
					if err != nil {
						os.Exit(1)
					}
					conn.WriteTo(buf[:n], from)
				}
			}()
		}
		fmt.Println("ready")
		select {}
	case args[0] == "udp-send" && len(args) == 3:
		from, reply, err := udpExchange(args[1], args[2])
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Printf("%s %s\n", from, reply)
		os.Exit(0)
	case mode == "router block":
		lanA, lanC := testenv.NewLAN(t, "child-from"), testenv.NewLAN(t, "child-to")
		a, c := lanA.Host(t, "a"), lanC.Host(t, "c")
		r := testenv.NewRouter(t, c, wgPort, a)
		n := routerNames{
			Router: r.NS.Name,
			LANs:   []names{namesOf(lanA, a, 0), namesOf(lanC, c, 0)},
			Links:  append(bridgePorts(t, lanA.Name), bridgePorts(t, lanC.Name)...),
		}
		b, _ := json.Marshal(n)
		fmt.Printf("%s%s\n", namesPrefix, b)
		select {}
	default:
		t.Fatalf("%s=%q: unknown mode", routerHelperEnv, mode)
	}
}

// TestRouter puts hosts a and b on one LAN and c on another, behind a router that lets only
// UDP to c's WireGuard port through, and its replies.
func TestRouter(t *testing.T) {
	t.Parallel()
	lanAB, lanC := testenv.NewLAN(t, "router-from"), testenv.NewLAN(t, "router-to")
	a, b, c := lanAB.Host(t, "a"), lanAB.Host(t, "b"), lanC.Host(t, "c")
	r := testenv.NewRouter(t, c, wgPort, a, b)
	bins := map[*testenv.Host]string{a: installTestBinary(t, a), b: installTestBinary(t, b), c: installTestBinary(t, c)}

	// c echoes on the port the router lets through and on one it does not.
	echo := c.Command(t.Context(), bins[c], "-test.run=^TestHelperRouter$")
	echo.Env = append(os.Environ(), fmt.Sprintf("%s=udp-echo %d %d", routerHelperEnv, wgPort, otherPort))
	echo.Stderr = os.Stderr
	stdout, err := echo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := echo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Process.Kill(); echo.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("echo server in %s: %q, %v", c.Name, line, err)
	}

	wg := netip.AddrPortFrom(c.Addr, wgPort).String()
	other := netip.AddrPortFrom(c.Addr, otherPort).String()
	// udpSend sends a fresh token from h to target and returns what h printed and the reply
	// it must print if the echo comes back from target.
	udpSend := func(h *testenv.Host, target string) (got, want string, err error) {
		token := fmt.Sprintf("%s-%x", h.Name, rand.Uint64())
		cmd := h.Command(t.Context(), bins[h], "-test.run=^TestHelperRouter$")
		cmd.Env = append(os.Environ(), routerHelperEnv+"=udp-send "+target+" "+token)
		out, err := cmd.Output()
		return string(out), target + " " + token + "\n", err
	}
	// tcpDial connects from h to target and returns the SSH banner it reads (TestHelperHost).
	tcpDial := func(h *testenv.Host, target string) (string, error) {
		cmd := h.Command(t.Context(), bins[h], "-test.run=^TestHelperHost$")
		cmd.Env = append(os.Environ(), helperEnv+"=dial "+target)
		out, err := cmd.Output()
		return string(out), err
	}
	type counters struct{ Forwarded, Dropped uint64 }
	count := func() counters {
		f, d := r.Counters(t)
		return counters{f, d}
	}

	// Through the router: one datagram each way, nothing dropped.
	for _, h := range []*testenv.Host{a, b} {
		before := count()
		got, want, err := udpSend(h, wg)
		if err != nil {
			t.Errorf("UDP from %s to %s: %v: %q", h.Name, wg, err, got)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UDP from %s to %s (-want +got):\n%s", h.Name, wg, diff)
		}
		if diff := cmp.Diff(counters{before.Forwarded + 2, before.Dropped}, count()); diff != "" {
			t.Errorf("counters after UDP from %s to %s (-want +got):\n%s", h.Name, wg, diff)
		}
	}

	// Nothing else passes, either way; all of it is dropped.
	before := count()
	if got, err := tcpDial(a, net.JoinHostPort(c.Addr.String(), "22")); err == nil || strings.HasPrefix(got, "SSH-2.0-") {
		t.Errorf("TCP from %s to %s:22: %v: %q, want no connection", a.Name, c.Addr, err, got)
	}
	if got, _, err := udpSend(a, other); err == nil {
		t.Errorf("UDP from %s to %s: %q, want no reply", a.Name, other, got)
	}
	if got, err := tcpDial(c, net.JoinHostPort(a.Addr.String(), "22")); err == nil || strings.HasPrefix(got, "SSH-2.0-") {
		t.Errorf("TCP from %s to %s:22: %v: %q, want no connection", c.Name, a.Addr, err, got)
	}
	// At least the TCP SYN from a, the datagram and the TCP SYN from c.
	if after := count(); after.Forwarded != before.Forwarded || after.Dropped < before.Dropped+3 {
		t.Errorf("counters after the blocked attempts: %+v, want forwarded %d and dropped at least %d",
			after, before.Forwarded, before.Dropped+3)
	}

	// The helpers that failed above work where nothing stands in their way: the echo server on
	// the other port answers the controller, and b reaches a's sshd on their LAN.
	if from, reply, err := udpExchange(other, "controller"); err != nil || from != other || reply != "controller" {
		t.Errorf("UDP from the controller to %s: %v: %q from %s", other, err, reply, from)
	}
	if got, err := tcpDial(b, net.JoinHostPort(a.Addr.String(), "22")); err != nil || !strings.HasPrefix(got, "SSH-2.0-") {
		t.Errorf("TCP from %s to %s:22: %v: %q, want an SSH banner", b.Name, a.Addr, err, got)
	}
	// The controller, on both bridges, still reaches every host.
	for _, h := range []*testenv.Host{a, b, c} {
		if got := dialFromRoot(net.JoinHostPort(h.Addr.String(), "22")); !strings.HasPrefix(got, "SSH-2.0-") {
			t.Errorf("TCP from the controller to %s:22: %q, want an SSH banner", h.Addr, got)
		}
	}
}

// TestRouterCleanup checks that nothing of a router is left after the test that made it, and
// that the next NewLAN removes the router of a killed test process with its LANs.
func TestRouterCleanup(t *testing.T) {
	// The children would skip for the same reasons, and their skip must not look like a leak.
	testenv.RequireRoot(t)
	for _, name := range []string{"ip", "iptables", "sshd", "ssh-keygen", "unshare", "nsenter"} {
		testenv.Command(t, name)
	}
	t.Run("passed", func(t *testing.T) {
		lanA, lanC := testenv.NewLAN(t, "cleanup-from"), testenv.NewLAN(t, "cleanup-to")
		a, c := lanA.Host(t, "a"), lanC.Host(t, "c")
		// Each host's route to the other LAN, which the router adds and removes.
		sides := []struct {
			h        *testenv.Host
			lan      *testenv.LAN
			toSubnet string
		}{{a, lanA, lanC.Subnet.String()}, {c, lanC, lanA.Subnet.String()}}
		route := func(h *testenv.Host, subnet string) string {
			out, err := exec.Command(testenv.Command(t, "ip"), "-n", h.NS.Name, "route", "show", "exact", subnet).Output()
			if err != nil {
				t.Fatalf("routes of %s: %v", h.Name, err)
			}
			return strings.TrimSpace(string(out))
		}
		n := routerNames{}
		t.Run("router", func(t *testing.T) {
			r := testenv.NewRouter(t, c, wgPort, a)
			n.Router = r.NS.Name
			for _, s := range sides {
				for _, l := range bridgePorts(t, s.lan.Name) {
					if l != s.h.Link {
						n.Links = append(n.Links, l)
					}
				}
				if route(s.h, s.toSubnet) == "" {
					t.Errorf("%s has no route to %s", s.h.Name, s.toSubnet)
				}
			}
		})
		if len(n.Links) != 2 {
			t.Fatalf("links of the router: %q, want 2", n.Links)
		}
		assertRouterGone(t, n)
		// Only the hosts are left on the bridges, with their own routes.
		for _, s := range sides {
			if diff := cmp.Diff([]string{s.h.Link}, bridgePorts(t, s.lan.Name)); diff != "" {
				t.Errorf("ports of %s (-want +got):\n%s", s.lan.Name, diff)
			}
			if got := route(s.h, s.toSubnet); got != "" {
				t.Errorf("route of %s to %s remains: %s", s.h.Name, s.toSubnet, got)
			}
		}
	})
	t.Run("killed", func(t *testing.T) {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperRouter$")
		cmd.Env = append(os.Environ(), routerHelperEnv+"=router block")
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var n routerNames
		for s := bufio.NewScanner(stdout); n.Router == "" && s.Scan(); {
			if js, ok := strings.CutPrefix(s.Text(), namesPrefix); ok {
				if err := json.Unmarshal([]byte(js), &n); err != nil {
					t.Errorf("names of the child: %v", err)
				}
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if n.Router == "" || len(n.LANs) != 2 || len(n.Links) != 4 {
			t.Fatalf("the child printed no or incomplete names: %+v", n)
		}
		// The next LAN of any test removes what the killed one left.
		testenv.NewLAN(t, "reaper")
		for _, lan := range n.LANs {
			assertGone(t, lan)
		}
		assertRouterGone(t, n)
	})
}

// routerNames are what a router leaves on the machine if its cleanup fails: its namespace and
// the links on the bridges (with those of the LANs' hosts), and the LANs with their host.
type routerNames struct {
	Router string
	Links  []string
	LANs   []names
}

// assertRouterGone checks that the router's namespace and the links of n are gone.
func assertRouterGone(t testing.TB, n routerNames) {
	t.Helper()
	if n.Router == "" {
		t.Fatalf("incomplete names %+v", n)
	}
	ip := testenv.Command(t, "ip")
	if out, _ := exec.Command(ip, "netns", "list").Output(); strings.Contains(string(out), n.Router) {
		t.Errorf("netns %s remains:\n%s", n.Router, out)
	}
	// The links inside the namespace go with it, and take their peers with them, a moment
	// later.
	for _, link := range n.Links {
		deadline := time.Now().Add(5 * time.Second)
		for exec.Command(ip, "link", "show", link).Run() == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if out, err := exec.Command(ip, "link", "show", link).CombinedOutput(); err == nil {
			t.Errorf("link %s remains:\n%s", link, out)
		}
	}
}

// bridgePorts returns the names of the links on bridge, sorted.
func bridgePorts(t testing.TB, bridge string) []string {
	t.Helper()
	out, err := exec.Command(testenv.Command(t, "ip"), "-j", "link", "show", "master", bridge).Output()
	if err != nil {
		t.Fatalf("ports of %s: %v", bridge, err)
	}
	var links []struct{ Ifname string }
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("ports of %s: %v: %s", bridge, err, out)
	}
	var ports []string
	for _, l := range links {
		ports = append(ports, l.Ifname)
	}
	slices.Sort(ports)
	return ports
}

// udpExchange sends payload to target from a fresh socket and returns the address and payload
// of the first datagram that comes back within 2 seconds.
func udpExchange(target, payload string) (from, reply string, err error) {
	to, err := net.ResolveUDPAddr("udp4", target)
	if err != nil {
		return "", "", err
	}
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	if _, err := conn.WriteToUDP([]byte(payload), to); err != nil {
		return "", "", err
	}
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, addr, err := conn.ReadFromUDP(buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "", "", fmt.Errorf("no reply from %s within 2s", target)
		}
		return "", "", err
	}
	return netip.AddrPortFrom(addr.AddrPort().Addr().Unmap(), addr.AddrPort().Port()).String(), string(buf[:n]), nil
}
