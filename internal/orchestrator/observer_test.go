package orchestrator_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

// recorder is an orchestrator.Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	probes   []probeDone
	ready    []ready
	restarts []string // services
}

type probeDone struct {
	Stack, Service, Kind string
	D                    time.Duration
	Healthy              bool
}

type ready struct {
	Stack, Service string
	D              time.Duration
}

var _ orchestrator.Observer = (*recorder)(nil)

func (r *recorder) ProbeDone(stack, service, kind string, d time.Duration, healthy bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probes = append(r.probes, probeDone{stack, service, kind, d, healthy})
}

func (r *recorder) Ready(stack, service string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ready = append(r.ready, ready{stack, service, d})
}

func (r *recorder) Restarted(stack, service string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.restarts = append(r.restarts, stack+"/"+service)
}

// readies returns the Ready reports so far.
func (r *recorder) readies() []ready {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ready(nil), r.ready...)
}

// outcomes renders the probe results of service so far, in order: "+" healthy, "-" not.
// Each must be of stack and kind, and took no time (synctest, and the Fake answers at once).
func (r *recorder) outcomes(t *testing.T, stack, service, kind string) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, p := range r.probes {
		if p.Service != service {
			continue
		}
		if p.Stack != stack || p.Kind != kind || p.D != 0 {
			t.Errorf("probe report %+v; want stack %s, kind %s, no time taken", p, stack, kind)
		}
		if p.Healthy {
			b.WriteString("+")
		} else {
			b.WriteString("-")
		}
	}
	return b.String()
}

// Each run is reported ready once, timed from its launch: healthy for a checked service,
// started for one without a check. Every check of a probe is reported.
func TestObserverReadyAndProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := targettest.NewFake()
		fake.SetScript("a", healthyAfter(300*time.Millisecond))
		fake.SetScript("b", healthyAfter(300*time.Millisecond))
		obs := &recorder{}
		e := newObservedEnv(t, t.TempDir(), chain, fake, obs)
		stack := e.o.Stack().Name
		if _, err := e.o.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		// Start returns once everything is ready, which has then been reported.
		got := obs.readies()
		var services []string
		for _, r := range got {
			services = append(services, r.Service)
			if r.Stack != stack {
				t.Errorf("ready %+v: want stack %s", r, stack)
			}
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, services); diff != "" {
			t.Fatalf("ready reports (-want +got):\n%s", diff)
		}
		// a and b fail their checks for 300 ms, checked at most start_interval (100 ms) apart;
		// c has no check and the Fake starts it at once.
		for _, r := range got[:2] {
			if r.D < 300*time.Millisecond || r.D > 400*time.Millisecond {
				t.Errorf("%s ready after %v; want 300ms to 400ms", r.Service, r.D)
			}
		}
		if got[2].D != 0 {
			t.Errorf("c ready after %v; want 0 (no check, instant start)", got[2].D)
		}

		time.Sleep(2500 * time.Millisecond) // a few checks at the healthy interval
		synctest.Wait()
		e.stop()
		e.stop = nil
		if diff := cmp.Diff(got, obs.readies()); diff != "" {
			t.Errorf("ready reported again while healthy (-before +after):\n%s", diff)
		}
		checks := map[string]int{}
		for _, s := range e.calls("Exec") {
			checks[s]++
		}
		for _, svc := range []string{"a", "b"} {
			out := obs.outcomes(t, stack, svc, "command")
			// Failures until 300 ms, then successes only: one report per check.
			fails := strings.Count(out, "-")
			if len(out) != checks[svc] || fails == 0 || out != strings.Repeat("-", fails)+strings.Repeat("+", len(out)-fails) {
				t.Errorf("probe reports of %s %q, %d checks; want a report per check, failures then successes", svc, out, checks[svc])
			}
		}
	})
}

// A restart by the restart policy is reported, and each of its runs is ready once.
func TestObserverPolicyRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := targettest.NewFake()
		fake.SetScript("a", targettest.Script{Exits: true, ExitAfter: 10 * time.Millisecond, Exit: target.Exit{Code: 1}})
		yaml := `version: "1.0"
services:
  a:
    type: process
    binary: a
    restart: {policy: on-failure, max_restarts: 2, backoff: {initial: 1s, jitter: 0}}
`
		obs := &recorder{}
		e := newObservedEnv(t, t.TempDir(), yaml, fake, obs)
		stack := e.o.Stack().Name
		if _, err := e.o.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		e.stop()
		e.stop = nil
		if diff := cmp.Diff([]string{stack + "/a", stack + "/a"}, obs.restarts); diff != "" {
			t.Errorf("restarts (-want +got):\n%s", diff)
		}
		want := []ready{{stack, "a", 0}, {stack, "a", 0}, {stack, "a", 0}}
		if diff := cmp.Diff(want, obs.readies()); diff != "" {
			t.Errorf("ready reports (-want +got):\n%s", diff)
		}
		if len(obs.probes) != 0 {
			t.Errorf("probe reports %v for a service without a check", obs.probes)
		}
	})
}

// A restart of a run that turned unhealthy is reported; the new run is ready once more.
func TestObserverUnhealthyRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := targettest.NewFake()
		var calls atomic.Int64
		fake.SetScript("a", targettest.Script{Exec: func([]string) (target.ExecResult, error) {
			if calls.Add(1) == 2 { // healthy, then one failure (retries: 1)
				return target.ExecResult{ExitCode: 1}, nil
			}
			return target.ExecResult{}, nil
		}})
		yaml := `version: "1.0"
services:
  a: {type: process, binary: a, restart: always, health_check: {command: check, interval: 1s, retries: 1}}
`
		obs := &recorder{}
		e := newObservedEnv(t, t.TempDir(), yaml, fake, obs)
		stack := e.o.Stack().Name
		if _, err := e.o.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		e.stop()
		e.stop = nil
		if diff := cmp.Diff([]string{stack + "/a"}, obs.restarts); diff != "" {
			t.Errorf("restarts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]ready{{stack, "a", 0}, {stack, "a", 0}}, obs.readies()); diff != "" {
			t.Errorf("ready reports (-want +got):\n%s", diff)
		}
		// Run 1: healthy at 0s, unhealthy at 1s. Run 2, launched at 1s: healthy at 1s, 2s, 3s.
		if diff := cmp.Diff("+-+++", obs.outcomes(t, stack, "a", "command")); diff != "" {
			t.Errorf("probe reports (-want +got):\n%s", diff)
		}
	})
}

// An adopted run is probed and its checks reported, but its readiness is not timed: its
// launch was not seen.
func TestObserverAdoptedRunNotTimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := targettest.NewFake()
		yaml := `version: "1.0"
services:
  a: {type: process, binary: a, health_check: {command: check, interval: 1s}}
`
		dir := t.TempDir()
		first := &recorder{}
		e := newObservedEnv(t, dir, yaml, fake, first)
		stack := e.o.Stack().Name
		if _, err := e.o.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		e.stop() // supervision ends; a keeps running
		e.stop = nil
		if diff := cmp.Diff([]ready{{stack, "a", 0}}, first.readies()); diff != "" {
			t.Errorf("ready reports of the first supervision (-want +got):\n%s", diff)
		}

		second := &recorder{}
		again := newObservedEnv(t, dir, yaml, fake.Restarted(), second)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		again.stop()
		again.stop = nil
		if diff := cmp.Diff("++", second.outcomes(t, stack, "a", "command")); diff != "" {
			t.Errorf("probe reports of the adopted run (-want +got):\n%s", diff)
		}
		if got := second.readies(); len(got) != 0 {
			t.Errorf("ready reports of the adopted run %v; want none", got)
		}
	})
}
