package docker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/target"
)

func TestExitOf(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		status int
		want   target.Exit
	}{
		{0, target.Exit{Code: 0, At: at}},
		{3, target.Exit{Code: 3, At: at}},
		{127, target.Exit{Code: 127, At: at}},
		{128, target.Exit{Code: 128, At: at}},
		{129, target.Exit{Code: -1, Signal: "SIGHUP", At: at}},
		{137, target.Exit{Code: -1, Signal: "SIGKILL", At: at}},
		{143, target.Exit{Code: -1, Signal: "SIGTERM", At: at}},
		{192, target.Exit{Code: -1, Signal: "SIG64", At: at}},
		{193, target.Exit{Code: 193, At: at}},
		{255, target.Exit{Code: 255, At: at}},
	} {
		if diff := cmp.Diff(tc.want, exitOf(tc.status, at)); diff != "" {
			t.Errorf("exitOf(%d) (-want +got):\n%s", tc.status, diff)
		}
	}
}

func TestExitNote(t *testing.T) {
	got := []string{exitNote(target.Exit{Code: 3}), exitNote(target.Exit{Code: -1, Signal: "SIGKILL"})}
	if diff := cmp.Diff([]string{"exited with status 3", "killed by SIGKILL"}, got); diff != "" {
		t.Errorf("exitNote (-want +got):\n%s", diff)
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in, want, engine string
		bad              bool
	}{
		{in: "SIGTERM", want: "SIGTERM", engine: "SIGTERM"},
		{in: "term", want: "SIGTERM", engine: "SIGTERM"},
		{in: " INT ", want: "SIGINT", engine: "SIGINT"},
		{in: "9", want: "SIGKILL", engine: "SIGKILL"},
		{in: "34", want: "SIG34", engine: "34"},
		{in: "0", bad: true},
		{in: "65", bad: true},
		{in: "NO-SUCH-SIGNAL", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseSignal(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("parseSignal(%q): error %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if tc.bad {
			continue
		}
		if diff := cmp.Diff([]string{tc.want, tc.engine}, []string{got, engineSignal(got)}); diff != "" {
			t.Errorf("parseSignal(%q), engineSignal (-want +got):\n%s", tc.in, diff)
		}
	}
}
