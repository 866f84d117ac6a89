package lifecycle_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graph-network-harness/harness/internal/lifecycle"
)

// invalidStates are strings that are not states: they must be refused everywhere.
var invalidStates = []lifecycle.State{"", "Running", "RUNNING", " running", "running ", "run", "healthy", "none", "unknown"}

func TestStates(t *testing.T) {
	// The values are the "state" field of `status -o json` (cli.md), in the documented order.
	want := []lifecycle.State{"stopped", "starting", "running", "stopping", "exited", "failed", "blocked"}
	if diff := cmp.Diff(want, lifecycle.States()); diff != "" {
		t.Errorf("States() mismatch (-want +got):\n%s", diff)
	}
	consts := []lifecycle.State{
		lifecycle.Stopped, lifecycle.Starting, lifecycle.Running, lifecycle.Stopping,
		lifecycle.Exited, lifecycle.Failed, lifecycle.Blocked,
	}
	if diff := cmp.Diff(want, consts); diff != "" {
		t.Errorf("constants mismatch (-want +got):\n%s", diff)
	}
}

func TestStatesReturnsACopy(t *testing.T) {
	got := lifecycle.States()
	got[0] = "mutated"
	if diff := cmp.Diff(lifecycle.Stopped, lifecycle.States()[0]); diff != "" {
		t.Errorf("States()[0] after the caller changed its slice (-want +got):\n%s", diff)
	}
}

func TestStateValid(t *testing.T) {
	got := map[lifecycle.State]bool{}
	for _, s := range append(lifecycle.States(), invalidStates...) {
		got[s] = s.Valid()
	}
	want := map[lifecycle.State]bool{
		"stopped": true, "starting": true, "running": true, "stopping": true,
		"exited": true, "failed": true, "blocked": true,
	}
	for _, s := range invalidStates {
		want[s] = false
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Valid() mismatch (-want +got):\n%s", diff)
	}
}

func TestStateActive(t *testing.T) {
	got := map[lifecycle.State]bool{}
	for _, s := range append(lifecycle.States(), invalidStates...) {
		got[s] = s.Active()
	}
	want := map[lifecycle.State]bool{
		"stopped": false, "starting": true, "running": true, "stopping": true,
		"exited": false, "failed": false, "blocked": false,
	}
	for _, s := range invalidStates {
		want[s] = false
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Active() mismatch (-want +got):\n%s", diff)
	}
}

// TestStateCanTransition walks every pair of States() × States(), plus invalid states on either
// side, and compares the legal ones with the list written out below. The list is kept apart
// from the package's table on purpose: a change of the table must change this list too.
func TestStateCanTransition(t *testing.T) {
	want := []string{
		"stopped → starting",
		"stopped → blocked",
		"starting → running",
		"starting → stopping",
		"starting → exited",
		"starting → failed",
		"starting → blocked",
		"starting → stopped",
		"running → stopping",
		"running → exited",
		"running → failed",
		"stopping → stopped",
		"stopping → failed",
		"exited → starting",
		"exited → stopped",
		"failed → starting",
		"failed → stopped",
		"blocked → starting",
		"blocked → stopped",
	}
	all := append(lifecycle.States(), invalidStates...)
	var got []string
	for _, from := range all {
		for _, to := range all {
			if from.CanTransition(to) {
				got = append(got, string(from)+" → "+string(to))
			}
		}
	}
	if diff := cmp.Diff(want, got, sortStrings); diff != "" {
		t.Errorf("legal transitions mismatch (-want +got):\n%s", diff)
	}
}

// TestTransitionAgreesWithCanTransition checks that Transition returns nil exactly for the
// legal pairs, and otherwise a *TransitionError naming the pair that matches
// ErrIllegalTransition.
func TestTransitionAgreesWithCanTransition(t *testing.T) {
	all := append(lifecycle.States(), invalidStates...)
	for _, from := range all {
		for _, to := range all {
			err := lifecycle.Transition(from, to)
			if from.CanTransition(to) {
				if err != nil {
					t.Errorf("Transition(%q, %q) = %v, want nil", from, to, err)
				}
				continue
			}
			var te *lifecycle.TransitionError
			if !errors.As(err, &te) {
				t.Errorf("Transition(%q, %q) = %#v, want a *TransitionError", from, to, err)
				continue
			}
			if diff := cmp.Diff(lifecycle.TransitionError{From: from, To: to}, *te); diff != "" {
				t.Errorf("Transition(%q, %q) error mismatch (-want +got):\n%s", from, to, diff)
			}
			if !errors.Is(err, lifecycle.ErrIllegalTransition) {
				t.Errorf("Transition(%q, %q) = %v, does not match ErrIllegalTransition", from, to, err)
			}
		}
	}
}

func TestTransitionError(t *testing.T) {
	tests := []struct {
		from, to lifecycle.State
		want     string
	}{
		{lifecycle.Running, lifecycle.Blocked, "illegal transition running → blocked"},
		{lifecycle.Running, lifecycle.Running, "illegal transition running → running"},
		{lifecycle.Stopped, lifecycle.Running, "illegal transition stopped → running"},
		{"", lifecycle.Starting, `illegal transition "" → starting`},
		{lifecycle.Stopped, "Starting", `illegal transition stopped → "Starting"`},
	}
	for _, tt := range tests {
		err := lifecycle.Transition(tt.from, tt.to)
		if err == nil {
			t.Errorf("Transition(%q, %q) = nil, want an error", tt.from, tt.to)
			continue
		}
		if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
			t.Errorf("Transition(%q, %q) message mismatch (-want +got):\n%s", tt.from, tt.to, diff)
		}
	}
	// Wrapped once more by a caller, the error still matches.
	err := lifecycle.Transition(lifecycle.Running, lifecycle.Blocked)
	wrapped := errors.Join(errors.New("set state api"), err)
	if !errors.Is(wrapped, lifecycle.ErrIllegalTransition) {
		t.Errorf("errors.Is(%v, ErrIllegalTransition) = false, want true", wrapped)
	}
	if errors.Is(errors.New("illegal transition"), lifecycle.ErrIllegalTransition) {
		t.Errorf("an unrelated error with the same text matches ErrIllegalTransition")
	}
}

// sortStrings makes cmp.Diff compare string slices whatever their order, so that an expected
// list can follow the order of the documentation. A repeated string still counts.
var sortStrings = cmpopts.SortSlices(strings.Compare)
