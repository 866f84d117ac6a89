package lifecycle_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/lifecycle"
)

// invalidHealths are strings that are not healths: they must be refused everywhere.
var invalidHealths = []lifecycle.Health{"", "None", "HEALTHY", " healthy", "ok", "running", "unknown"}

func TestHealths(t *testing.T) {
	// The values are the "health" field of `status -o json` (cli.md), in the documented order.
	want := []lifecycle.Health{"none", "starting", "healthy", "unhealthy"}
	if diff := cmp.Diff(want, lifecycle.Healths()); diff != "" {
		t.Errorf("Healths() mismatch (-want +got):\n%s", diff)
	}
	consts := []lifecycle.Health{
		lifecycle.HealthNone, lifecycle.HealthStarting, lifecycle.HealthHealthy, lifecycle.HealthUnhealthy,
	}
	if diff := cmp.Diff(want, consts); diff != "" {
		t.Errorf("constants mismatch (-want +got):\n%s", diff)
	}
	got := lifecycle.Healths()
	got[0] = "mutated"
	if diff := cmp.Diff(lifecycle.HealthNone, lifecycle.Healths()[0]); diff != "" {
		t.Errorf("Healths()[0] after the caller changed its slice (-want +got):\n%s", diff)
	}
}

func TestHealthValid(t *testing.T) {
	got := map[lifecycle.Health]bool{}
	for _, h := range append(lifecycle.Healths(), invalidHealths...) {
		got[h] = h.Valid()
	}
	want := map[lifecycle.Health]bool{"none": true, "starting": true, "healthy": true, "unhealthy": true}
	for _, h := range invalidHealths {
		want[h] = false
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Valid() mismatch (-want +got):\n%s", diff)
	}
}

// TestHealthCanTransition walks every pair of Healths() × Healths(), plus invalid healths on
// either side, and compares the legal ones with the list written out below.
func TestHealthCanTransition(t *testing.T) {
	want := []string{
		"none → starting",
		"starting → healthy",
		"starting → unhealthy",
		"starting → none",
		"healthy → unhealthy",
		"healthy → starting",
		"healthy → none",
		"unhealthy → healthy",
		"unhealthy → starting",
		"unhealthy → none",
	}
	all := append(lifecycle.Healths(), invalidHealths...)
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
