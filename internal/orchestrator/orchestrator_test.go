package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is one orchestrator under test, over a Fake target and a real registry file.
type env struct {
	t    *testing.T
	fake *targettest.Fake
	reg  *registry.Registry
	o    *orchestrator.Orchestrator
	stop func()
}

func newEnv(t *testing.T, yaml string, fake *targettest.Fake) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), yaml, fake)
}

// newEnvIn is newEnv on the registry and logs in dir, as a restarted daemon would find them.
func newEnvIn(t *testing.T, dir, yaml string, fake *targettest.Fake) *env {
	t.Helper()
	return newObservedEnv(t, dir, yaml, fake, nil)
}

// newObservedEnv is newEnvIn with obs as the orchestrator's Observer.
func newObservedEnv(t *testing.T, dir, yaml string, fake *targettest.Fake, obs orchestrator.Observer) *env {
	t.Helper()
	return newTargetsEnv(t, dir, yaml, fake, orchestrator.Options{Targets: map[string]target.Target{"process": fake}, Observer: obs})
}

// newTargetsEnv is newObservedEnv with opts (its Targets, Nodes, Observer); fake is the one
// whose calls the env reports.
func newTargetsEnv(t *testing.T, dir, yaml string, fake *targettest.Fake, opts orchestrator.Options) *env {
	t.Helper()
	stack, err := config.Parse(filepath.Join(dir, "services.yaml"), []byte(yaml), config.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg, err := registry.Open(filepath.Join(dir, "registry.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts.Stack, opts.Registry, opts.LogDir = stack, reg, filepath.Join(dir, "logs")
	o, err := orchestrator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	e := &env{t: t, fake: fake, reg: reg, o: o}
	e.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		reg.Close()
	}
	t.Cleanup(func() {
		if e.stop != nil {
			e.stop()
		}
	})
	if err := o.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// starts lists the services the fake started, in order.
func (e *env) calls(method string) []string {
	var out []string
	for _, c := range e.fake.Calls() {
		if c.Method == method {
			out = append(out, c.Service)
		}
	}
	return out
}

func (e *env) states() map[string]lifecycle.State {
	out := map[string]lifecycle.State{}
	for _, r := range e.o.Status() {
		out[r.Key.Service] = r.State
	}
	return out
}

const chain = `version: "1.0"
services:
  a:
    type: process
    binary: a
    health_check: {command: check, interval: 1s, start_interval: 100ms, retries: 1}
  b:
    type: process
    binary: b
    dependencies: [a]
    health_check: {command: check, interval: 1s, start_interval: 100ms, retries: 1}
  c:
    type: process
    binary: c
    dependencies: [b]
`

// healthyAfter makes a service's check fail until d after its first check, then pass.
func healthyAfter(d time.Duration) targettest.Script {
	var first atomic.Int64
	return targettest.Script{Exec: func([]string) (target.ExecResult, error) {
		now := time.Now().UnixNano()
		first.CompareAndSwap(0, now)
		if time.Duration(now-first.Load()) < d {
			return target.ExecResult{ExitCode: 1, Output: []byte("not yet")}, nil
		}
		return target.ExecResult{}, nil
	}}
}

func TestChainGatedOnHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := targettest.NewFake()
		fake.SetScript("a", healthyAfter(300*time.Millisecond))
		fake.SetScript("b", healthyAfter(300*time.Millisecond))
		e := newEnv(t, chain, fake)
		start := time.Now()
		if _, err := e.o.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, e.calls("Start")); diff != "" {
			t.Errorf("start order (-want +got):\n%s", diff)
		}
		// c may start only once b is healthy, which is only 300 ms after a was.
		if took := time.Since(start); took < 600*time.Millisecond {
			t.Errorf("the chain was ready after %v; want at least 600ms of health gating", took)
		}
		want := map[string]lifecycle.State{"a": lifecycle.Running, "b": lifecycle.Running, "c": lifecycle.Running}
		if diff := cmp.Diff(want, e.states()); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
		// While c waited, its record said so.
		type step struct {
			State   lifecycle.State
			Message string
		}
		var got []step
		for _, ev := range e.events() {
			if ev.Record.Key.Service == "c" {
				got = append(got, step{ev.Record.State, ev.Record.Message})
			}
		}
		wantSteps := []step{{lifecycle.Starting, "waiting for b (healthy)"}, {lifecycle.Running, ""}}
		if diff := cmp.Diff(wantSteps, got); diff != "" {
			t.Errorf("records of c (-want +got):\n%s", diff)
		}
		e.stop()
		e.stop = nil
	})
}

func TestFailedDependencyBlocks(t *testing.T) {
	fake := targettest.NewFake()
	fake.SetScript("a", targettest.Script{StartErr: errors.New("no such binary")})
	e := newEnv(t, chain, fake)
	res, err := e.o.Start(context.Background())
	if err == nil {
		t.Fatal("Start succeeded; want a failure")
	}
	if diff := cmp.Diff(map[string]string{"b": "a", "c": "b"}, res.Blocked); diff != "" {
		t.Errorf("blocked (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, e.calls("Start")); diff != "" {
		t.Errorf("started (-want +got):\n%s", diff)
	}
	want := map[string]lifecycle.State{"a": lifecycle.Failed, "b": lifecycle.Blocked, "c": lifecycle.Blocked}
	if diff := cmp.Diff(want, e.states()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

func TestStartupTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := targettest.NewFake()
		fake.SetScript("a", healthyAfter(time.Hour))
		yaml := `version: "1.0"
services:
  a: {type: process, binary: a, startup_timeout: 2s, health_check: {command: check, interval: 1s, retries: 1}}
  b: {type: process, binary: b, dependencies: [a]}
`
		e := newEnv(t, yaml, fake)
		start := time.Now()
		res, err := e.o.Start(context.Background())
		var te *orchestrator.TimeoutError
		if !errors.As(res.Failed["a"], &te) || err == nil {
			t.Fatalf("Start = %v, failed %v; want a startup timeout of a", err, res.Failed)
		}
		if took := time.Since(start); took != 2*time.Second {
			t.Errorf("gave up after %v; want exactly startup_timeout 2s", took)
		}
		want := map[string]lifecycle.State{"a": lifecycle.Running, "b": lifecycle.Blocked}
		if diff := cmp.Diff(want, e.states()); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
		e.stop()
		e.stop = nil
	})
}

func TestRestartBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := targettest.NewFake()
		fake.SetScript("a", targettest.Script{Exits: true, ExitAfter: 10 * time.Millisecond, Exit: target.Exit{Code: 1}})
		yaml := `version: "1.0"
services:
  a:
    type: process
    binary: a
    restart: {policy: on-failure, max_restarts: 4, backoff: {initial: 1s, max: 5s, multiplier: 2, jitter: 0}}
`
		e := newEnv(t, yaml, fake)
		t0 := time.Now()
		if _, err := e.o.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		rec := e.o.Status()[0]
		if rec.Restarts != 4 || rec.State != lifecycle.Failed {
			t.Errorf("after a minute: %d restarts, state %s; want 4 restarts then failed", rec.Restarts, rec.State)
		}
		// Runs last 10 ms; backoff 1s, 2s, 4s, 5s (capped) between them.
		want := []time.Duration{0, 1010 * time.Millisecond, 3020 * time.Millisecond, 7030 * time.Millisecond, 12040 * time.Millisecond}
		if diff := cmp.Diff(want, e.startTimes(t0)); diff != "" {
			t.Errorf("start times (-want +got):\n%s", diff)
		}
		e.stop()
		e.stop = nil
	})
}

// startTimes are the offsets from t0 at which each run started, from the registry's events.
func (e *env) startTimes(t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, ev := range e.events() {
		if ev.Record.State == lifecycle.Running && !slices.Contains(out, ev.At.Sub(t0)) {
			out = append(out, ev.At.Sub(t0))
		}
	}
	return out
}

// events returns every event the registry recorded so far.
func (e *env) events() []registry.Event {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := e.reg.Watch(ctx, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	last := e.reg.Revision()
	var out []registry.Event
	for ev := range w.Events() {
		out = append(out, ev)
		if ev.Revision == last {
			break
		}
	}
	return out
}

func TestRestartWhenUnhealthy(t *testing.T) {
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
		e := newEnv(t, yaml, fake)
		if _, err := e.o.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]string{"a", "a"}, e.calls("Start")); diff != "" {
			t.Errorf("starts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"a"}, e.calls("Stop")); diff != "" {
			t.Errorf("stops (-want +got):\n%s", diff)
		}
		if rec := e.o.Status()[0]; rec.Restarts != 1 || rec.Health != lifecycle.HealthHealthy {
			t.Errorf("record %+v; want 1 restart, healthy", rec)
		}
		e.stop()
		e.stop = nil
	})
}

func TestStopOrderAndIdempotentStart(t *testing.T) {
	fake := targettest.NewFake()
	yaml := `version: "1.0"
services:
  a: {type: process, binary: a}
  b: {type: process, binary: b, dependencies: [a]}
  c: {type: process, binary: c, dependencies: [b]}
`
	e := newEnv(t, yaml, fake)
	for range 2 {
		if _, err := e.o.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, e.calls("Start")); diff != "" {
		t.Errorf("a second start must start nothing (-want +got):\n%s", diff)
	}
	// Stopping a stops what depends on it, dependents first.
	if _, err := e.o.Stop(context.Background(), "a"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if diff := cmp.Diff([]string{"c", "b", "a"}, e.calls("Stop")); diff != "" {
		t.Errorf("stop order (-want +got):\n%s", diff)
	}
	want := map[string]lifecycle.State{"a": lifecycle.Stopped, "b": lifecycle.Stopped, "c": lifecycle.Stopped}
	if diff := cmp.Diff(want, e.states()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if _, err := e.o.Stop(context.Background()); err != nil {
		t.Errorf("stopping stopped services: %v", err)
	}
}

// Concurrent Starts (two API requests) plan from the same observed state: each service is
// still launched once.
func TestConcurrentStartsLaunchOnce(t *testing.T) {
	fake := targettest.NewFake()
	var y strings.Builder
	y.WriteString("version: \"1.0\"\nservices:\n")
	for i := range 20 {
		fmt.Fprintf(&y, "  s%d: {type: process, binary: s}\n", i)
	}
	e := newEnv(t, y.String(), fake)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := e.o.Start(context.Background()); err != nil {
				t.Errorf("Start: %v", err)
			}
		})
	}
	wg.Wait()
	launched := map[string]int{}
	for _, s := range e.calls("Start") {
		launched[s]++
	}
	for s, n := range launched {
		if n != 1 {
			t.Errorf("%s launched %d times", s, n)
		}
	}
	if len(launched) != 20 {
		t.Errorf("%d services launched, want 20", len(launched))
	}
}

// Update adds and changes services while the orchestrator runs; a Start then starts the new
// one and recreates the changed one. Removing a service, or renaming the stack, is refused.
func TestUpdate(t *testing.T) {
	fake := targettest.NewFake()
	base := `version: "1.0"
name: shop
services:
  a: {type: process, binary: a}
`
	e := newEnv(t, base, fake)
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	parse := func(yaml string) *config.Stack {
		t.Helper()
		s, err := config.Parse(filepath.Join(t.TempDir(), "services.yaml"), []byte(yaml), config.Options{Lookup: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := e.o.Update(parse(base+"  b: {type: process, binary: b, dependencies: [a]}\n"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.o.Start(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, e.calls("Start")); diff != "" {
		t.Errorf("starts after adding b (-want +got):\n%s", diff)
	}
	changed := strings.Replace(base, "binary: a}", "binary: a, args: [x]}", 1) + "  b: {type: process, binary: b, dependencies: [a]}\n"
	if err := e.o.Update(parse(changed), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.o.Start(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a"}, e.calls("Stop")); diff != "" {
		t.Errorf("stops after changing a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b", "a"}, e.calls("Start")); diff != "" {
		t.Errorf("starts after changing a (-want +got):\n%s", diff)
	}
	if err := e.o.Update(parse(base), nil); err == nil || !strings.Contains(err.Error(), `"b" cannot be removed`) {
		t.Errorf("removing b: %v, want a refusal", err)
	}
	if err := e.o.Update(parse(strings.Replace(base, "name: shop", "name: other", 1)), nil); err == nil {
		t.Error("renaming the stack was accepted")
	}
	if got := len(e.o.Stack().Services); got != 2 {
		t.Errorf("after refused updates the stack has %d services, want 2", got)
	}
}

func TestCompletedSuccessfully(t *testing.T) {
	fake := targettest.NewFake()
	fake.SetScript("migrate", targettest.Script{Exits: true, ExitAfter: 50 * time.Millisecond})
	yaml := `version: "1.0"
services:
  migrate: {type: process, binary: migrate}
  api:
    type: process
    binary: api
    dependencies: [{service: migrate, condition: completed_successfully}]
`
	e := newEnv(t, yaml, fake)
	if _, err := e.o.Start(context.Background(), "api"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	want := map[string]lifecycle.State{"migrate": lifecycle.Exited, "api": lifecycle.Running}
	if diff := cmp.Diff(want, e.states()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

func TestAdoptAfterRestart(t *testing.T) {
	fake := targettest.NewFake()
	yaml := `version: "1.0"
services:
  a: {type: process, binary: a}
  b: {type: process, binary: b}
  c: {type: process, binary: c, restart: {policy: always, backoff: {initial: 10ms}}}
`
	dir := t.TempDir()
	e := newEnvIn(t, dir, yaml, fake)
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := e.o.Status()
	e.stop() // supervision ends; the services keep running
	e.stop = nil
	// b and c die while nobody supervises them.
	for _, r := range before[1:] {
		if err := fake.Exit(r.Handle, target.Exit{Code: 2}); err != nil {
			t.Fatal(err)
		}
	}

	again := newEnvIn(t, dir, yaml, fake.Restarted())
	after := again.o.Status()
	if after[0].Handle != before[0].Handle || after[0].State != lifecycle.Running {
		t.Errorf("a after restart: %s %s; want the same handle %s, running", after[0].Handle, after[0].State, before[0].Handle)
	}
	if after[1].State != lifecycle.Failed {
		t.Errorf("b after restart: %s; want failed (it exited while unsupervised)", after[1].State)
	}
	if _, err := again.o.Start(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	// c's policy restarts it once adopted; a is adopted, not started again; b stays failed.
	deadline := time.Now().Add(10 * time.Second)
	for again.o.Status()[2].State != lifecycle.Running && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "c"}, again.calls("Start"), cmpopts.SortSlices(func(x, y string) bool { return x < y })); diff != "" {
		t.Errorf("starts (-want +got):\n%s", diff)
	}
}

// TestAdoptInterruptedStop: a supervisor that stored "stopping" for a service and ended
// before "stopped" (it died in the middle of a stop) leaves a service that its successor
// must not restart, whatever its policy: the stop was asked for.
func TestAdoptInterruptedStop(t *testing.T) {
	fake := targettest.NewFake()
	yaml := `version: "1.0"
services:
  c: {type: process, binary: c, restart: {policy: always, backoff: {initial: 1ms}}}
`
	dir := t.TempDir()
	e := newEnvIn(t, dir, yaml, fake)
	if _, err := e.o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := e.o.Status()[0]
	if _, err := e.reg.Update(rec.Key, func(r *registry.Record) error {
		r.State = lifecycle.Stopping
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e.stop = nil
	// The stop signal had been sent: the service ends while nobody supervises it.
	if err := fake.Exit(rec.Handle, target.Exit{Code: -1, Signal: "SIGTERM"}); err != nil {
		t.Fatal(err)
	}
	again := newEnvIn(t, dir, yaml, fake.Restarted())
	time.Sleep(100 * time.Millisecond) // 100 backoffs of c's policy
	if got := again.o.Status()[0].State; got == lifecycle.Running || got == lifecycle.Starting {
		t.Errorf("c after its interrupted stop: %s, want it not started again", got)
	}
	if diff := cmp.Diff([]string{"c"}, again.calls("Start")); diff != "" {
		t.Errorf("starts (-want +got):\n%s", diff)
	}
}
