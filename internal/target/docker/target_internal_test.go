package docker

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/graph-network-harness/harness/target"
)

// A Target that no engine answers still refuses, without asking the engine, what is not
// its own: handles of another target or node, malformed IDs, specs it cannot start.
func TestNoEngineNeeded(t *testing.T) {
	tg, err := New(Options{Host: "unix://" + t.TempDir() + "/no-engine.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	id := strings.Repeat("ab", 32)
	for _, h := range []target.Handle{
		{Target: "process", Node: "local", ID: id},
		{Target: "docker", Node: "elsewhere", ID: id},
		{Target: "docker", Node: "local", ID: id[:12]},
		{Target: "docker", Node: "local", ID: strings.ToUpper(id)},
	} {
		if _, err := tg.Inspect(t.Context(), h); !errors.Is(err, target.ErrNotFound) {
			t.Errorf("Inspect %s: %v, want ErrNotFound", h, err)
		}
	}
	for _, spec := range []target.Spec{
		{Stack: "s", Service: "x"},
		{Stack: "s", Service: "x", Container: &target.Container{}},
		{Service: "x", Container: &target.Container{Image: "i"}},
		{Stack: "s", Service: "x", StopSignal: "SIGNOPE", Container: &target.Container{Image: "i"}},
		{Stack: "s", Service: "x", Container: &target.Container{Image: "i", Ports: []target.Port{{Target: 0}}}},
	} {
		if _, err := tg.Start(t.Context(), spec); !errors.Is(err, target.ErrInvalidSpec) {
			t.Errorf("Start %+v: %v, want ErrInvalidSpec", spec, err)
		}
	}
}

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	var inside [2]atomic.Int32
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			key := []string{"a", "b"}[i%2]
			unlock := k.lock(key)
			defer unlock()
			if n := inside[i%2].Add(1); n != 1 {
				t.Errorf("%d holders of %s", n, key)
			}
			inside[i%2].Add(-1)
		})
	}
	wg.Wait()
	if len(k.locks) != 0 {
		t.Errorf("%d locks left, want none", len(k.locks))
	}
}
