package process_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/graph-network-harness/harness/internal/target/process"
	"github.com/graph-network-harness/harness/target"
)

// benchInstances is how many instances each round of the start benchmarks runs at once.
const benchInstances = 1000

// BenchmarkStart1000 starts 1,000 instances of `sleep 60` with Target.Start from parallel
// goroutines, each with its log in one stack's log directory and a record in the journal,
// and then stops them all with Stop in parallel. start-ms and stop-ms time the two phases of
// a round, start-cpu-ms the CPU time this process used while starting; compare them with
// BenchmarkFloorExec1000 (ADR 0003 budgets 1.2×).
//
// new-logs creates every log file, as the first start of a stack does; existing-logs finds
// them, as every later start does; no-logs discards the output (Spec.LogPath empty), which
// leaves the cost of the target itself.
func BenchmarkStart1000(b *testing.B) {
	b.Run("new-logs", func(b *testing.B) { benchmarkStart(b, b.TempDir) })
	b.Run("existing-logs", func(b *testing.B) {
		dir := b.TempDir()
		for i := range benchInstances {
			if err := os.WriteFile(benchLogPath(dir, i), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		benchmarkStart(b, func() string { return dir })
	})
	b.Run("no-logs", func(b *testing.B) { benchmarkStart(b, func() string { return "" }) })
}

// benchmarkStart runs rounds of BenchmarkStart1000 with the log directory that logDir returns.
func benchmarkStart(b *testing.B, logDir func() string) {
	ctx := context.Background()
	env := []string{"PATH=" + os.Getenv("PATH")} // the PATH exec.Command searches in the floor
	stateDir := b.TempDir()
	var starting, stopping, startCPU time.Duration
	for b.Loop() {
		tg := process.New(process.Options{StateDir: stateDir})
		dir := logDir()
		handles := make([]target.Handle, benchInstances)
		var wg sync.WaitGroup
		began, cpu := time.Now(), processCPU(b)
		for i := range handles {
			wg.Go(func() {
				h, err := tg.Start(ctx, target.Spec{
					Stack:   "bench",
					Service: "svc" + strconv.Itoa(i),
					Argv:    []string{"sleep", "60"},
					Env:     env,
					LogPath: benchLogPath(dir, i),
				})
				if err != nil {
					b.Error(err)
				}
				handles[i] = h
			})
		}
		wg.Wait()
		starting += time.Since(began)
		startCPU += processCPU(b) - cpu
		began = time.Now()
		for _, h := range handles {
			if h.IsZero() {
				continue
			}
			wg.Go(func() {
				if err := tg.Stop(ctx, h, 10*time.Second); err != nil {
					b.Error(err)
				}
				if err := tg.Remove(ctx, h); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		stopping += time.Since(began)
		if err := tg.Close(); err != nil {
			b.Error(err)
		}
	}
	reportStartStop(b, starting, startCPU, stopping)
}

// benchLogPath is the log of instance i in dir; none without dir.
func benchLogPath(dir string, i int) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "svc"+strconv.Itoa(i)+".log")
}

// BenchmarkFloorExec1000 is the floor of BenchmarkStart1000: 1,000 plain
// exec.Command("sleep", "60").Start() from parallel goroutines, then kill and wait.
func BenchmarkFloorExec1000(b *testing.B) {
	var starting, stopping, startCPU time.Duration
	for b.Loop() {
		cmds := make([]*exec.Cmd, benchInstances)
		var wg sync.WaitGroup
		began, cpu := time.Now(), processCPU(b)
		for i := range cmds {
			wg.Go(func() {
				cmd := exec.Command("sleep", "60")
				if err := cmd.Start(); err != nil {
					b.Error(err)
					return
				}
				cmds[i] = cmd
			})
		}
		wg.Wait()
		starting += time.Since(began)
		startCPU += processCPU(b) - cpu
		began = time.Now()
		for _, cmd := range cmds {
			if cmd == nil {
				continue
			}
			wg.Go(func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			})
		}
		wg.Wait()
		stopping += time.Since(began)
	}
	reportStartStop(b, starting, startCPU, stopping)
}

// reportStartStop reports the phases of the rounds: wall time of starting and stopping, and
// the CPU time of this process while starting, which a busy machine disturbs less.
func reportStartStop(b *testing.B, starting, startCPU, stopping time.Duration) {
	perRound := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(perRound(starting), "start-ms")
	b.ReportMetric(perRound(startCPU), "start-cpu-ms")
	b.ReportMetric(perRound(stopping), "stop-ms")
}

// processCPU returns the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
