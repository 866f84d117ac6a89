//go:build integration

package wireguard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graph-network-harness/harness/internal/network/wireguard"
	"github.com/graph-network-harness/harness/internal/testenv"
)

// helperEnv selects what TestHelperWireguard does in a child process.
const helperEnv = "HARNESS_WIREGUARD_HELPER"

// TestHelperWireguard is the child process of these tests when helperEnv is set (run inside a
// test namespace), and does nothing otherwise:
//
//	serve NAME         wireguard.Serve until SIGTERM or the interface is deleted
//	up KEYFILE JSON    wireguard.Up of the Interface in JSON, spawning "serve"; prints the public key
//	down NAME          wireguard.Down; prints whether there was an interface
//	echo ADDR          listen on ADDR, print "listening", echo every connection
//	send ADDR N        connect to ADDR, send N bytes and read them back; print the seconds it took
func TestHelperWireguard(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	args := strings.Fields(mode)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err := helper(ctx, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func helper(ctx context.Context, args []string) error {
	switch args[0] {
	case "serve":
		return wireguard.Serve(ctx, args[1], slog.New(slog.NewTextHandler(os.Stderr, nil)))
	case "up":
		var ifc wireguard.Interface
		if err := json.Unmarshal([]byte(os.Getenv("WG_INTERFACE")), &ifc); err != nil {
			return err
		}
		spawn := func(context.Context) error {
			cmd := helperCommand(context.Background(), "serve "+ifc.Name)
			cmd.Stdout, cmd.Stderr = nil, nil
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := cmd.Start(); err != nil {
				return err
			}
			return cmd.Process.Release()
		}
		pub, err := wireguard.Up(ctx, ifc, args[1], spawn)
		if err != nil {
			return err
		}
		fmt.Println(pub)
		return nil
	case "down":
		had, err := wireguard.Down(ctx, args[1])
		fmt.Println(had)
		return err
	case "echo":
		ln, err := net.Listen("tcp", args[1])
		if err != nil {
			return err
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	case "send":
		var n int
		fmt.Sscan(args[2], &n)
		d := net.Dialer{Timeout: 10 * time.Second}
		c, err := d.DialContext(ctx, "tcp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		began := time.Now()
		go func() {
			io.CopyN(c, zeros{}, int64(n))
		}()
		if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
			return fmt.Errorf("read the echo: %w", err)
		}
		fmt.Println(time.Since(began).Seconds())
		return nil
	}
	return fmt.Errorf("%s=%q: unknown mode", helperEnv, strings.Join(args, " "))
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// helperCommand runs this test binary as TestHelperWireguard in mode, in the current namespace.
func helperCommand(ctx context.Context, mode string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperWireguard$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	return cmd
}

// meshHost is a namespace with a veth to the other one and a mesh interface to be.
type meshHost struct {
	ns      *testenv.Namespace
	addr    netip.Addr // on the veth
	mesh    netip.Prefix
	keyFile string
	iface   string
	pub     wireguard.Key
}

// run runs the helper in mode inside h and returns its output.
func (h *meshHost) run(t *testing.T, mode string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := h.ns.Exec(ctx, os.Args[0], "-test.run=^TestHelperWireguard$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s in %s: %v", mode, h.ns.Name, err)
	}
	return strings.TrimSpace(string(out))
}

// up brings h's interface up with the other hosts as its peers.
func (h *meshHost) up(t *testing.T, port int, others ...*meshHost) string {
	t.Helper()
	ifc := wireguard.Interface{Name: h.iface, ListenPort: port, Address: h.mesh}
	for _, o := range others {
		ifc.Peers = append(ifc.Peers, wireguard.Peer{
			PublicKey:  o.pub,
			Endpoint:   netip.AddrPortFrom(o.addr, uint16(port)),
			AllowedIPs: []netip.Prefix{netip.PrefixFrom(o.mesh.Addr(), 32)},
			Keepalive:  25 * time.Second,
		})
	}
	js, err := json.Marshal(ifc)
	if err != nil {
		t.Fatal(err)
	}
	return h.run(t, "up "+h.keyFile, "WG_INTERFACE="+string(js))
}

// twoHosts makes two namespaces joined by a veth pair, each with a key file and the name of
// its interface to be; the interfaces are deleted when the test ends.
func twoHosts(t *testing.T) (a, b *meshHost) {
	ip := testenv.Command(t, "ip")
	a = &meshHost{ns: testenv.Netns(t, "wga"), addr: netip.MustParseAddr("10.213.0.1"), mesh: netip.MustParsePrefix("10.214.0.1/24")}
	b = &meshHost{ns: testenv.Netns(t, "wgb"), addr: netip.MustParseAddr("10.213.0.2"), mesh: netip.MustParsePrefix("10.214.0.2/24")}
	veth := fmt.Sprintf("wgv%06x", rand.Uint32()&0xffffff)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("link", "add", veth, "netns", a.ns.Name, "type", "veth", "peer", "name", "eth0", "netns", b.ns.Name)
	for _, x := range []struct {
		h    *meshHost
		link string
	}{{a, veth}, {b, "eth0"}} {
		run("-n", x.h.ns.Name, "link", "set", "lo", "up")
		run("-n", x.h.ns.Name, "addr", "add", x.h.addr.String()+"/24", "dev", x.link)
		run("-n", x.h.ns.Name, "link", "set", x.link, "up")
		x.h.keyFile = filepath.Join(t.TempDir(), "wg", "key")
		x.h.iface = fmt.Sprintf("wgt%06x", rand.Uint32()&0xffffff) // sockets are not per namespace
		var err error
		if x.h.pub, err = wireguard.PublicKey(x.h.keyFile); err != nil {
			t.Fatal(err)
		}
		h := x.h
		t.Cleanup(func() { // ends the device, whose TUN would keep the namespace alive
			exec.Command(ip, "-n", h.ns.Name, "link", "delete", h.iface).Run()
		})
	}
	return a, b
}

// Two hosts' interfaces brought up by Up carry TCP between their mesh addresses; Show reads
// a handshake and the bytes on both; Up again changes nothing; Down removes the interface
// and ends the device.
func TestUpShowDown(t *testing.T) {
	a, b := twoHosts(t)
	const port = 51820
	for _, x := range []struct{ h, other *meshHost }{{a, b}, {b, a}} {
		if got := x.h.up(t, port, x.other); got != x.h.pub.String() {
			t.Fatalf("up printed %q, want the public key %s", got, x.h.pub)
		}
	}

	echo := b.ns.Exec(t.Context(), os.Args[0], "-test.run=^TestHelperWireguard$")
	echo.Env = append(os.Environ(), helperEnv+"=echo "+b.mesh.Addr().String()+":7000")
	stdout, err := echo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := echo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Process.Kill(); echo.Wait() })
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "listening\n" {
		t.Fatalf("echo server: %q", line)
	}
	const n = 1 << 20
	a.run(t, fmt.Sprintf("send %s:7000 %d", b.mesh.Addr(), n))

	for _, h := range []*meshHost{a, b} {
		st, err := wireguard.Show(t.Context(), h.iface)
		if err != nil {
			t.Fatal(err)
		}
		if st.PublicKey != h.pub || st.ListenPort != port || len(st.Peers) != 1 {
			t.Fatalf("%s: status %+v; want its key, port %d and one peer", h.ns.Name, st, port)
		}
		p := st.Peers[0]
		if p.LastHandshake.IsZero() || p.RxBytes < n || p.TxBytes < n {
			t.Errorf("%s: peer %+v; want a handshake and at least %d bytes each way", h.ns.Name, p, n)
		}
	}

	// Up again: the same device (its counters go on), nothing changes.
	before, _ := wireguard.Show(t.Context(), a.iface)
	a.up(t, port, b)
	after, err := wireguard.Show(t.Context(), a.iface)
	if err != nil || len(after.Peers) != 1 || after.Peers[0].RxBytes < before.Peers[0].RxBytes {
		t.Errorf("after a second up: %+v, %v; want the same device with its counters", after, err)
	}

	for _, h := range []*meshHost{a, b} {
		if got := h.run(t, "down "+h.iface); got != "true" {
			t.Errorf("down %s: %q, want true", h.ns.Name, got)
		}
		if _, err := wireguard.Show(t.Context(), h.iface); err == nil {
			t.Errorf("%s: the device still answers after down", h.ns.Name)
		}
		if out, err := h.ns.Exec(t.Context(), "ip", "link", "show", h.iface).CombinedOutput(); err == nil {
			t.Errorf("%s: interface still there after down: %s", h.ns.Name, out)
		}
		if got := h.run(t, "down "+h.iface); got != "false" {
			t.Errorf("down %s again: %q, want false", h.ns.Name, got)
		}
	}
}
