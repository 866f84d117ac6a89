//go:build integration

package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/testenv"
)

// benchHosts is the number of test hosts of BenchmarkRemoteStart10Hosts.
const benchHosts = 10

// BenchmarkRemoteStart10Hosts measures issue 6's target: one remote service on each of 10 test
// hosts, started by `harness start` on hosts that have never seen harness (cold: the daemon is
// started, the harness binary is uploaded to every host, the agents are started, then the
// services, until every TCP check passes), against the floor of Ansible copying the same binary
// to the same number of fresh hosts and starting it detached (forks=10, every other setting
// Ansible's default, fact gathering included); and again on hosts whose agent runs (warm).
// Every iteration builds its hosts afresh, outside the timer, and removes them before the next
// one. No timing is asserted: the figures are reported (docs/PERFORMANCE.md, "Remote nodes").
//
//	go test -tags integration -run '^$' -bench BenchmarkRemoteStart10Hosts -benchtime 3x ./internal/e2e/
//
// Sub-benchmarks:
//
//   - cold: ns/op and start-s are the `harness start` on fresh hosts; install-max-s and
//     ready-max-s are the slowest node's upload and upload-to-agent-ready, from the daemon's log.
//   - ansible-floor: ns/op and ansible-s are the `ansible-playbook` run. Skipped (failed when
//     CI is set) when ansible-playbook is not installed.
//   - warm: ns/op and warm-s are `harness start` after `harness stop`, same daemon, agents
//     present; fresh-daemon-s is a start from a new daemon with a new data dir (the old one
//     stopped), agents present.
//   - cold-vs-ansible: both in the same iteration on hosts of their own, taking turns at going
//     first, so that the drift of a shared machine does not favour one; ns/op and start-s are
//     harness's, ansible-s Ansible's, x-ansible the ratio of their sums.
func BenchmarkRemoteStart10Hosts(b *testing.B) {
	server := testenv.StaticBinary(b, "github.com/graph-network-harness/harness/internal/testenv/testserver")

	b.Run("cold", func(b *testing.B) {
		var total, install, ready time.Duration
		for b.Loop() {
			b.StopTimer()
			it := newIteration(b)
			hs := newRemoteBench(it, server, nil)
			d := timed(b, func() { hs.harness("start") })
			hs.checkRunning()
			in, rd := hs.agentTimes()
			b.Logf("cold: start %s; slowest node: upload %s, agent ready %s", d.Round(time.Millisecond), in.Round(time.Millisecond), rd.Round(time.Millisecond))
			total, install, ready = total+d, install+in, ready+rd
			it.done()
			b.StartTimer()
		}
		n := float64(b.N)
		b.ReportMetric(total.Seconds()/n, "start-s")
		b.ReportMetric(install.Seconds()/n, "install-max-s")
		b.ReportMetric(ready.Seconds()/n, "ready-max-s")
	})

	b.Run("ansible-floor", func(b *testing.B) {
		playbook := testenv.Command(b, "ansible-playbook") // Debian: apt-get install ansible
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			it := newIteration(b)
			ab := newAnsibleBench(it, playbook, fmt.Sprintf(ansiblePlaybook, harnessBin))
			d := timed(b, ab.run)
			ab.check()
			b.Logf("ansible-floor: ansible-playbook %s", d.Round(time.Millisecond))
			total += d
			it.done()
			b.StartTimer()
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "ansible-s")
	})

	b.Run("warm", func(b *testing.B) {
		var warm, fresh time.Duration
		for b.Loop() {
			b.StopTimer()
			it := newIteration(b)
			hs := newRemoteBench(it, server, nil)
			hs.harness("start")
			first := hs.checkRunning()
			hs.harness("stop")
			w := timed(b, func() { hs.harness("start") })
			second := hs.checkRunning()
			// A new daemon with a new data dir: it connects to every host again and finds the
			// agents of its own binary running.
			hs.harness("stop")
			hs.harness("daemon", "stop")
			hs.newDataDir()
			t0 := time.Now()
			hs.harness("start")
			f := time.Since(t0)
			third := hs.checkRunning()
			for i := range first {
				if first[i] == second[i] || second[i] == third[i] {
					b.Fatalf("s%d: pids %d, %d, %d: a start after stop did not start it anew", i, first[i], second[i], third[i])
				}
			}
			if in, _ := hs.agentTimes(); in != 0 {
				b.Errorf("the fresh daemon uploaded the binary again (took %s)", in)
			}
			b.Logf("warm: start after stop %s; start by a fresh daemon %s", w.Round(time.Millisecond), f.Round(time.Millisecond))
			warm, fresh = warm+w, fresh+f
			it.done()
			b.StartTimer()
		}
		n := float64(b.N)
		b.ReportMetric(warm.Seconds()/n, "warm-s")
		b.ReportMetric(fresh.Seconds()/n, "fresh-daemon-s")
	})

	b.Run("cold-vs-ansible", func(b *testing.B) {
		playbook := testenv.Command(b, "ansible-playbook") // Debian: apt-get install ansible
		var cold, floor time.Duration
		i := 0
		for b.Loop() {
			b.StopTimer()
			runHarness := func() {
				it := newIteration(b)
				hs := newRemoteBench(it, server, nil)
				d := timed(b, func() { hs.harness("start") })
				hs.checkRunning()
				cold += d
				b.Logf("cold-vs-ansible %d: harness start %s", i, d.Round(time.Millisecond))
				it.done()
			}
			runAnsible := func() {
				it := newIteration(b)
				ab := newAnsibleBench(it, playbook, fmt.Sprintf(ansiblePlaybook, harnessBin))
				t0 := time.Now()
				ab.run()
				d := time.Since(t0)
				ab.check()
				floor += d
				b.Logf("cold-vs-ansible %d: ansible-playbook %s", i, d.Round(time.Millisecond))
				it.done()
			}
			if i%2 == 0 {
				runHarness()
				runAnsible()
			} else {
				runAnsible()
				runHarness()
			}
			i++
			b.StartTimer()
		}
		n := float64(b.N)
		b.ReportMetric(cold.Seconds()/n, "start-s")
		b.ReportMetric(floor.Seconds()/n, "ansible-s")
		b.ReportMetric(cold.Seconds()/floor.Seconds(), "x-ansible")
	})
}

// timed runs f with b's timer on and returns how long it took. The timer must be stopped.
func timed(b *testing.B, f func()) time.Duration {
	b.StartTimer()
	t0 := time.Now()
	f()
	d := time.Since(t0)
	b.StopTimer()
	return d
}

// iteration is a testing.TB for what one iteration of a benchmark creates: its Cleanup
// functions run when the iteration ends (done), not when the benchmark does, so that the hosts
// of one iteration are gone before the next one builds its own. Everything else is b's. done
// also runs at b's cleanup, for an iteration that a Fatal ended early.
type iteration struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func newIteration(b *testing.B) *iteration {
	it := &iteration{TB: b}
	b.Cleanup(it.done)
	return it
}

func (it *iteration) Cleanup(f func()) {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.cleanups = append(it.cleanups, f)
}

// done runs the Cleanup functions registered so far, the last one first.
func (it *iteration) done() {
	it.mu.Lock()
	fs := it.cleanups
	it.cleanups = nil
	it.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

// newHosts makes a LAN of benchHosts fresh hosts, h0 to h9.
func newHosts(t testing.TB) (*testenv.LAN, []*testenv.Host) {
	lan := testenv.NewLAN(t, "bench")
	hosts := make([]*testenv.Host, benchHosts)
	for i := range hosts {
		hosts[i] = lan.Host(t, fmt.Sprintf("h%d", i))
	}
	return lan, hosts
}

// remoteBench is a stack with one remote testserver service per host of a fresh LAN, s0 on h0
// to s9 on h9, driven through the harness binary as newStack's stack is.
type remoteBench struct {
	t               testing.TB
	hosts           []*testenv.Host
	dir, file, data string
	marker          string
	environ         []string
	daemonLogRead   int // bytes of DATA/daemon.log that agentTimes has read
}

// newRemoteBench makes a remoteBench; more, when not nil, returns more services (lines of the
// services: section) for host hI, written after sI.
func newRemoteBench(t testing.TB, server string, more func(i int) string) *remoteBench {
	lan, hosts := newHosts(t)
	var nodes, services strings.Builder
	for i, h := range hosts {
		copyExecutable(t, server, h.Path("/root/testserver"))
		fmt.Fprintf(&nodes, "      - {name: %s, host: %s, ssh_user: root, ssh_key: %s}\n", h.Name, h.Addr, lan.KeyFile)
		fmt.Fprintf(&services, `  s%d:
    type: remote
    host: %s
    binary: /root/testserver
    args: ["-listen", ":18080"]
    ports: [18080]
    health_check: {tcp: 18080}
`, i, h.Name)
		if more != nil {
			services.WriteString(more(i))
		}
	}
	yaml := fmt.Sprintf(`version: "1.0"
name: bench
settings:
  known_hosts: %s
networks:
  lan:
    type: lan
    subnet: %s
    nodes:
%sservices:
%s`, lan.KnownHosts, lan.Subnet, nodes.String(), services.String())
	dir, err := os.MkdirTemp(t.TempDir(), "stack")
	if err != nil {
		t.Fatal(err)
	}
	rb := &remoteBench{t: t, hosts: hosts, dir: dir, file: filepath.Join(dir, "services.yaml"), data: filepath.Join(dir, "data"),
		marker: fmt.Sprintf("HARNESS_E2E=%s-%d", t.Name(), time.Now().UnixNano())}
	rb.environ = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "NO_COLOR=1", rb.marker}
	if err := os.WriteFile(rb.file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	// Registered after the hosts: it runs before they are removed.
	t.Cleanup(rb.cleanup)
	return rb
}

// run runs harness with args and returns its result.
func (rb *remoteBench) run(args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harnessBin, append([]string{"-c", rb.file, "--data-dir", rb.data}, args...)...)
	cmd.Dir = rb.dir
	cmd.Env = rb.environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if exit, ok := err.(*exec.ExitError); ok {
		r.code, err = exit.ExitCode(), nil
	}
	return r, err
}

// harness runs harness with args and fails the benchmark unless it exits 0.
func (rb *remoteBench) harness(args ...string) {
	rb.t.Helper()
	r, err := rb.run(args...)
	if err != nil || r.code != 0 {
		rb.t.Fatalf("harness %s: %v %s\n%s", strings.Join(args, " "), err, r, rb.daemonLog())
	}
}

// newDataDir makes the next command use a new data dir, hence a new daemon.
func (rb *remoteBench) newDataDir() {
	rb.data += "-next"
	rb.daemonLogRead = 0
}

// checkRunning fails the benchmark unless every service sI runs, healthy, on its own host,
// and returns their PIDs, s0's first.
func (rb *remoteBench) checkRunning() []int {
	rb.t.Helper()
	return rb.checkServices("s")
}

// status is `harness status -o json`, by service name.
func (rb *remoteBench) status() map[string]api.ServiceStatus {
	rb.t.Helper()
	r, err := rb.run("status", "-o", "json")
	if err != nil || r.code != 0 {
		rb.t.Fatalf("harness status -o json: %v %s", err, r)
	}
	var status api.Status
	if err := json.Unmarshal([]byte(r.stdout), &status); err != nil {
		rb.t.Fatalf("status -o json: %v\n%s", err, r)
	}
	st := map[string]api.ServiceStatus{}
	for _, svc := range status.Services {
		st[svc.Name] = svc
	}
	return st
}

// checkServices fails the benchmark unless every service PREFIXi runs, healthy, on host hi,
// and returns their PIDs, PREFIX0's first.
func (rb *remoteBench) checkServices(prefix string) []int {
	rb.t.Helper()
	st := rb.status()
	var pids []int
	for i, h := range rb.hosts {
		svc := st[fmt.Sprintf("%s%d", prefix, i)]
		if svc.State != "running" || svc.Health != "healthy" || svc.Node != h.Name || !slices.Contains(h.Pids(rb.t), svc.PID) {
			rb.t.Fatalf("%s%d: %+v; want running and healthy on %s", prefix, i, svc, h.Name)
		}
		pids = append(pids, svc.PID)
	}
	return pids
}

func (rb *remoteBench) daemonLog() string {
	data, _ := os.ReadFile(filepath.Join(rb.data, "daemon.log"))
	return string(data)
}

// agentLine matches the daemon's log lines of an agent's upload and readiness.
var agentLine = regexp.MustCompile(`msg="agent (installed|ready)".* took=(\S+)`)

// agentTimes returns the slowest node's upload (0 when nothing was uploaded) and the slowest
// node's time from the start of its bootstrap until its agent answered, from the lines of the
// current data dir's daemon.log that an earlier call has not read.
func (rb *remoteBench) agentTimes() (install, ready time.Duration) {
	log := rb.daemonLog()
	log = log[min(rb.daemonLogRead, len(log)):]
	rb.daemonLogRead += len(log)
	for _, m := range agentLine.FindAllStringSubmatch(log, -1) {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			rb.t.Fatalf("daemon.log: took=%s: %v", m[2], err)
		}
		if m[1] == "installed" {
			install = max(install, d)
		} else {
			ready = max(ready, d)
		}
	}
	return install, ready
}

// cleanup stops the services and the daemon, then kills what the stack's marker still finds.
func (rb *remoteBench) cleanup() {
	_, _ = rb.run("stop")
	_, _ = rb.run("daemon", "stop")
	(&stack{marker: rb.marker}).killLeftovers(rb.t.Errorf)
}

// ansibleBench is a playbook run on every host of a fresh LAN (group bench of its inventory):
// ansiblePlaybook, or another deploy to compare with.
type ansibleBench struct {
	t        testing.TB
	playbook string
	dir      string
	hosts    []*testenv.Host
}

// ansiblePlaybook copies the binary and starts it in its own session. Facts are gathered, as
// they are by default.
const ansiblePlaybook = `- hosts: bench
  tasks:
    - name: copy harness
      copy:
        src: %s
        dest: /root/harness
        mode: "0755"
    - name: start the agent
      shell: setsid /root/harness agent run --dir /root/ansible-agent </dev/null >/dev/null 2>&1 &
`

// newAnsibleBench makes an ansibleBench of the playbook yml; playbook is ansible-playbook.
func newAnsibleBench(t testing.TB, playbook, yml string) *ansibleBench {
	lan, hosts := newHosts(t)
	// A short path: Ansible's control sockets are under it, and a unix socket's path is at most
	// 107 bytes (t.TempDir's are too long).
	dir, err := os.MkdirTemp("", "hab")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	var inv strings.Builder
	inv.WriteString("[bench]\n")
	for _, h := range hosts {
		fmt.Fprintf(&inv, "%s ansible_host=%s ansible_user=root ansible_ssh_private_key_file=%s ansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes'\n",
			h.Name, h.Addr, lan.KeyFile, lan.KnownHosts)
	}
	for name, content := range map[string]string{
		"inventory":    inv.String(),
		"playbook.yml": yml,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ab := &ansibleBench{t: t, playbook: playbook, dir: dir, hosts: hosts}
	// Registered after the hosts: it runs before they are removed.
	t.Cleanup(ab.cleanup)
	return ab
}

// run runs the playbook with forks=10 and fails the benchmark unless it succeeds. HOME is the
// benchmark's directory, so that Ansible's ~/.ansible (local temporary files, the sockets of
// its persistent SSH connections) is the benchmark's own.
func (ab *ansibleBench) run() {
	ab.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ab.playbook, "-i", "inventory", "--forks", "10", "playbook.yml")
	cmd.Dir = ab.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + ab.dir, "ANSIBLE_NOCOLOR=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		ab.t.Fatalf("ansible-playbook: %v\n%s", err, out)
	}
}

// check fails the benchmark unless every host runs the agent that ansiblePlaybook started.
func (ab *ansibleBench) check() {
	ab.t.Helper()
	for _, h := range ab.hosts {
		deadline := time.Now().Add(10 * time.Second)
		for len(commands(ab.t, h, "/root/harness agent run")) == 0 {
			if time.Now().After(deadline) {
				ab.t.Fatalf("host %s does not run the agent started by Ansible", h.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// cleanup ends the SSH connections that Ansible keeps open (ControlPersist): processes of the
// root namespace whose command line names the benchmark's directory.
func (ab *ansibleBench) cleanup() {
	for _, pid := range pidsWithArg(ab.dir) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
}

// pidsWithArg returns the PIDs of the processes whose command line contains s.
func pidsWithArg(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
