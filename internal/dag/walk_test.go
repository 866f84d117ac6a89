package dag_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/dag"
)

// recorder logs the start and finish of each fn call and tracks how many are
// in flight.
type recorder struct {
	mu       sync.Mutex
	events   []string // "start x", "finish x"
	starts   []string
	inFlight atomic.Int64
	maxIn    atomic.Int64
}

func (r *recorder) start(name string) {
	n := r.inFlight.Add(1)
	for {
		m := r.maxIn.Load()
		if n <= m || r.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "start "+name)
	r.starts = append(r.starts, name)
}

func (r *recorder) finish(name string) {
	r.mu.Lock()
	r.events = append(r.events, "finish "+name)
	r.mu.Unlock()
	r.inFlight.Add(-1)
}

// called returns the started nodes, sorted.
func (r *recorder) called() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(slices.Values(r.starts))
}

// pause returns a per-node duration between 1ms and 8ms, so that calls
// overlap and finish in an order that differs from the start order.
func pause(name string) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(name))
	return time.Duration(1+h.Sum32()%8) * time.Millisecond
}

// sleepy is an fn that records itself and sleeps for pause(name); failing
// nodes return an error named after them.
func sleepy(r *recorder, fail map[string]bool) func(context.Context, string) error {
	return func(_ context.Context, name string) error {
		r.start(name)
		defer r.finish(name)
		time.Sleep(pause(name))
		if fail[name] {
			return errors.New(name + " broke")
		}
		return nil
	}
}

func failedStrings(err error) (map[string]string, map[string]string) {
	var we *dag.WalkError
	if !errors.As(err, &we) {
		return nil, nil
	}
	failed := make(map[string]string)
	for name, e := range we.Failed {
		failed[name] = e.Error()
	}
	return failed, we.Skipped
}

func TestWalkRespectsEdges(t *testing.T) {
	graphs := []struct {
		name string
		g    func() *dag.Graph
	}{
		{"stack", func() *dag.Graph { return stack(t) }},
		{"generated", func() *dag.Graph { return shuffled(300, 3) }},
	}
	for _, gr := range graphs {
		for _, reverse := range []bool{false, true} {
			for _, limit := range []int{0, 1, 2, 5} {
				name := gr.name
				if reverse {
					name += "/reverse"
				}
				t.Run(fmt.Sprintf("%s/limit=%d", name, limit), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						g := gr.g()
						r := &recorder{}
						err := dag.Walk(t.Context(), g, dag.WalkOptions{Limit: limit, Reverse: reverse}, sleepy(r, nil))
						if err != nil {
							t.Fatalf("Walk() error: %v", err)
						}
						if diff := cmp.Diff(slices.Sorted(slices.Values(g.Nodes())), r.called()); diff != "" {
							t.Fatalf("called mismatch (-want +got):\n%s", diff)
						}
						at := make(map[string]int)
						for i, e := range r.events {
							at[e] = i
						}
						var early []string
						for _, n := range g.Nodes() {
							for _, d := range g.DependenciesOf(n) {
								first, then := d, n
								if reverse {
									first, then = n, d
								}
								if at["finish "+first] > at["start "+then] {
									early = append(early, then+" started before "+first+" finished")
								}
							}
						}
						if diff := cmp.Diff([]string(nil), early); diff != "" {
							t.Errorf("edge violations (-want +got):\n%s", diff)
						}
						if limit > 0 {
							if diff := cmp.Diff(true, r.maxIn.Load() <= int64(limit)); diff != "" {
								t.Errorf("%d calls in flight, limit %d (-want +got):\n%s", r.maxIn.Load(), limit, diff)
							}
						}
					})
				})
			}
		}
	}
}

// TestWalkStartOrder checks that ready nodes start in insertion order: with
// one call at a time the start order is fully determined.
func TestWalkStartOrder(t *testing.T) {
	tests := []struct {
		name    string
		g       func() *dag.Graph
		reverse bool
		want    []string
	}{
		{
			name: "forward is Order",
			g:    func() *dag.Graph { return stack(t) },
			want: []string{"db", "cache", "api", "web", "worker"},
		},
		{
			// No dependents: web (0), worker (2). web releases api (1),
			// which goes before worker; api releases db; worker releases
			// cache.
			name:    "reverse",
			g:       func() *dag.Graph { return stack(t) },
			reverse: true,
			want:    []string{"web", "api", "worker", "db", "cache"},
		},
		{
			name: "independent nodes in insertion order",
			g:    func() *dag.Graph { return build(t, []string{"c", "a", "b"}) },
			want: []string{"c", "a", "b"},
		},
		{
			name:    "reverse chain",
			g:       func() *dag.Graph { return build(t, nil, "a>b", "b>c") },
			reverse: true,
			want:    []string{"a", "b", "c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			err := dag.Walk(t.Context(), tt.g(), dag.WalkOptions{Limit: 1, Reverse: tt.reverse},
				func(_ context.Context, name string) error {
					r.start(name)
					r.finish(name)
					return nil
				})
			if err != nil {
				t.Fatalf("Walk() error: %v", err)
			}
			if diff := cmp.Diff(tt.want, r.starts); diff != "" {
				t.Errorf("start order mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWalkLimit(t *testing.T) {
	// Twelve independent nodes and a chain of three, so thirteen nodes are
	// ready at the start: with every call taking the same (fake) time, the
	// limit is reached exactly.
	nodes := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n11"}
	tests := []struct {
		limit int
		want  int64
	}{
		{limit: 1, want: 1},
		{limit: 2, want: 2},
		{limit: 3, want: 3},
		{limit: 20, want: 13},
		{limit: 0, want: 13},
		{limit: -1, want: 13},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit=%d", tt.limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := build(t, nodes, "c1>c0", "c2>c1")
				r := &recorder{}
				err := dag.Walk(t.Context(), g, dag.WalkOptions{Limit: tt.limit},
					func(_ context.Context, name string) error {
						r.start(name)
						defer r.finish(name)
						time.Sleep(time.Second)
						return nil
					})
				if err != nil {
					t.Fatalf("Walk() error: %v", err)
				}
				if diff := cmp.Diff(tt.want, r.maxIn.Load()); diff != "" {
					t.Errorf("max in flight with limit %d mismatch (-want +got):\n%s", tt.limit, diff)
				}
				if diff := cmp.Diff(int64(0), r.inFlight.Load()); diff != "" {
					t.Errorf("in flight after Walk mismatch (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestWalkFailure(t *testing.T) {
	tests := []struct {
		name        string
		reverse     bool
		fail        map[string]bool
		slow        string // this node sleeps longer than the rest
		wantCalled  []string
		wantFailed  map[string]string
		wantSkipped map[string]string
		wantErr     string
	}{
		{
			name:        "dependents of a failure are skipped, others go on",
			fail:        map[string]bool{"db": true},
			wantCalled:  []string{"cache", "db", "worker"},
			wantFailed:  map[string]string{"db": "db broke"},
			wantSkipped: map[string]string{"api": "db", "web": "api"},
			wantErr:     "1 failed (db: db broke), 2 skipped (web: waits on api; api: waits on db)",
		},
		{
			name:        "shared dependency fails",
			fail:        map[string]bool{"cache": true},
			wantCalled:  []string{"cache", "db"},
			wantFailed:  map[string]string{"cache": "cache broke"},
			wantSkipped: map[string]string{"api": "cache", "web": "api", "worker": "cache"},
			wantErr:     "1 failed (cache: cache broke), 3 skipped (web: waits on api; api: waits on cache; worker: waits on cache)",
		},
		{
			// cache fails first, but db comes first in api's edges, so
			// api reports db whatever the timing.
			name:        "blocker is the first failed dependency in edge order",
			fail:        map[string]bool{"db": true, "cache": true},
			slow:        "db",
			wantCalled:  []string{"cache", "db"},
			wantFailed:  map[string]string{"db": "db broke", "cache": "cache broke"},
			wantSkipped: map[string]string{"api": "db", "web": "api", "worker": "cache"},
			wantErr:     "2 failed (db: db broke; cache: cache broke), 3 skipped (web: waits on api; api: waits on db; worker: waits on cache)",
		},
		{
			name:        "a failing leaf skips nothing",
			fail:        map[string]bool{"web": true},
			wantCalled:  []string{"api", "cache", "db", "web", "worker"},
			wantFailed:  map[string]string{"web": "web broke"},
			wantSkipped: map[string]string{},
			wantErr:     "1 failed (web: web broke)",
		},
		{
			name:        "reverse: dependencies of a failed stop are skipped",
			reverse:     true,
			fail:        map[string]bool{"web": true},
			wantCalled:  []string{"web", "worker"},
			wantFailed:  map[string]string{"web": "web broke"},
			wantSkipped: map[string]string{"api": "web", "db": "api", "cache": "api"},
			wantErr:     "1 failed (web: web broke), 3 skipped (api: waits on web; db: waits on api; cache: waits on api)",
		},
		{
			name:        "reverse: the other dependent still stops",
			reverse:     true,
			fail:        map[string]bool{"worker": true},
			wantCalled:  []string{"api", "db", "web", "worker"},
			wantFailed:  map[string]string{"worker": "worker broke"},
			wantSkipped: map[string]string{"cache": "worker"},
			wantErr:     "1 failed (worker: worker broke), 1 skipped (cache: waits on worker)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &recorder{}
				fn := sleepy(r, tt.fail)
				err := dag.Walk(t.Context(), stack(t), dag.WalkOptions{Reverse: tt.reverse},
					func(ctx context.Context, name string) error {
						if name == tt.slow {
							time.Sleep(time.Second)
						}
						return fn(ctx, name)
					})
				if diff := cmp.Diff(tt.wantCalled, r.called()); diff != "" {
					t.Errorf("called mismatch (-want +got):\n%s", diff)
				}
				failed, skipped := failedStrings(err)
				if diff := cmp.Diff(tt.wantFailed, failed); diff != "" {
					t.Errorf("Failed mismatch (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantSkipped, skipped); diff != "" {
					t.Errorf("Skipped mismatch (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
					t.Errorf("Error() mismatch (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(false, errors.Is(err, context.Canceled)); diff != "" {
					t.Errorf("errors.Is(err, context.Canceled) mismatch (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestWalkErrorUnwrap(t *testing.T) {
	errDB := errors.New("db down")
	errCache := errors.New("cache down")
	err := dag.Walk(t.Context(), stack(t), dag.WalkOptions{},
		func(_ context.Context, name string) error {
			switch name {
			case "db":
				return errDB
			case "cache":
				return errCache
			}
			return nil
		})
	var we *dag.WalkError
	if !errors.As(err, &we) {
		t.Fatalf("Walk() error = %v, want *dag.WalkError", err)
	}
	got := we.Unwrap()
	if diff := cmp.Diff(2, len(got)); diff != "" {
		t.Fatalf("len(Unwrap()) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, true, true}, []bool{got[0] == errDB, got[1] == errCache, errors.Is(err, errCache)}); diff != "" {
		t.Errorf("Unwrap() order or errors.Is mismatch (-want +got):\n%s", diff)
	}
}

func TestWalkErrorByHand(t *testing.T) {
	tests := []struct {
		name string
		err  *dag.WalkError
		want string
	}{
		{
			name: "sorted when built by hand",
			err: &dag.WalkError{
				Failed:  map[string]error{"db": errors.New("x"), "api": errors.New("boom")},
				Skipped: map[string]string{"web": "api", "jobs": ""},
			},
			want: "2 failed (api: boom; db: x), 2 skipped (jobs: not started; web: waits on api)",
		},
		{
			name: "empty",
			err:  &dag.WalkError{},
			want: "walk: no node failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWalkCancel(t *testing.T) {
	t.Run("cancelled before the walk", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := &recorder{}
		err := dag.Walk(ctx, stack(t), dag.WalkOptions{}, sleepy(r, nil))
		if diff := cmp.Diff([]string(nil), r.called()); diff != "" {
			t.Errorf("called mismatch (-want +got):\n%s", diff)
		}
		failed, skipped := failedStrings(err)
		if diff := cmp.Diff(map[string]string{}, failed); diff != "" {
			t.Errorf("Failed mismatch (-want +got):\n%s", diff)
		}
		want := map[string]string{"web": "", "api": "", "worker": "", "db": "", "cache": ""}
		if diff := cmp.Diff(want, skipped); diff != "" {
			t.Errorf("Skipped mismatch (-want +got):\n%s", diff)
		}
		wantErr := "5 skipped (web: context canceled; api: context canceled; worker: context canceled; db: context canceled; cache: context canceled)"
		if diff := cmp.Diff(wantErr, err.Error()); diff != "" {
			t.Errorf("Error() mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(true, errors.Is(err, context.Canceled)); diff != "" {
			t.Errorf("errors.Is(err, context.Canceled) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("cancelled by a call stops new calls", func(t *testing.T) {
		// first and other start together; first cancels. second and third
		// are never started.
		g := build(t, []string{"first", "other", "second", "third"}, "second>first", "third>second")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r := &recorder{}
		err := dag.Walk(ctx, g, dag.WalkOptions{}, func(_ context.Context, name string) error {
			r.start(name)
			defer r.finish(name)
			if name == "first" {
				cancel()
			}
			return nil
		})
		if diff := cmp.Diff([]string{"first", "other"}, r.called()); diff != "" {
			t.Errorf("called mismatch (-want +got):\n%s", diff)
		}
		failed, skipped := failedStrings(err)
		if diff := cmp.Diff(map[string]string{}, failed); diff != "" {
			t.Errorf("Failed mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"second": "", "third": ""}, skipped); diff != "" {
			t.Errorf("Skipped mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(true, errors.Is(err, context.Canceled)); diff != "" {
			t.Errorf("errors.Is(err, context.Canceled) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("calls in flight see the cancel and are waited for", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// blocked waits for the cancel and fails with it; after waits
			// on blocked. busy ignores the cancel and finishes later;
			// busyDep waits on busy and is never started.
			g := build(t, []string{"blocked", "busy", "after", "busyDep"}, "after>blocked", "busyDep>busy")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			time.AfterFunc(time.Second, cancel)
			var busyDone atomic.Bool
			r := &recorder{}
			err := dag.Walk(ctx, g, dag.WalkOptions{}, func(ctx context.Context, name string) error {
				r.start(name)
				defer r.finish(name)
				switch name {
				case "blocked":
					<-ctx.Done()
					return ctx.Err()
				case "busy":
					time.Sleep(2 * time.Second)
					busyDone.Store(true)
				}
				return nil
			})
			if diff := cmp.Diff(true, busyDone.Load()); diff != "" {
				t.Errorf("busy finished before Walk returned mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"blocked", "busy"}, r.called()); diff != "" {
				t.Errorf("called mismatch (-want +got):\n%s", diff)
			}
			failed, skipped := failedStrings(err)
			if diff := cmp.Diff(map[string]string{"blocked": "context canceled"}, failed); diff != "" {
				t.Errorf("Failed mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]string{"after": "blocked", "busyDep": ""}, skipped); diff != "" {
				t.Errorf("Skipped mismatch (-want +got):\n%s", diff)
			}
			wantErr := "1 failed (blocked: context canceled), 2 skipped (after: waits on blocked; busyDep: context canceled)"
			if diff := cmp.Diff(wantErr, err.Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
		})
	})
}

func TestWalkCycle(t *testing.T) {
	g := build(t, []string{"ok"}, "a>b", "b>c", "c>a")
	var calls atomic.Int64
	err := dag.Walk(t.Context(), g, dag.WalkOptions{}, func(context.Context, string) error {
		calls.Add(1)
		return nil
	})
	var ce *dag.CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("Walk() error = %v, want *dag.CycleError", err)
	}
	if diff := cmp.Diff("dependency cycle: a → b → c → a", err.Error()); diff != "" {
		t.Errorf("Error() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(int64(0), calls.Load()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

func TestWalkEmpty(t *testing.T) {
	var calls atomic.Int64
	err := dag.Walk(t.Context(), dag.New(), dag.WalkOptions{}, func(context.Context, string) error {
		calls.Add(1)
		return nil
	})
	if diff := cmp.Diff(nil, err); diff != "" {
		t.Errorf("Walk() error mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(int64(0), calls.Load()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

// TestWalkNoLeaks runs walks that succeed, fail and get cancelled on real
// goroutines (no synctest bubble) and checks that every call has returned
// when Walk returns and that the goroutine count settles back.
func TestWalkNoLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	g := generate(500)
	for round := range 6 {
		ctx, cancel := context.WithCancel(t.Context())
		var active, calls atomic.Int64
		err := dag.Walk(ctx, g, dag.WalkOptions{Limit: round * 4, Reverse: round%2 == 1},
			func(ctx context.Context, name string) error {
				active.Add(1)
				defer active.Add(-1)
				n := calls.Add(1)
				if round >= 4 && n == 100 {
					cancel()
				}
				runtime.Gosched()
				if round >= 2 && n%50 == 0 {
					return errors.New("boom")
				}
				return ctx.Err()
			})
		cancel()
		if diff := cmp.Diff(int64(0), active.Load()); diff != "" {
			t.Errorf("round %d: calls still active after Walk returned (-want +got):\n%s", round, diff)
		}
		if diff := cmp.Diff(round >= 2, err != nil); diff != "" {
			t.Errorf("round %d: error = %v (-want error +got error):\n%s", round, err, diff)
		}
	}
	// A goroutine that sent its result may still be exiting; give it time.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Goroutines left by earlier tests may exit meanwhile, so the count may
	// drop below before, but it must not stay above it.
	after := runtime.NumGoroutine()
	if diff := cmp.Diff(true, after <= before); diff != "" {
		t.Errorf("goroutines: %d before the walks, %d after (-want +got):\n%s", before, after, diff)
	}
}
