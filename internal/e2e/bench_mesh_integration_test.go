//go:build integration

package e2e_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graph-network-harness/harness/internal/testenv"
)

// BenchmarkMeshBringUp10 measures issue 8's target "mesh bring-up for 10 nodes (cold, keys
// generated): under 2 s after the agents are present". One LAN of 10 test hosts, built once;
// two stacks on them, each with its own data dir and daemon, that differ only in the type of
// the network of the 10 nodes: wireguard (the mesh stack) or lan (the floor). Each has s0 on
// h0 and s1 to s9 on h1 to h9, all `sleep 600`; sI (I ≥ 1) references ${s0.addr} in its
// environment, so every node talks to h0 and all 10 are members of the mesh (a ring of
// references would be a dependency cycle, which validation refuses). Both stacks are started
// and brought down once, untimed, so that the agents run. No timing is asserted: the figures
// are reported (docs/PERFORMANCE.md, "One network").
//
//	go test -tags integration -run '^$' -bench BenchmarkMeshBringUp10 -benchtime 5x -v ./internal/e2e/
//
// Every iteration, with the timer stopped, removes every host's key directory
// (/root/.harness/wireguard: cold, so keys are generated), then times `harness start` of the
// mesh stack until it exits 0 (ns/op, start-ms) and reads that start's bring-up from the
// daemon's "mesh up" log line (bringup-ms: from the first member's address to the last
// member's interface up). The same iteration, with the timer stopped, times `harness start`
// of the lan stack (lan-start-ms), the two taking turns at going first; mesh-extra-ms is
// start-ms less lan-start-ms. `harness down` ends each start, untimed: it removes the mesh's
// interfaces, the agents stay.
func BenchmarkMeshBringUp10(b *testing.B) {
	lan, hosts := newHosts(b)
	subnet := netip.MustParsePrefix("10.251.0.0/24")
	if lan.Subnet.Overlaps(subnet) {
		subnet = netip.MustParsePrefix("10.252.0.0/24")
	}
	mesh := newMeshBench(b, lan, hosts, "wireguard", subnet)
	floor := newMeshBench(b, lan, hosts, "lan", lan.Subnet)
	for _, s := range []*remoteBench{mesh, floor} {
		s.harness("start")
		s.harness("down")
	}
	var start, bringUp, lanStart time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		for _, h := range hosts {
			if err := os.RemoveAll(h.Path("/root/.harness/wireguard")); err != nil {
				b.Fatal(err)
			}
		}
		var s, l, up time.Duration
		runMesh := func() {
			s = timed(b, func() { mesh.harness("start") })
			up = meshTook(mesh)
			checkMeshBench(mesh, subnet)
			mesh.harness("down")
		}
		runLAN := func() {
			t0 := time.Now()
			floor.harness("start")
			l = time.Since(t0)
			checkMeshBench(floor, netip.Prefix{})
			floor.harness("down")
		}
		if i%2 == 0 {
			runMesh()
			runLAN()
		} else {
			runLAN()
			runMesh()
		}
		b.Logf("iteration %d: mesh start %s (bring-up %s), lan start %s", i, s.Round(time.Millisecond), up.Round(time.Millisecond), l.Round(time.Millisecond))
		start, bringUp, lanStart = start+s, bringUp+up, lanStart+l
		i++
		b.StartTimer()
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / n }
	b.ReportMetric(ms(start), "start-ms")
	b.ReportMetric(ms(bringUp), "bringup-ms")
	b.ReportMetric(ms(lanStart), "lan-start-ms")
	b.ReportMetric(ms(start-lanStart), "mesh-extra-ms")
}

// newMeshBench writes the services file of BenchmarkMeshBringUp10 for hosts, whose nodes are
// on a network of type netType ("wireguard" or "lan") and subnet, in a data dir of its own.
// When the benchmark ends it brings the stack down (the mesh's interfaces with it), then
// stops its daemon.
func newMeshBench(t testing.TB, lan *testenv.LAN, hosts []*testenv.Host, netType string, subnet netip.Prefix) *remoteBench {
	var nodes, services strings.Builder
	for i, h := range hosts {
		fmt.Fprintf(&nodes, "      - {name: %s, host: %s, ssh_user: root, ssh_key: %s}\n", h.Name, h.Addr, lan.KeyFile)
		fmt.Fprintf(&services, "  s%d:\n    type: remote\n    host: %s\n    binary: sleep\n    args: [\"600\"]\n    ports: [18080]\n", i, h.Name)
		if i > 0 {
			services.WriteString("    env: {PEER: \"${s0.addr}\"}\n")
		}
	}
	port := ""
	if netType == "wireguard" {
		port = "    listen_port: 51820\n"
	}
	yaml := fmt.Sprintf(`version: "1.0"
name: bench-%[1]s
settings:
  known_hosts: %[2]s
networks:
  nodes:
    type: %[1]s
    subnet: %[3]s
%[4]s    nodes:
%[5]sservices:
%[6]s`, netType, lan.KnownHosts, subnet, port, nodes.String(), services.String())
	dir, err := os.MkdirTemp(t.TempDir(), netType)
	if err != nil {
		t.Fatal(err)
	}
	rb := &remoteBench{t: t, hosts: hosts, dir: dir, file: filepath.Join(dir, "services.yaml"), data: filepath.Join(dir, "data"),
		marker: fmt.Sprintf("HARNESS_E2E=%s-%s-%d", t.Name(), netType, time.Now().UnixNano())}
	rb.environ = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "NO_COLOR=1", rb.marker}
	if err := os.WriteFile(rb.file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	// Registered after the hosts: both run before they are removed, down first.
	t.Cleanup(rb.cleanup)
	t.Cleanup(func() { _, _ = rb.run("down") })
	return rb
}

// meshUpLine matches the daemon's log line of a mesh brought up.
var meshUpLine = regexp.MustCompile(`msg="mesh up" .*members="\[([^\]]*)\]" took=(\S+)`)

// meshTook is the bring-up time of the daemon's latest "mesh up" line, which must be new since
// the previous call and name 10 members.
func meshTook(rb *remoteBench) time.Duration {
	log := rb.daemonLog()
	seen := rb.daemonLogRead
	rb.daemonLogRead = len(log)
	ms := meshUpLine.FindAllStringSubmatch(log[min(seen, len(log)):], -1)
	if len(ms) == 0 {
		rb.t.Fatalf("daemon.log: no new \"mesh up\" line\n%s", log)
	}
	m := ms[len(ms)-1]
	if got := len(strings.Fields(m[1])); got != benchHosts {
		rb.t.Fatalf("mesh up with %d members (%s), want %d", got, m[1], benchHosts)
	}
	d, err := time.ParseDuration(m[2])
	if err != nil {
		rb.t.Fatalf("daemon.log: took=%s: %v", m[2], err)
	}
	return d
}

// checkMeshBench fails the benchmark unless s0 to s9 run, sI on host hI, and s1's PEER is
// s0's address in subnet (the mesh's; any address when subnet is zero).
func checkMeshBench(rb *remoteBench, subnet netip.Prefix) {
	rb.t.Helper()
	st := rb.status()
	for i, h := range rb.hosts {
		if svc := st[fmt.Sprintf("s%d", i)]; svc.State != "running" || svc.Node != h.Name {
			rb.t.Fatalf("s%d: %+v; want running on %s", i, svc, h.Name)
		}
	}
	r, err := rb.run("exec", "s1", "--", "sh", "-c", "echo $PEER")
	if err != nil || r.code != 0 {
		rb.t.Fatalf("harness exec s1: %v %s", err, r)
	}
	peer, err := netip.ParseAddrPort(strings.TrimSpace(r.stdout))
	if err != nil || subnet.IsValid() && !subnet.Contains(peer.Addr()) {
		rb.t.Fatalf("s1's PEER is %q, want s0's address in %s", r.stdout, subnet)
	}
}
