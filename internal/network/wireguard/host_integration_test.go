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
//	sink ADDR          listen on ADDR, print "listening"; for every connection, read until EOF,
//	                   then write back the number of bytes read
//	bulk N             for every line ADDR read from stdin: connect to ADDR, write N bytes,
//	                   close the write side, read the sink's count (it must be N); print "ok"
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

// helper runs the mode of TestHelperWireguard that args name, until ctx ends for those that
// serve.
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
		if _, err := wireguard.Up(ctx, ifc, args[1], spawn); err != nil {
			return err
		}
		pub, err := wireguard.PublicKey(args[1])
		fmt.Println(pub)
		return err
	case "down":
		had, err := wireguard.Down(ctx, args[1])
		fmt.Println(had)
		return err
	case "echo":
		return serveTCP(args[1], func(c net.Conn) { io.Copy(c, c) })
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
	case "sink":
		return serveTCP(args[1], func(c net.Conn) {
			n, _ := io.Copy(io.Discard, c)
			fmt.Fprintln(c, n)
		})
	case "bulk":
		var n int64
		fmt.Sscan(args[1], &n)
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if err := bulk(ctx, in.Text(), n); err != nil {
				return err
			}
			fmt.Println("ok")
		}
		return in.Err()
	}
	return fmt.Errorf("%s=%q: unknown mode", helperEnv, strings.Join(args, " "))
}

// bulk connects to the sink at addr, writes n bytes, closes its write side and checks the
// count the sink writes back: one TCP bulk transfer, one way, until the last byte is read.
func bulk(ctx context.Context, addr string, n int64) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.CopyN(c, zeros{}, n); err != nil {
		return fmt.Errorf("send to %s: %w", addr, err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	var got int64
	if _, err := fmt.Fscan(c, &got); err != nil || got != n {
		return fmt.Errorf("sink %s read %d bytes (%v), want %d", addr, got, err, n)
	}
	return nil
}

// zeros reads as an endless run of zero bytes.
// serveTCP listens on addr, prints "listening", and handles every connection with handle,
// which the connection is closed after.
func serveTCP(addr string, handle func(net.Conn)) error {
	ln, err := net.Listen("tcp", addr)
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
			handle(c)
		}()
	}
}

type zeros struct{}

// Read fills b with zeros.
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
func (h *meshHost) run(t testing.TB, mode string, env ...string) string {
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

// start starts the helper in mode inside h, killed when the test ends, and returns its stdin
// and its stdout.
func (h *meshHost) start(t testing.TB, mode string) (io.Writer, *bufio.Reader) {
	t.Helper()
	cmd := h.ns.Exec(context.Background(), os.Args[0], "-test.run=^TestHelperWireguard$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return stdin, bufio.NewReader(stdout)
}

// listen starts the helper in mode (echo or sink) inside h and returns once it listens.
func (h *meshHost) listen(t testing.TB, mode string) {
	t.Helper()
	_, out := h.start(t, mode)
	if line, _ := out.ReadString('\n'); line != "listening\n" {
		t.Fatalf("%s in %s: %q", mode, h.ns.Name, line)
	}
}

// up brings h's interface up with the other hosts as its peers.
func (h *meshHost) up(t testing.TB, port int, others ...*meshHost) string {
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
func twoHosts(t testing.TB) (a, b *meshHost) {
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

	b.listen(t, "echo "+b.mesh.Addr().String()+":7000")
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

	// A new address replaces the old one, and the interface stays up.
	a.mesh = netip.MustParsePrefix("10.214.0.11/24")
	a.up(t, port, b)
	out, err := a.ns.Exec(t.Context(), "ip", "-o", "address", "show", "dev", a.iface, "scope", "global").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " 10.214.0.11/24 ") || strings.Contains(string(out), "10.214.0.1/") {
		t.Errorf("addresses after an up with another one: %v\n%s; want 10.214.0.11/24 only", err, out)
	}
	if out, _ := a.ns.Exec(t.Context(), "ip", "-o", "link", "show", "dev", a.iface).CombinedOutput(); !strings.Contains(string(out), ",UP") {
		t.Errorf("link after an up with another address: %s; want up", out)
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

// throughputBytes is what one transfer of BenchmarkThroughput carries.
const throughputBytes = 256 << 20

// BenchmarkThroughput measures TCP bulk transfers between two namespaces joined by a veth:
// direct, between their veth addresses, and mesh, between their mesh addresses through the
// two userspace devices (wireguard-go on TUN), both in the same run. An iteration is one
// transfer of throughputBytes, one way: a client in the first namespace connects to a sink in
// the second, writes them and closes its write side; the iteration ends when the sink has
// read the last byte and said how many it read. MB/s is throughputBytes over that time. The
// client, the sink and both devices share this machine's CPUs. No figure is asserted
// (docs/PERFORMANCE.md, "One network").
//
//	go test -tags integration -run '^$' -bench BenchmarkThroughput -benchtime 3x -count 3 ./internal/network/wireguard/
func BenchmarkThroughput(b *testing.B) {
	from, to := twoHosts(b)
	const port = 51820
	from.up(b, port, to)
	to.up(b, port, from)
	const sinkPort = 7001
	to.listen(b, fmt.Sprintf("sink :%d", sinkPort))
	send, done := from.start(b, fmt.Sprintf("bulk %d", throughputBytes))
	for _, x := range []struct {
		name string
		addr netip.Addr
	}{{"direct", to.addr}, {"mesh", to.mesh.Addr()}} {
		b.Run(x.name, func(b *testing.B) {
			b.SetBytes(throughputBytes)
			for b.Loop() {
				fmt.Fprintln(send, netip.AddrPortFrom(x.addr, sinkPort))
				if line, err := done.ReadString('\n'); line != "ok\n" {
					b.Fatalf("bulk to %s: %q, %v", x.addr, line, err)
				}
			}
		})
	}
}
