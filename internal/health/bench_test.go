package health_test

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/graph-network-harness/harness/internal/health"
)

// BenchmarkProbeHTTPFirstSuccess measures how long after a server starts listening the probe
// sees it healthy. The server's port is bound and released, the probe starts, and the server
// listens on that port 50ms later: the floor of "ms-to-healthy" is 50, and "overshoot-ms" is
// the time from the listen to the healthy report. Until the first success a pause is a
// quarter of the time since the start (checks at … 33, 41, 51, 63ms), so a server that
// appears at 50ms is found by the check at 51ms.
func BenchmarkProbeHTTPFirstSuccess(b *testing.B) {
	for _, bc := range []struct {
		name          string
		startInterval time.Duration
	}{
		{"start_interval=1s", time.Second}, // the default
		{"start_interval=10ms", 10 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var total, over time.Duration
			for b.Loop() {
				toHealthy, overshoot := firstSuccess(b, bc.startInterval)
				total += toHealthy
				over += overshoot
			}
			b.ReportMetric(float64(total)/float64(b.N)/float64(time.Millisecond), "ms-to-healthy")
			b.ReportMetric(float64(over)/float64(b.N)/float64(time.Millisecond), "overshoot-ms")
		})
	}
}

func firstSuccess(b *testing.B, startInterval time.Duration) (toHealthy, overshoot time.Duration) {
	addr := closedAddr(b)
	c, err := health.HTTP(health.HTTPOptions{URL: "http://" + addr + "/health"})
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()

	start := time.Now()
	var (
		wg       sync.WaitGroup
		listenAt time.Time
		listened = make(chan struct{})
	)
	wg.Go(func() {
		time.Sleep(50 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		listenAt = time.Now()
		close(listened)
		if err != nil {
			b.Error(err)
			cancel()
			return
		}
		srv.Serve(ln)
	})
	var healthyAt time.Time
	p := health.NewProbe(c, health.Params{Interval: time.Minute, Timeout: time.Second, StartInterval: startInterval, Retries: 1000})
	p.Run(ctx, func(r health.Result) {
		if r.Status == health.StatusHealthy {
			healthyAt = time.Now()
			cancel()
		}
	})
	<-listened
	srv.Close()
	wg.Wait()
	return healthyAt.Sub(start), healthyAt.Sub(listenAt)
}

func BenchmarkExecCheckTrue(b *testing.B) {
	c := health.Exec(health.LocalExec{}, []string{"true"})
	for b.Loop() {
		if err := c.Check(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorExecTrue is the floor of BenchmarkExecCheckTrue: os/exec at its plainest.
func BenchmarkFloorExecTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}
