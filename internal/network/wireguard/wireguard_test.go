package wireguard_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/graph-network-harness/harness/internal/network/wireguard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A key file is created 0600 and read back the same; one that others can read is refused.
func TestLoadOrCreateKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "wg", "mesh.key")
	k, err := wireguard.LoadOrCreateKey(file)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, info.Mode())
	}
	if dir, _ := os.Stat(filepath.Dir(file)); dir.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v, want 0700", dir.Mode().Perm())
	}
	again, err := wireguard.LoadOrCreateKey(file)
	if err != nil || again != k {
		t.Errorf("read back: %v (same key: %v)", err, again == k)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wireguard.LoadOrCreateKey(file); err == nil || !strings.Contains(err.Error(), "want 0600") {
		t.Errorf("a key file others can read: %v, want refused", err)
	}
}

// node is a device on a netstack TUN (no root, no interface on the host) with its address.
type node struct {
	key  wireguard.Key
	addr netip.Addr
	net  *netstack.Net
	dev  *wireguard.Device
	port int
}

func newNode(t *testing.T, addr string) *node {
	t.Helper()
	n := &node{addr: netip.MustParseAddr(addr)}
	var err error
	if n.key, err = wireguard.LoadOrCreateKey(filepath.Join(t.TempDir(), "key")); err != nil {
		t.Fatal(err)
	}
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{n.addr}, nil, 1420)
	if err != nil {
		t.Fatal(err)
	}
	n.net = tnet
	// Port 0: any; the peers learn it from Stats.
	if n.dev, err = wireguard.Start(tdev, wireguard.Config{PrivateKey: n.key}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.dev.Close)
	if n.port, _, err = n.dev.Stats(); err != nil || n.port == 0 {
		t.Fatalf("stats: port %d, %v", n.port, err)
	}
	return n
}

// peer is n as another node's peer: at its loopback port, with its address routed to it. No
// keepalive: a keepalive starts a handshake at once, and one that reaches a device that does not
// know the sender yet is lost, the next one only 5 s later.
func (n *node) peer() wireguard.Peer {
	return wireguard.Peer{
		PublicKey:  n.key.PublicKey(),
		Endpoint:   netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.port)),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(n.addr, n.addr.BitLen())},
	}
}

// Two devices configured as each other's peer carry a TCP stream between their addresses;
// each then reports a handshake and bytes both ways, and a device configured without the
// other's key carries nothing.
func TestDevicesCarryTraffic(t *testing.T) {
	a, b := newNode(t, "10.42.0.1"), newNode(t, "10.42.0.2")
	for _, x := range []struct{ n, other *node }{{a, b}, {b, a}} {
		cfg := wireguard.Config{PrivateKey: x.n.key, ListenPort: x.n.port, Peers: []wireguard.Peer{x.other.peer()}}
		if err := x.n.dev.Configure(cfg); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := b.net.ListenTCP(&net.TCPAddr{IP: b.addr.AsSlice(), Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.net.DialContext(ctx, "tcp", "10.42.0.2:80")
	if err != nil {
		t.Fatalf("dial b over the mesh: %v", err)
	}
	msg := strings.Repeat("through the tunnel ", 1000)
	go c.Write([]byte(msg))
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo: %v (%d bytes right)", err, len(got))
	}
	c.Close()
	for name, n := range map[string]*node{"a": a, "b": b} {
		_, peers, err := n.dev.Stats()
		if err != nil || len(peers) != 1 {
			t.Fatalf("%s: stats %+v, %v", name, peers, err)
		}
		p := peers[0]
		if p.LastHandshake.IsZero() || p.RxBytes < int64(len(msg)) || p.TxBytes < int64(len(msg)) {
			t.Errorf("%s: peer %+v; want a handshake and at least %d bytes each way", name, p, len(msg))
		}
	}

	// b forgets a: a's packets are dropped, nothing answers.
	if err := b.dev.Configure(wireguard.Config{PrivateKey: b.key, ListenPort: b.port}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := a.net.DialContext(ctx, "tcp", "10.42.0.2:80"); err == nil {
		c.Close()
		t.Error("dialled b after b dropped a as a peer")
	}
}

// A Config prints and marshals without its private key.
func TestConfigHidesPrivateKey(t *testing.T) {
	k, err := wireguard.LoadOrCreateKey(filepath.Join(t.TempDir(), "key"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := wireguard.LoadOrCreateKey(filepath.Join(t.TempDir(), "other"))
	cfg := wireguard.Config{PrivateKey: k, ListenPort: 51820, Peers: []wireguard.Peer{{PublicKey: other.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.42.0.2/32")}}}}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{cfg.String(), string(js)} {
		if strings.Contains(out, k.String()) {
			t.Errorf("the private key is in %s", out)
		}
		if !strings.Contains(out, k.PublicKey().String()) || !strings.Contains(out, "10.42.0.2/32") {
			t.Errorf("%s lacks the public key or the peer", out)
		}
	}
}
