//go:build integration

package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/internal/testenv"
)

// deployDataBytes is the size of the package's incompressible data file: with the testserver
// (≈5 MB once compressed) the archive is ≈20 MB.
const deployDataBytes = 15_000_000

// deployManifest is the manifest of the package of BenchmarkDeploy10Hosts: the testserver,
// listening on 18090, checked by a TCP check (default timings).
const deployManifest = `name: edge
version: 1.0.0
service:
  executable: bin/edge
  args: ["-listen", ":18090"]
  ports: [18090]
  health_check: {tcp: 18090}
`

// deployPlaybook deploys the same archive with Ansible, as its user would: the install
// directory, the archive copied there (copy), unpacked (tar xzf, through command), the
// executable started detached, then wait_for until it listens. %s is the archive. Facts are
// gathered, as they are by default. (unarchive, which copies and unpacks in one task, was
// slower here: 68–73 s against 63–68 s.)
const deployPlaybook = `- hosts: bench
  tasks:
    - name: install directory
      file: {path: /root/apps/edge, state: directory}
    - name: copy the package
      copy: {src: %s, dest: /root/apps/edge.tar.gz}
    - name: unpack it
      command: tar xzf /root/apps/edge.tar.gz -C /root/apps/edge
    - name: start edge
      shell: setsid /root/apps/edge/bin/edge -listen :18090 </dev/null >/dev/null 2>&1 &
    - name: wait until it listens
      wait_for: {port: 18090}
`

// BenchmarkDeploy10Hosts measures issue 7's target: one ≈20 MB package deployed to 10 test
// hosts at once (upload, unpack, start, until every check passes), against the floor of
// Ansible doing the same copy, unpack and start of the same archive with forks=10 (every other
// setting Ansible's default, fact gathering included), measured in the same iteration. Every
// turn of an iteration builds its hosts afresh, outside the timer, and removes them after.
// No timing is asserted: the figures are reported (docs/PERFORMANCE.md, "Packages and
// deploy").
//
//	go test -tags integration -run '^$' -bench BenchmarkDeploy10Hosts -benchtime 3x -v ./internal/e2e/
//
// The package (built once, outside the timer, with `harness package`): manifest.yaml,
// bin/edge (the static testserver), share/data.bin (deployDataBytes of seeded random bytes).
// The stack: the remote testservers s0 to s9 of newRemoteBench, and edge0 to edge9, the
// package's services, edgeI on host hI, installed in /root/apps/edge.
//
// Sub-benchmarks:
//
//   - vs-ansible: three turns an iteration, each on hosts of its own, taking turns at going
//     first (the order rotates) so that the drift of a shared machine favours none. cold:
//     `harness start edge0 … edge9` with a fresh data dir (the daemon is started, the harness
//     binary uploaded to every host and its agent started, then the archive is uploaded,
//     installed and started on every host, until every check passes; ns/op and harness-s).
//     warm-agents: the same, once `harness start s0 … s9` (untimed; the harness binary put in
//     place on the hosts beforehand, so that it uploads nothing) has started the agents, so
//     that only the deploy is timed (warm-agents-s). Then the Ansible playbook (ansible-s).
//     x-ansible and x-ansible-warm are the ratios of the sums. agents-s is when the last agent
//     answered in the cold turn; upload-max-s and warm-upload-max-s the slowest node's upload
//     of the archive (the birth and modification times of the archive on the node: the agent
//     writes it to a temporary file that it renames).
//   - from-dir: the cold turn with `package:` the package directory instead of its archive,
//     so that harness builds the archive itself (ns/op and harness-s).
//
// Each harness turn logs its timeline: per node, when the upload began and ended, when the
// release was installed (its .harness-release.json, written last) and when the process
// started, from the start of the command.
func BenchmarkDeploy10Hosts(b *testing.B) {
	server := testenv.StaticBinary(b, "github.com/graph-network-harness/harness/internal/testenv/testserver")
	pkgDir, archive := newDeployPackage(b, server)
	info, err := os.Stat(archive)
	if err != nil {
		b.Fatal(err)
	}
	archiveMB := float64(info.Size()) / 1e6
	b.Logf("archive %s: %d bytes", filepath.Base(archive), info.Size())

	b.Run("vs-ansible", func(b *testing.B) {
		playbook := testenv.Command(b, "ansible-playbook") // Debian: apt-get install ansible
		var cold, warm, floor time.Duration
		var agents, upload, warmUpload time.Duration
		i := 0
		for b.Loop() {
			b.StopTimer()
			turns := []func(){
				func() {
					d, ph := coldDeploy(b, server, archive)
					b.Logf("vs-ansible %d: cold harness start %s; %s", i, d.Round(time.Millisecond), ph)
					cold, agents, upload = cold+d, agents+ph.agentsReady, upload+ph.maxUpload()
				},
				func() {
					it := newIteration(b)
					rb := newRemoteBench(it, server, edgeService(archive))
					placeHarness(rb)
					rb.harness(append([]string{"start"}, serviceNames("s")...)...)
					rb.checkRunning()
					if in, _ := rb.agentTimes(); in != 0 {
						b.Errorf("harness was uploaded again (took %s): placeHarness put it where harness does not look", in)
					}
					t0 := time.Now()
					rb.harness(startEdges...)
					d := time.Since(t0)
					ph := deployPhases(rb, t0)
					b.Logf("vs-ansible %d: warm-agents harness start %s; %s", i, d.Round(time.Millisecond), ph)
					warm, warmUpload = warm+d, warmUpload+ph.maxUpload()
					it.done()
				},
				func() {
					it := newIteration(b)
					ab := newAnsibleBench(it, playbook, fmt.Sprintf(deployPlaybook, archive))
					t0 := time.Now()
					ab.run()
					d := time.Since(t0)
					checkAnsibleDeploy(ab)
					b.Logf("vs-ansible %d: ansible-playbook %s", i, d.Round(time.Millisecond))
					floor += d
					it.done()
				},
			}
			for k := range turns {
				turns[(i+k)%len(turns)]()
			}
			i++
			b.StartTimer()
		}
		n := float64(b.N)
		b.ReportMetric(cold.Seconds()/n, "harness-s")
		b.ReportMetric(warm.Seconds()/n, "warm-agents-s")
		b.ReportMetric(floor.Seconds()/n, "ansible-s")
		b.ReportMetric(cold.Seconds()/floor.Seconds(), "x-ansible")
		b.ReportMetric(warm.Seconds()/floor.Seconds(), "x-ansible-warm")
		b.ReportMetric(agents.Seconds()/n, "agents-s")
		b.ReportMetric(upload.Seconds()/n, "upload-max-s")
		b.ReportMetric(warmUpload.Seconds()/n, "warm-upload-max-s")
		b.ReportMetric(archiveMB, "archive-MB")
	})

	b.Run("from-dir", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			d, ph := coldDeploy(b, server, pkgDir)
			b.Logf("from-dir: cold harness start %s; %s", d.Round(time.Millisecond), ph)
			total += d
			b.StartTimer()
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "harness-s")
		b.ReportMetric(archiveMB, "archive-MB")
	})
}

// startEdges are the arguments of the timed start: the package services.
var startEdges = append([]string{"start"}, serviceNames("edge")...)

// coldDeploy times, with b's timer (stopped when called), `harness start edge0 … edge9` with
// a fresh data dir on fresh hosts that have never seen harness, the package at pkg, and
// returns how long it took and its timeline. The hosts are gone when it returns.
func coldDeploy(b *testing.B, server, pkg string) (time.Duration, phases) {
	it := newIteration(b)
	defer it.done()
	rb := newRemoteBench(it, server, edgeService(pkg))
	t0 := time.Now()
	d := timed(b, func() { rb.harness(startEdges...) })
	return d, deployPhases(rb, t0)
}

// newDeployPackage writes the package directory edge/ of the benchmark and builds its archive
// with `harness package`; it returns both.
func newDeployPackage(b *testing.B, server string) (dir, archive string) {
	b.Helper()
	root := b.TempDir()
	dir = filepath.Join(root, "edge")
	for _, d := range []string{"bin", "share"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte(deployManifest), 0o644); err != nil {
		b.Fatal(err)
	}
	copyExecutable(b, server, filepath.Join(dir, "bin", "edge"))
	data := make([]byte, deployDataBytes)
	_, _ = rand.NewChaCha8([32]byte{'e', 'd', 'g', 'e'}).Read(data) // never fails
	if err := os.WriteFile(filepath.Join(dir, "share", "data.bin"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	archive = filepath.Join(root, "edge-1.0.0.tar.gz")
	if out, err := exec.Command(harnessBin, "package", dir, "-o", archive).CombinedOutput(); err != nil {
		b.Fatalf("harness package: %v\n%s", err, out)
	}
	return dir, archive
}

// harnessSum is the SHA-256 of harnessBin, in hex.
var harnessSum = sync.OnceValues(func() (string, error) {
	data, err := os.ReadFile(harnessBin)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), err
})

// placeHarness copies harnessBin to every host of rb where harness installs itself
// (~/.harness/bin/VERSION-SHA8/harness, docs/remote.md; VERSION is "dev" for a go build), so
// that a first start starts the agents without uploading the binary.
func placeHarness(rb *remoteBench) {
	rb.t.Helper()
	sum, err := harnessSum()
	if err != nil {
		rb.t.Fatal(err)
	}
	for _, h := range rb.hosts {
		bin := h.Path("/root/.harness/bin/dev-" + sum[:8] + "/harness")
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			rb.t.Fatal(err)
		}
		copyExecutable(rb.t, harnessBin, bin)
	}
}

// serviceNames returns PREFIX0 to PREFIX9, the services of the benchmark's hosts.
func serviceNames(prefix string) []string {
	names := make([]string, benchHosts)
	for i := range names {
		names[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return names
}

// edgeService returns the package service edgeI of host hI, the package at pkg.
func edgeService(pkg string) func(i int) string {
	return func(i int) string {
		return fmt.Sprintf(`  edge%d:
    type: package
    host: h%d
    package: %s
    install_path: /root/apps/edge
`, i, i, pkg)
	}
}

// phases is when, from the start of a `harness start` of the edge services, each node
// reached each step of its deploy: its agent answered (cold only: 0 when the agents were up),
// the upload of the archive began and ended, the release was installed, the process started.
type phases struct {
	agentsReady time.Duration // the last agent
	nodes       []nodePhases
}

type nodePhases struct {
	uploadStart, uploadEnd, installed, started time.Duration
}

func (p phases) maxUpload() time.Duration {
	var m time.Duration
	for _, n := range p.nodes {
		m = max(m, n.uploadEnd-n.uploadStart)
	}
	return m
}

// String writes the range over the nodes of each step, in seconds.
func (p phases) String() string {
	span := func(f func(n nodePhases) time.Duration) string {
		var ds []time.Duration
		for _, n := range p.nodes {
			ds = append(ds, f(n))
		}
		return fmt.Sprintf("%.2f–%.2f s", slices.Min(ds).Seconds(), slices.Max(ds).Seconds())
	}
	var s strings.Builder
	if p.agentsReady > 0 {
		fmt.Fprintf(&s, "last agent ready at %.2f s; ", p.agentsReady.Seconds())
	}
	fmt.Fprintf(&s, "uploads began %s, ended %s (each %s); installed %s (each %s after its upload); started %s",
		span(func(n nodePhases) time.Duration { return n.uploadStart }),
		span(func(n nodePhases) time.Duration { return n.uploadEnd }),
		span(func(n nodePhases) time.Duration { return n.uploadEnd - n.uploadStart }),
		span(func(n nodePhases) time.Duration { return n.installed }),
		span(func(n nodePhases) time.Duration { return n.installed - n.uploadEnd }),
		span(func(n nodePhases) time.Duration { return n.started }))
	return s.String()
}

// agentReadyLine matches the daemon's log line of an agent that answers, with its time.
var agentReadyLine = regexp.MustCompile(`time=(\S+) level=INFO msg="agent ready"`)

// deployPhases checks that edgeI runs, healthy, on hI, from a release in /root/apps/edge, and
// returns when each node reached each step since t0: from the daemon's log, the times of the
// files the deploy wrote on the nodes, and the processes' start times.
func deployPhases(rb *remoteBench, t0 time.Time) phases {
	rb.t.Helper()
	pids := rb.checkServices("edge")
	var p phases
	for _, m := range agentReadyLine.FindAllStringSubmatch(rb.daemonLog(), -1) {
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			rb.t.Fatalf("daemon.log: time=%s: %v", m[1], err)
		}
		if at.After(t0) {
			p.agentsReady = max(p.agentsReady, at.Sub(t0))
		}
	}
	for i, h := range rb.hosts {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pids[i])); err != nil || !strings.Contains(exe, "/root/apps/edge/releases/1.0.0-") {
			rb.t.Fatalf("edge%d runs %q (%v), not a release of /root/apps/edge", i, exe, err)
		}
		archives, _ := filepath.Glob(h.Path("/root/apps/edge/archives/*.tar.gz"))
		metas, _ := filepath.Glob(h.Path("/root/apps/edge/releases/*/.harness-release.json"))
		if len(archives) != 1 || len(metas) != 1 {
			rb.t.Fatalf("%s: archives %v, releases %v; want one of each", h.Name, archives, metas)
		}
		born, written := fileTimes(rb.t, archives[0])
		_, installed := fileTimes(rb.t, metas[0])
		p.nodes = append(p.nodes, nodePhases{uploadStart: born.Sub(t0), uploadEnd: written.Sub(t0),
			installed: installed.Sub(t0), started: processStart(rb.t, pids[i]).Sub(t0)})
	}
	return p
}

// fileTimes returns the birth and modification times of the file p.
func fileTimes(t testing.TB, p string) (born, modified time.Time) {
	t.Helper()
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, 0, unix.STATX_BTIME|unix.STATX_MTIME, &st); err != nil {
		t.Fatalf("statx %s: %v", p, err)
	}
	if st.Mask&unix.STATX_BTIME == 0 {
		t.Fatalf("statx %s: the file system keeps no birth time", p)
	}
	return time.Unix(st.Btime.Sec, int64(st.Btime.Nsec)), time.Unix(st.Mtime.Sec, int64(st.Mtime.Nsec))
}

// processStart returns when the process pid started, to the clock tick (10 ms).
func processStart(t testing.TB, pid int) time.Time {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	uptime, uerr := os.ReadFile("/proc/uptime")
	now := time.Now()
	if err != nil || uerr != nil {
		t.Fatalf("process %d: %v %v", pid, err, uerr)
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	fields := strings.Fields(rest) // from the state, the 3rd field of stat: starttime is the 22nd
	up, _, _ := strings.Cut(string(uptime), " ")
	upSeconds, uerr := strconv.ParseFloat(up, 64)
	if len(fields) < 20 || uerr != nil {
		t.Fatalf("/proc/%d/stat %q, /proc/uptime %q", pid, stat, uptime)
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		t.Fatalf("/proc/%d/stat: starttime: %v", pid, err)
	}
	boot := now.Add(-time.Duration(upSeconds * float64(time.Second)))
	return boot.Add(time.Duration(ticks) * 10 * time.Millisecond) // USER_HZ is 100
}

// checkAnsibleDeploy fails the benchmark unless every host of ab runs edge from the archive
// that Ansible unpacked (wait_for saw it listen).
func checkAnsibleDeploy(ab *ansibleBench) {
	ab.t.Helper()
	for _, h := range ab.hosts {
		info, err := os.Stat(h.Path("/root/apps/edge/share/data.bin"))
		if err != nil || info.Size() != deployDataBytes {
			ab.t.Fatalf("%s: share/data.bin: %v; want %d bytes", h.Name, err, deployDataBytes)
		}
		if n := len(commands(ab.t, h, "/root/apps/edge/bin/edge -listen :18090")); n != 1 {
			ab.t.Fatalf("%s runs %d edge processes started by Ansible, want 1", h.Name, n)
		}
	}
}
