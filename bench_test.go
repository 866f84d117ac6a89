package harness_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/graph-network-harness/harness"
)

// TestMain lets the test binary serve as a small HTTP service for the chain benchmark:
// HARNESS_BENCH_HTTP=ADDR makes it listen on ADDR and answer /health.
func TestMain(m *testing.M) {
	if addr := os.Getenv("HARNESS_BENCH_HTTP"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchStack writes a services.yaml and returns a Manager on it in a fresh data dir.
func benchStack(b *testing.B, yaml string) *harness.Manager {
	b.Helper()
	dir := b.TempDir()
	file := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	m, err := harness.New(context.Background(), harness.Options{ConfigFile: file, DataDir: filepath.Join(dir, "data")})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkStart1000Sleep starts 1,000 independent `sleep` processes through harness until
// all are running, then stops them; compare with BenchmarkFloorExec1000.
func BenchmarkStart1000Sleep(b *testing.B) {
	var y strings.Builder
	y.WriteString("version: \"1.0\"\nname: bench\nsettings: {parallelism: 64}\nservices:\n")
	for i := range 1000 {
		fmt.Fprintf(&y, "  s%d: {type: process, binary: sleep, args: [\"600\"], shutdown_timeout: 5s}\n", i)
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		m := benchStack(b, y.String())
		b.StartTimer()
		t0, cpu := time.Now(), cpuTime()
		if err := m.Start(ctx); err != nil {
			b.Fatal(err)
		}
		start, startCPU := time.Since(t0), cpuTime()-cpu
		b.StopTimer()
		// Supervisor memory and idle CPU with the 1,000 services running and no checks.
		rss := rssMB(b)
		cpu0, idle0 := cpuTime(), time.Now()
		time.Sleep(2 * time.Second)
		idle := float64(cpuTime()-cpu0) / float64(time.Since(idle0)) * 100
		b.StartTimer()
		t1 := time.Now()
		if err := m.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		stop := time.Since(t1)
		b.StopTimer()
		m.Close()
		// The floor in the same iteration, right after: the ratio is what the target is on,
		// and the load of a shared machine drifts between runs.
		floor, _, floorStop := floorExec1000(b)
		b.ReportMetric(float64(floor.Milliseconds()), "floor-start-ms")
		b.ReportMetric(float64(start)/float64(floor), "x-floor")
		b.ReportMetric(float64(floorStop.Milliseconds()), "floor-stop-ms")
		b.ReportMetric(float64(stop)/float64(floorStop), "x-floor-stop")
		b.ReportMetric(float64(start.Milliseconds()), "start-ms")
		b.ReportMetric(float64(startCPU.Milliseconds()), "start-cpu-ms")
		b.ReportMetric(float64(stop.Milliseconds()), "stop-ms")
		b.ReportMetric(rss, "rss-MB")
		b.ReportMetric(idle, "idle-cpu-%")
		b.StartTimer()
	}
}

// BenchmarkFloorExec1000 starts 1,000 `sleep` processes with plain os/exec from 64 goroutines,
// then kills and reaps them: the floor under BenchmarkStart1000Sleep.
func BenchmarkFloorExec1000(b *testing.B) {
	for b.Loop() {
		start, startCPU, stop := floorExec1000(b)
		b.ReportMetric(float64(start.Milliseconds()), "start-ms")
		b.ReportMetric(float64(startCPU.Milliseconds()), "start-cpu-ms")
		b.ReportMetric(float64(stop.Milliseconds()), "stop-ms")
	}
}

// floorExec1000 starts 1,000 `sleep` processes with plain os/exec from 64 goroutines, then
// kills and reaps them, and returns how long the start took, its CPU, and the stop.
func floorExec1000(b *testing.B) (start, startCPU, stop time.Duration) {
	cmds := make([]*exec.Cmd, 1000)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	t0, cpu := time.Now(), cpuTime()
	for i := range cmds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cmds[i] = exec.Command("sleep", "600")
			if err := cmds[i].Start(); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	start, startCPU = time.Since(t0), cpuTime()-cpu
	t1 := time.Now()
	for _, c := range cmds {
		if c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	return start, startCPU, time.Since(t1)
}

// BenchmarkChain100Exec starts a chain of 100 services, each gated on an exec check `true`
// of the one before, until all are healthy.
func BenchmarkChain100Exec(b *testing.B) {
	var y strings.Builder
	y.WriteString("version: \"1.0\"\nname: chain\nservices:\n")
	for i := range 100 {
		fmt.Fprintf(&y, "  s%d:\n    type: process\n    binary: sleep\n    args: [\"600\"]\n    health_check: {command: \"true\", interval: 30s}\n", i)
		if i > 0 {
			fmt.Fprintf(&y, "    dependencies: [s%d]\n", i-1)
		}
	}
	benchChain(b, y.String(), func(start func(*exec.Cmd)) {
		for range 100 {
			start(exec.Command("sleep", "600"))
			if err := exec.Command("true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChain50HTTP starts a chain of 50 small HTTP servers (this test binary), each gated
// on an HTTP check of the one before, until all are healthy.
func BenchmarkChain50HTTP(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var y strings.Builder
	y.WriteString("version: \"1.0\"\nname: http\nservices:\n")
	ports := freePorts(b, 50)
	for i, port := range ports {
		fmt.Fprintf(&y, "  s%d:\n    type: process\n    binary: %s\n    env: {HARNESS_BENCH_HTTP: \"127.0.0.1:%d\"}\n    ports: [%d]\n    health_check: {http: \"http://127.0.0.1:%d/health\", interval: 30s}\n", i, self, port, port, port)
		if i > 0 {
			fmt.Fprintf(&y, "    dependencies: [s%d]\n", i-1)
		}
	}
	benchChain(b, y.String(), func(start func(*exec.Cmd)) {
		for _, port := range ports {
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), fmt.Sprintf("HARNESS_BENCH_HTTP=127.0.0.1:%d", port))
			start(cmd)
			url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
			for {
				if resp, err := http.Get(url); err == nil {
					resp.Body.Close()
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	})
}

// benchChain starts the chain of yaml until every service is healthy, then, in the same
// iteration, runs floor: the same chain by hand, each service started (with start, which
// keeps it for the kill after) once the one before answered its check, run by hand too.
func benchChain(b *testing.B, yaml string, floor func(start func(*exec.Cmd))) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		m := benchStack(b, yaml)
		b.StartTimer()
		t0 := time.Now()
		if err := m.Start(ctx); err != nil {
			b.Fatal(err)
		}
		healthy := time.Since(t0)
		b.StopTimer()
		if err := m.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		var started []*exec.Cmd
		t1 := time.Now()
		floor(func(cmd *exec.Cmd) {
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			started = append(started, cmd)
		})
		floorTook := time.Since(t1)
		for _, c := range started {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		b.ReportMetric(float64(healthy.Milliseconds()), "healthy-ms")
		b.ReportMetric(float64(floorTook.Milliseconds()), "floor-ms")
		b.ReportMetric(float64(healthy)/float64(floorTook), "x-floor")
		b.StartTimer()
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago: every listener is
// held until all are chosen, so that none is handed out twice.
func freePorts(b *testing.B, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// rssMB is this process's resident memory in MB, from /proc/self/status.
func rssMB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// cpuTime is the user and system CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
