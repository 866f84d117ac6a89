//go:build integration

package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/testenv"
)

// meshPort is the WireGuard port of the mesh tests: the only way from LAN hosts to host c.
const meshPort = 51820

// meshStack is hosts a and b on a LAN, c on another one that a and b reach only with UDP to
// c's WireGuard port, and a stack whose services file names a and b as lan nodes and c as
// the node of a wireguard network.
type meshStack struct {
	*stack
	hosts  map[string]*testenv.Host
	router *testenv.Router
	yaml   string // the services file
}

func newMeshStack(t *testing.T, services string) *meshStack {
	lan, wan := testenv.NewLAN(t, "mesh-lan"), testenv.NewLAN(t, "mesh-wan")
	ms := &meshStack{hosts: map[string]*testenv.Host{"a": lan.Host(t, "a"), "b": lan.Host(t, "b"), "c": wan.Host(t, "c")}}
	ms.router = testenv.NewRouter(t, ms.hosts["c"], meshPort, ms.hosts["a"], ms.hosts["b"])
	server := testenv.StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	for _, h := range ms.hosts {
		copyExecutable(t, server, h.Path("/root/testserver"))
	}
	var known []byte
	for _, l := range []*testenv.LAN{lan, wan} {
		b, err := os.ReadFile(l.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		known = append(known, b...)
	}
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(knownHosts, known, 0o644); err != nil {
		t.Fatal(err)
	}
	node := func(name string, l *testenv.LAN) string {
		return fmt.Sprintf("      - {name: %s, host: %s, ssh_user: root, ssh_key: %s}\n", name, ms.hosts[name].Addr, l.KeyFile)
	}
	ms.yaml = fmt.Sprintf(`version: "1.0"
name: meshed
settings:
  known_hosts: %s
networks:
  lan:
    type: lan
    subnet: %s
    nodes:
%s%s  mesh:
    type: wireguard
    subnet: 10.250.0.0/24
    listen_port: %d
    nodes:
%sservices:
%s`, knownHosts, lan.Subnet, node("a", lan), node("b", lan), meshPort, node("c", wan), services)
	ms.stack = newStack(t, ms.yaml)
	return ms
}

// interfaces lists the interfaces of host h whose names start with prefix.
func interfaces(t *testing.T, h *testenv.Host, prefix string) []string {
	t.Helper()
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(hostOutput(t, h, "ip", "-j", "link", "show")), &links); err != nil {
		t.Fatalf("ip -j link show on %s: %v", h.Name, err)
	}
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Name, prefix) {
			out = append(out, l.Name)
		}
	}
	return out
}

// hostOutput runs argv in host h and returns its output; it fails the test if argv fails.
func hostOutput(t *testing.T, h *testenv.Host, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.Command(ctx, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s on %s: %v: %s", strings.Join(argv, " "), h.Name, err, out)
	}
	return string(out)
}

// peerTransfer is what `wg show wg-harness dump` on h says of its peer at the address of host
// peer: its last handshake (Unix seconds) and the bytes received from it and sent to it.
func peerTransfer(t *testing.T, h, peer *testenv.Host) (handshake, rx, tx int64) {
	t.Helper()
	out := strings.TrimSpace(hostOutput(t, h, "wg", "show", "wg-harness", "dump"))
	// The interface's line, then one per peer: key, psk, endpoint, allowed ips, handshake,
	// rx, tx, keepalive.
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Split(line, "\t")
		if len(f) >= 8 && strings.HasPrefix(f[2], peer.Addr.String()+":") {
			n := func(s string) int64 { v, _ := strconv.ParseInt(s, 10, 64); return v }
			return n(f[4]), n(f[5]), n(f[6])
		}
	}
	t.Fatalf("wg show on %s: no peer at %s:\n%s", h.Name, peer.Addr, out)
	return 0, 0, 0
}

// devicePID is the pid of h's WireGuard device process ("harness agent wireguard ...").
func devicePID(t *testing.T, h *testenv.Host) int {
	t.Helper()
	for _, pid := range h.Pids(t) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmdline, []byte("agent\x00wireguard\x00wg-harness")) {
			return pid
		}
	}
	t.Fatalf("%s: no wireguard device process", h.Name)
	return 0
}

// keyOf reads the private key file of h's mesh interface, checking its mode: the key in
// base64 and in hex (UAPI's form).
func keyOf(t *testing.T, h *testenv.Host) (b64, hexKey string) {
	t.Helper()
	file := h.Path("/root/.harness/wireguard/wg-harness.key")
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%s: key file %v, %v; want mode 0600", h.Name, info, err)
	}
	key, _ := os.ReadFile(file)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(key)))
	if err != nil || len(raw) != 32 {
		t.Fatalf("%s: key file holds no key", h.Name)
	}
	return strings.TrimSpace(string(key)), hex.EncodeToString(raw)
}

// storeOnC is the services file's store: a testserver on node c that listens on c's mesh
// address only, port 18090, with an HTTP check.
const storeOnC = `
  store:
    type: remote
    host: c
    binary: sh
    args: ["-c", "exec /root/testserver -listen $HARNESS_MESH_IP:18090"]
    ports: [18090]
    health_check: {http: "http://127.0.0.1:18090/health", interval: 1s, retries: 2}
    restart: {policy: always, backoff: {initial: 100ms}}
`

// A service on c that listens only on its mesh address, and one on a that reaches it at
// ${store.addr}: start builds the mesh between a and c only (b's service talks to nobody),
// a's service reaches c's through WireGuard (the router forwards nothing else between the
// LANs; handshake and counters grow on both ends, and network show reports them). A service
// added on b that reads the store brings b in: one more peer on a and c, whose devices and
// sessions stay. rotate-keys gives every member a new key and the mesh carries on. c losing
// its interface is repaired by the store's restart. Private
// keys stay in their 0600 files (never in outputs, logs or state), and down removes every
// interface. The same stack with the store on b instead makes no mesh and no interface.
func TestMesh(t *testing.T) {
	ms := newMeshStack(t, storeOnC+`  app:
    type: remote
    host: a
    binary: /root/testserver
    args: ["-fetch", "http://${store.addr}/", "-listen", ":18091"]
    ports: [18091]
    dependencies: [store]
    health_check: {http: "http://127.0.0.1:18091/health", interval: 1s}
  idle:
    type: remote
    host: b
    binary: sleep
    args: ["600"]
`)
	a, c := ms.hosts["a"], ms.hosts["c"]
	began := time.Now()
	r := ms.must(0, "start")
	t.Logf("start (%s):\n%s", time.Since(began).Round(time.Millisecond), r.stdout)
	st := ms.status()
	for _, name := range []string{"store", "app", "idle"} {
		if st[name].State != "running" {
			t.Errorf("%s: %+v, want running", name, st[name])
		}
	}
	// The store listens on c's mesh address only; the app fetched it through the mesh.
	listen := hostOutput(t, c, "ss", "-Hltn", "sport = :18090")
	if !strings.Contains(listen, "10.250.0.") {
		t.Errorf("store listens on %q, want c's mesh address", listen)
	}
	logs := ms.must(0, "logs", "app").stdout
	if !strings.Contains(logs, "hello from c") {
		t.Errorf("app's log lacks the store's answer:\n%s", logs)
	}
	for name, want := range map[string][]string{"a": {"wg-harness"}, "b": nil, "c": {"wg-harness"}} {
		if got := interfaces(t, ms.hosts[name], "wg"); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("interfaces of %s: %v, want %v", name, got, want)
		}
	}

	// Traffic between a and c is WireGuard: both ends count it, and more of it.
	var before [2][3]int64
	for i, h := range []*testenv.Host{a, c} {
		hs, rx, tx := peerTransfer(t, h, map[*testenv.Host]*testenv.Host{a: c, c: a}[h])
		before[i] = [3]int64{hs, rx, tx}
		if hs == 0 || rx == 0 || tx == 0 {
			t.Errorf("%s: handshake %d, rx %d, tx %d; want all > 0", h.Name, hs, rx, tx)
		}
	}
	fwd0, _ := ms.router.Counters(t)
	ms.must(0, "exec", "app", "--", "sh", "-c", "exec /root/testserver -fetch http://$STORE_ADDR/ -version")
	for i, h := range []*testenv.Host{a, c} {
		_, rx, tx := peerTransfer(t, h, map[*testenv.Host]*testenv.Host{a: c, c: a}[h])
		if rx <= before[i][1] || tx <= before[i][2] {
			t.Errorf("%s: rx %d → %d, tx %d → %d; want both to grow", h.Name, before[i][1], rx, before[i][2], tx)
		}
	}
	if fwd, _ := ms.router.Counters(t); fwd <= fwd0 {
		t.Errorf("the router forwarded %d → %d packets of WireGuard; want more", fwd0, fwd)
	}

	// network show: each member's interface and its one peer, named, with a handshake and
	// bytes both ways.
	var resp api.NetworkResponse
	if err := json.Unmarshal([]byte(ms.must(0, "network", "show", "-o", "json").stdout), &resp); err != nil {
		t.Fatal(err)
	}
	peers := map[string]string{}
	for _, n := range resp.Nodes {
		for _, m := range n.Mesh {
			for _, p := range m.Peers {
				ok := !p.LastHandshake.IsZero() && p.RxBytes > 0 && p.TxBytes > 0
				peers[n.Name] += fmt.Sprintf("%s/%s → %s handshake+bytes=%v;", m.Network, m.Interface, p.Node, ok)
			}
		}
	}
	wantPeers := map[string]string{"a": "mesh/wg-harness → c handshake+bytes=true;", "c": "mesh/wg-harness → a handshake+bytes=true;"}
	if diff := cmp.Diff(wantPeers, peers); diff != "" {
		t.Errorf("network show: mesh peers (-want +got):\n%s", diff)
	}
	table := ms.must(0, "network", "show").stdout
	t.Logf("network show:\n%s", table)
	if !strings.Contains(table, "MESH mesh (WireGuard)") {
		t.Errorf("network show lacks the mesh:\n%s", table)
	}

	// A node joins: b's new service reads the store. b gets an interface, a and c one more
	// peer each, through the devices they have (same processes, a's session with c kept).
	var secrets []string
	for _, h := range []*testenv.Host{a, c} {
		k, x := keyOf(t, h)
		secrets = append(secrets, k, x)
	}
	pidA, pidC := devicePID(t, a), devicePID(t, c)
	_, rxA, _ := peerTransfer(t, a, c)
	withReader := ms.yaml + `  reader:
    type: remote
    host: b
    binary: /root/testserver
    args: ["-fetch", "http://${store.addr}/", "-listen", ":18092"]
    ports: [18092]
    dependencies: [store]
`
	ms.write(withReader)
	ms.must(0, "start")
	b := ms.hosts["b"]
	if got := interfaces(t, b, "wg"); strings.Join(got, ",") != "wg-harness" {
		t.Errorf("b after it joined: interfaces %v, want wg-harness", got)
	}
	// Started is not ready: the reader's one fetch may still be on its way (b's first
	// handshake with c).
	waitLog(t, ms.stack, "reader", "hello from c")
	if pa, pc := devicePID(t, a), devicePID(t, c); pa != pidA || pc != pidC {
		t.Errorf("device processes of a and c: %d, %d → %d, %d; want the same", pidA, pidC, pa, pc)
	}
	if _, rx, _ := peerTransfer(t, a, c); rx < rxA {
		t.Errorf("a's session with c: rx %d → %d; want it kept", rxA, rx)
	}
	peerTransfer(t, a, b) // a has b as a peer now
	peerTransfer(t, c, b)

	// Keys rotated: a new key file on every member, the mesh keeps carrying traffic.
	for _, h := range []*testenv.Host{b} {
		k, x := keyOf(t, h)
		secrets = append(secrets, k, x)
	}
	rotated := time.Now()
	r = ms.must(0, "network", "rotate-keys")
	t.Logf("network rotate-keys:\n%s", r.stdout)
	for _, h := range []*testenv.Host{a, b, c} {
		k, x := keyOf(t, h)
		if slices.Contains(secrets, k) {
			t.Errorf("%s: key file unchanged by rotate-keys", h.Name)
		}
		secrets = append(secrets, k, x)
	}
	ms.must(0, "exec", "app", "--", "sh", "-c", "exec /root/testserver -fetch http://$STORE_ADDR/ -version")
	if hs, _, _ := peerTransfer(t, a, c); hs < rotated.Unix() {
		t.Errorf("a's last handshake with c at %d, before the rotation at %d", hs, rotated.Unix())
	}

	// c loses its interface (as in a reboot): the store turns unhealthy, and its restart
	// brings c's interface back first, with its address; the app reaches the store again.
	restarts := ms.status()["store"].Restarts
	hostOutput(t, c, "ip", "link", "delete", "wg-harness")
	deadline := time.Now().Add(90 * time.Second)
	for {
		st := ms.status()["store"]
		if st.Restarts > restarts && st.State == "running" && st.Health == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store after c lost its interface: %+v; want restarted and healthy", st)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := interfaces(t, c, "wg"); strings.Join(got, ",") != "wg-harness" {
		t.Errorf("c after the repair: interfaces %v, want wg-harness", got)
	}
	ms.must(0, "exec", "app", "--", "sh", "-c", "exec /root/testserver -fetch http://$STORE_ADDR/ -version")

	// Private keys: 0600 on their node (keyOf), nowhere else.
	outputs := map[string]string{
		"status":       ms.must(0, "status", "-o", "json").stdout,
		"network show": ms.must(0, "network", "show", "-o", "json").stdout,
		"network text": ms.must(0, "network", "show").stdout,
	}
	for what, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("a private key is in the output of %s", what)
			}
		}
	}
	grepTree := func(root string, skip string) {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || path == skip || strings.Contains(path, "/bin/") {
				return nil
			}
			b, _ := os.ReadFile(path)
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("a private key is in %s", path)
				}
			}
			return nil
		})
	}
	grepTree(ms.data, "")
	for _, h := range []*testenv.Host{a, b, c} {
		grepTree(h.Path("/root/.harness"), h.Path("/root/.harness/wireguard/wg-harness.key"))
	}

	ms.must(0, "down")
	for name, h := range ms.hosts {
		if got := interfaces(t, h, "wg"); len(got) > 0 {
			t.Errorf("%s after down: interfaces %v", name, got)
		}
	}

	// The same stack without a wireguard node (the store on b, c unused): no mesh, no
	// interface anywhere.
	ms.write(strings.Replace(strings.Replace(withReader, "    host: c\n", "    host: b\n", 1),
		"exec /root/testserver -listen $HARNESS_MESH_IP:18090", "exec /root/testserver -listen :18090", 1))
	ms.must(0, "start")
	if logs := ms.must(0, "logs", "app").stdout; strings.Count(logs, "hello from b") == 0 {
		t.Errorf("app's log lacks the store's answer from b:\n%s", logs)
	}
	for name, h := range ms.hosts {
		if got := interfaces(t, h, ""); strings.Join(got, ",") != "lo,eth0" {
			t.Errorf("%s without a wireguard node in use: interfaces %v, want lo and eth0 only", name, got)
		}
	}
	ms.must(0, "down")
}

// A local process that reads a service on a wireguard node: the controller's host joins the
// mesh (an interface of its own, in this machine's network namespace, under a name no one
// else uses), with a keepalive towards c, which cannot reach it; down removes it.
func TestMeshController(t *testing.T) {
	wan := testenv.NewLAN(t, "mesh-ctl")
	c := wan.Host(t, "c")
	server := testenv.StaticBinary(t, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	copyExecutable(t, server, c.Path("/root/testserver"))
	iface := fmt.Sprintf("wgt%06x", rand.Uint32()&0xffffff)
	t.Cleanup(func() { exec.Command("ip", "link", "delete", iface).Run() }) // after a failure
	subnet := fmt.Sprintf("10.253.%d.0/24", rand.IntN(256))
	s := newStack(t, fmt.Sprintf(`version: "1.0"
name: meshctl
settings:
  known_hosts: %s
networks:
  mesh:
    type: wireguard
    subnet: %s
    interface: %s
    nodes:
      - {name: c, host: %s, ssh_user: root, ssh_key: %s}
services:
`+storeOnC+`  front:
    type: process
    binary: %s
    args: ["-fetch", "http://${store.addr}/", "-listen", "127.0.0.1:18093"]
    dependencies: [store]
    health_check: {http: "http://127.0.0.1:18093/health", interval: 1s}
`, wan.KnownHosts, subnet, iface, c.Addr, wan.KeyFile, server))
	s.must(0, "start")
	if logs := s.must(0, "logs", "front").stdout; !strings.Contains(logs, "hello from c") {
		t.Errorf("front's log lacks the store's answer:\n%s", logs)
	}
	out, err := exec.Command("wg", "show", iface, "dump").CombinedOutput()
	if err != nil {
		t.Fatalf("wg show %s here: %v: %s", iface, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if f := strings.Split(lines[len(lines)-1], "\t"); len(lines) != 2 || len(f) < 8 || f[4] == "0" || f[7] != "25" {
		t.Errorf("wg show %s here: want one peer with a handshake and a 25 s keepalive:\n%s", iface, out)
	}
	s.must(0, "down")
	if out, err := exec.Command("ip", "link", "show", iface).CombinedOutput(); err == nil {
		t.Errorf("interface %s still here after down: %s", iface, out)
	}
}
