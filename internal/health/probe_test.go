package health_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/health"
)

const ms = time.Millisecond

// step is one programmed answer of a scripted checker.
type step struct {
	fail    bool          // return errFail
	took    time.Duration // sleep this long first (fake time)
	hang    bool          // block until the check's ctx ends, return its error
	forever bool          // block, ignoring ctx, until the script's release is closed
}

var (
	pass    = step{}
	fail    = step{fail: true}
	errFail = errors.New("scripted failure")
)

// scripted is a Checker that answers with a programmed sequence (the last step repeats) and
// records when, relative to its creation, each call started.
type scripted struct {
	t0      time.Time
	release chan struct{}

	mu    sync.Mutex
	steps []step
	calls []time.Duration
}

func newScripted(steps ...step) *scripted {
	return &scripted{t0: time.Now(), release: make(chan struct{}), steps: steps}
}

func (s *scripted) Check(ctx context.Context) error {
	s.mu.Lock()
	s.calls = append(s.calls, time.Since(s.t0))
	st := s.steps[0]
	if len(s.steps) > 1 {
		s.steps = s.steps[1:]
	}
	s.mu.Unlock()
	if st.took > 0 {
		time.Sleep(st.took)
	}
	switch {
	case st.hang:
		<-ctx.Done()
		return ctx.Err()
	case st.forever:
		<-s.release
		return nil
	case st.fail:
		return errFail
	}
	return nil
}

func (s *scripted) callTimes() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.calls...)
}

// rec is a Result with times relative to the start of Run and the error as text.
type rec struct {
	At      time.Duration
	Err     string
	Latency time.Duration
	Status  health.Status
	Changed bool
}

// runProbe runs a probe of c until it has reported n results and returns them. It must be
// called inside a synctest bubble, and fails the test when Run returns an error.
func runProbe(t *testing.T, c health.Checker, p health.Params, n int) []rec {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	t0 := time.Now()
	var got []rec
	err := health.NewProbe(c, p).Run(ctx, func(r health.Result) {
		e := ""
		if r.Err != nil {
			e = r.Err.Error()
		}
		got = append(got, rec{r.At.Sub(t0), e, r.Latency, r.Status, r.Changed})
		if len(got) == n {
			cancel()
		}
	})
	if err != nil {
		t.Errorf("Run: %v", err)
	}
	return got
}

// statuses is the Status of each result, with a "*" where it changed, and when.
func statuses(rs []rec) []string {
	var out []string
	for _, r := range rs {
		s := r.At.String() + " " + string(r.Status)
		if r.Changed {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

func TestProbeFirstSuccessLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newScripted(fail, fail, fail, pass)
		got := runProbe(t, c, health.Params{Interval: 30 * time.Second, Timeout: time.Second, StartInterval: time.Second, Retries: 10}, 4)
		want := []rec{
			{At: 0, Err: "scripted failure", Status: health.StatusStarting},
			{At: 1 * ms, Err: "scripted failure", Status: health.StatusStarting},
			{At: 2 * ms, Err: "scripted failure", Status: health.StatusStarting},
			{At: 3 * ms, Status: health.StatusHealthy, Changed: true}, // a millisecond apart, early on
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
	})
}

func TestProbeBackoffCappedAtStartInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newScripted(fail)
		runProbe(t, c, health.Params{Interval: time.Hour, Timeout: time.Second, StartInterval: 40 * ms, Retries: 100}, 30)
		// Each pause is a quarter of the time since the start, in whole milliseconds, at
		// least 1ms, at most StartInterval: 188/4 is 47, so 40 from there on.
		var want []time.Duration
		for _, t := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 22, 27, 33, 41, 51, 63, 78, 97, 121, 151, 188, 228, 268, 308, 348, 388, 428} {
			want = append(want, time.Duration(t)*ms)
		}
		if diff := cmp.Diff(want, c.callTimes()); diff != "" {
			t.Errorf("check start times (-want +got):\n%s", diff)
		}
	})
}

func TestProbeStartIntervalBelowOneMillisecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newScripted(fail)
		runProbe(t, c, health.Params{Interval: time.Hour, Timeout: time.Second, StartInterval: ms / 2, Retries: 100}, 3)
		want := []time.Duration{0, ms / 2, ms}
		if diff := cmp.Diff(want, c.callTimes()); diff != "" {
			t.Errorf("check start times (-want +got):\n%s", diff)
		}
	})
}

// After the first success the probe waits Interval from the END of one check to the start of
// the next, also after failures; slow checks show the difference from start-to-start.
func TestProbeIntervalAfterFirstSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := step{took: time.Second}
		slowFail := step{took: time.Second, fail: true}
		c := newScripted(fail, slow, slowFail, slowFail, slow)
		runProbe(t, c, health.Params{Interval: 10 * time.Second, Timeout: 5 * time.Second, StartInterval: time.Second, Retries: 5}, 5)
		want := []time.Duration{
			0,
			1 * ms,                // the pause after the first failure
			1*ms + 11*time.Second, // the success ended at 1.001s
			1*ms + 22*time.Second, // a failure after a success: still Interval, no backoff
			1*ms + 33*time.Second,
		}
		if diff := cmp.Diff(want, c.callTimes()); diff != "" {
			t.Errorf("check start times (-want +got):\n%s", diff)
		}
	})
}

func TestProbeRetries(t *testing.T) {
	tests := []struct {
		name   string
		script []step
		want   []string
	}{
		{
			// The quick checks of the backoff do not count: failures count from the first
			// check that came StartInterval after the one before.
			name:   "from starting",
			script: []step{fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail},
			want: []string{
				"0s starting", "1ms starting", "2ms starting", "3ms starting", "4ms starting", "5ms starting",
				"6ms starting", "7ms starting", "8ms starting", "10ms starting", "12ms starting", "15ms starting",
				"18ms starting", "22ms starting", "26ms starting", "30ms unhealthy*", // 4ms apart from 18ms: 22 counts
			},
		},
		{
			name:   "from healthy, then back",
			script: []step{pass, fail, fail, fail, pass},
			want:   []string{"0s healthy*", "1s healthy", "2s healthy", "3s unhealthy*", "4s healthy*"},
		},
		{
			name:   "a success resets the count",
			script: []step{pass, fail, fail, pass, fail, fail, fail},
			want: []string{
				"0s healthy*", "1s healthy", "2s healthy", "3s healthy", "4s healthy", "5s healthy", "6s unhealthy*",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := health.Params{Interval: time.Second, Timeout: time.Second, StartInterval: 4 * ms, Retries: 3}
				got := statuses(runProbe(t, newScripted(tt.script...), p, len(tt.want)))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("statuses (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestProbeStartPeriod(t *testing.T) {
	tests := []struct {
		name   string
		params health.Params
		script []step
		want   []string
	}{
		{
			// Checks 4ms apart (StartInterval) from 18ms on would count from 22ms; inside
			// the start period (30ms) they do not: 30 and 34 are the first two that count.
			name:   "failures inside do not count",
			params: health.Params{Interval: time.Hour, StartPeriod: 30 * ms, StartInterval: 4 * ms, Retries: 2},
			script: []step{fail},
			want: []string{
				"0s starting", "1ms starting", "2ms starting", "3ms starting", "4ms starting", "5ms starting",
				"6ms starting", "7ms starting", "8ms starting", "10ms starting", "12ms starting", "15ms starting",
				"18ms starting", "22ms starting", "26ms starting", "30ms starting", "34ms unhealthy*",
			},
		},
		{
			name:   "a success inside counts",
			params: health.Params{Interval: time.Hour, StartPeriod: time.Minute, StartInterval: time.Second, Retries: 1},
			script: []step{fail, pass},
			want:   []string{"0s starting", "1ms healthy*"},
		},
		{
			name:   "failures inside do not reset the successes",
			params: health.Params{Interval: 10 * ms, StartPeriod: time.Minute, StartInterval: time.Second, Retries: 1, SuccessThreshold: 2},
			script: []step{pass, fail, pass},
			want:   []string{"0s starting", "10ms starting", "20ms healthy*"},
		},
		{
			name:   "a check that starts at the end of the period counts",
			params: health.Params{Interval: 50 * ms, StartPeriod: 50 * ms, StartInterval: time.Second, Retries: 1},
			script: []step{pass, fail},
			want:   []string{"0s healthy*", "50ms unhealthy*"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.params.Timeout = time.Second
				got := statuses(runProbe(t, newScripted(tt.script...), tt.params, len(tt.want)))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("statuses (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestProbeSuccessThreshold(t *testing.T) {
	tests := []struct {
		name   string
		script []step
		want   []string
	}{
		{
			name:   "from starting",
			script: []step{pass, pass, pass},
			want:   []string{"0s starting", "1s starting", "2s healthy*"},
		},
		{
			name:   "a failure resets the count",
			script: []step{pass, pass, fail, pass, pass, pass},
			want:   []string{"0s starting", "1s starting", "2s unhealthy*", "3s unhealthy", "4s unhealthy", "5s healthy*"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := health.Params{Interval: time.Second, Timeout: time.Second, StartInterval: time.Second, Retries: 1, SuccessThreshold: 3}
				got := statuses(runProbe(t, newScripted(tt.script...), p, len(tt.want)))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("statuses (-want +got):\n%s", diff)
				}
			})
		})
	}
}

var timeoutParams = health.Params{Interval: time.Minute, Timeout: 2 * time.Second, StartInterval: time.Second, Retries: 3}

func TestProbeTimeoutOfCheckThatHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newScripted(step{hang: true}, pass)
		got := runProbe(t, c, timeoutParams, 2)
		want := []rec{
			{At: 2 * time.Second, Err: "check timed out after 2s", Latency: 2 * time.Second, Status: health.StatusStarting},
			{At: 2*time.Second + 500*ms, Status: health.StatusHealthy, Changed: true}, // a quarter of 2s later
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
	})
}

// A checker that ignores its context is abandoned at the timeout; the next check waits for it
// (within its own timeout) instead of running the checker twice at once.
func TestProbeTimeoutOfCheckThatIgnoresContext(t *testing.T) {
	t.Run("returns later", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newScripted(step{forever: true}, pass)
			time.AfterFunc(3*time.Second, func() { close(c.release) })
			got := runProbe(t, c, timeoutParams, 2)
			want := []rec{
				{At: 2 * time.Second, Err: "check timed out after 2s", Latency: 2 * time.Second, Status: health.StatusStarting},
				// Started at 2.5s, waited for the abandoned check until 3s, then passed.
				{At: 3 * time.Second, Latency: 500 * ms, Status: health.StatusHealthy, Changed: true},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]time.Duration{0, 3 * time.Second}, c.callTimes()); diff != "" {
				t.Errorf("check start times (-want +got):\n%s", diff)
			}
		})
	})
	t.Run("never returns", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newScripted(step{forever: true}, pass)
			p := timeoutParams
			p.StartInterval = 5 * ms // no quick checks: every failure after the first, immediate one counts
			p.Retries = 2
			got := runProbe(t, c, p, 3) // Run returns though the check still hangs
			want := []rec{
				{At: 2 * time.Second, Err: "check timed out after 2s", Latency: 2 * time.Second, Status: health.StatusStarting},
				{At: 4*time.Second + 5*ms, Err: "check timed out after 2s: the previous check has not returned", Latency: 2 * time.Second, Status: health.StatusStarting},
				{At: 6*time.Second + 10*ms, Err: "check timed out after 2s: the previous check has not returned", Latency: 2 * time.Second, Status: health.StatusUnhealthy, Changed: true},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]time.Duration{0}, c.callTimes()); diff != "" {
				t.Errorf("check start times (-want +got):\n%s", diff)
			}
			close(c.release)
		})
	})
}

func TestProbeRunStopsDuringCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		t0 := time.Now()
		var reports int
		err := health.NewProbe(newScripted(step{hang: true}), health.Params{Timeout: 10 * time.Second}).
			Run(ctx, func(health.Result) { reports++ })
		got := struct {
			Err      error
			Returned time.Duration
			Reports  int
		}{err, time.Since(t0), reports}
		want := got
		want.Err, want.Returned, want.Reports = nil, time.Second, 0
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Run (-want +got):\n%s", diff)
		}
	})
}

func TestProbeRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p := health.NewProbe(newScripted(pass), health.Params{})
		first := make(chan error, 1)
		go func() { first <- p.Run(ctx, func(health.Result) {}) }()
		synctest.Wait()
		second := p.Run(ctx, func(health.Result) {})
		cancel()
		got := []error{second, <-first}
		if diff := cmp.Diff([]error{health.ErrRunning, nil}, got, cmpErrors); diff != "" {
			t.Errorf("Run errors (-want +got):\n%s", diff)
		}
	})
}

var cmpErrors = cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })

func TestProbeCheckNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		p := health.NewProbe(newScripted(pass, fail, step{hang: true}), health.Params{Timeout: 2 * time.Second})
		var got []rec
		for range 3 {
			r := p.CheckNow(t.Context())
			e := ""
			if r.Err != nil {
				e = r.Err.Error()
			}
			got = append(got, rec{r.At.Sub(t0), e, r.Latency, r.Status, r.Changed})
		}
		want := []rec{
			{At: 0, Status: health.StatusStarting},
			{At: 0, Err: "scripted failure", Status: health.StatusStarting},
			{At: 2 * time.Second, Err: "check timed out after 2s", Latency: 2 * time.Second, Status: health.StatusStarting},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(health.StatusStarting, p.Status()); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
	})
}

func TestParamsDefaults(t *testing.T) {
	got := health.NewProbe(newScripted(pass), health.Params{Interval: 500 * ms, Retries: -1, StartPeriod: -time.Second}).Params()
	want := health.Params{Interval: 500 * ms, Timeout: 500 * ms, StartInterval: 500 * ms, Retries: 1, SuccessThreshold: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
}

// Failures while the gate fails too (the service's node is out of reach) are not counted:
// healthy stays healthy through them, and the count starts again after.
func TestProbeGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		down := false
		gate := func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if down {
				return errors.New("node a unreachable")
			}
			return nil
		}
		c := newScripted(pass, fail, fail, fail, fail, fail, fail, fail)
		p := health.NewProbe(c, health.Params{Interval: time.Second, Timeout: time.Second, StartInterval: time.Second, Retries: 3})
		p.SetGate(gate)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var got []string
		var inconclusive int
		_ = p.Run(ctx, func(r health.Result) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, string(r.Status))
			if errors.Is(r.Err, health.ErrInconclusive) {
				inconclusive++
			}
			switch len(got) {
			case 1:
				down = true // checks 2-5 fail with the node down
			case 5:
				down = false // checks 6-8 fail with the node up: they count
			case 8:
				cancel()
			}
		})
		want := []string{"healthy", "healthy", "healthy", "healthy", "healthy", "healthy", "healthy", "unhealthy"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if inconclusive != 4 {
			t.Errorf("%d inconclusive results, want 4", inconclusive)
		}
	})
}
