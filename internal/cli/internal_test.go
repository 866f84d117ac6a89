package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
	"github.com/graph-network-harness/harness/config"
)

func TestExitCode(t *testing.T) {
	cfgErr := &config.Error{Diagnostics: config.Diagnostics{{Severity: config.SeverityError, Message: "bad"}}}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", errors.New("boom"), ExitError},
		{"usage", &usageError{errors.New("unknown flag")}, ExitUsage},
		{"wrapped usage", fmt.Errorf("x: %w", &usageError{errors.New("y")}), ExitUsage},
		{"invalid config", cfgErr, ExitUsage},
		{"wrapped invalid config", fmt.Errorf("load: %w", cfgErr), ExitUsage},
		{"coded", withCode(ExitUnreachable, errors.New("daemon")), ExitUnreachable},
		{"reported", withCode(ExitServiceFailed, nil), ExitServiceFailed},
		{"timeout", withCode(ExitTimeout, errors.New("start api: timeout")), ExitTimeout},
		{"daemon: invalid config", fmt.Errorf("start: %w", &api.Error{Code: api.CodeInvalidConfig, Message: "s.yaml:1:1: x"}), ExitUsage},
		{"daemon: unknown service", fmt.Errorf("start: %w", &api.Error{Code: api.CodeNotFound, Message: "no service"}), ExitUsage},
		{"daemon: bad request", fmt.Errorf("start: %w", &api.Error{Code: api.CodeBadRequest, Message: "no"}), ExitUsage},
		{"daemon: conflict", fmt.Errorf("start: %w", &api.Error{Code: api.CodeConflict, Message: "busy"}), ExitError},
		{"daemon: internal", fmt.Errorf("start: %w", &api.Error{Code: api.CodeInternal, Message: "bug"}), ExitError},
		{"daemon: unavailable", fmt.Errorf("start: %w", &api.Error{Code: api.CodeUnavailable, Message: "stopping"}), ExitError},
		{"unreachable", fmt.Errorf("status: %w: %w", client.ErrUnreachable, syscall.ENOENT), ExitUnreachable},
		{"--timeout", timeoutError(fmt.Errorf("start: %w", context.DeadlineExceeded), time.Second), ExitTimeout},
		{"interrupted", fmt.Errorf("start: %w", context.Canceled), ExitError},
		{"coded beats the chain", withCode(ExitServiceFailed, fmt.Errorf("x: %w", client.ErrUnreachable)), ExitServiceFailed},
		{"exec: the command's exit code", withCode(42, nil), 42},
		{"exec: the command's exit code 255", withCode(255, nil), 255},
		{"up: the log stream broke and the daemon is gone", fmt.Errorf("%w; %w", errors.New("logs: read stream: unexpected EOF"),
			fmt.Errorf("daemon: %w: %w", client.ErrUnreachable, syscall.ECONNREFUSED)), ExitUnreachable},
		{"up: the log stream failed", fmt.Errorf("logs: %w", &api.Error{Code: api.CodeInternal, Message: "read db.log: input/output error"}), ExitError},
		{"up: a failed start whose stop was refused keeps the start's code", withCode(ExitTimeout, fmt.Errorf("stop: %w", &api.Error{Code: api.CodeNotFound, Message: "x"})), ExitTimeout},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestDataDir(t *testing.T) {
	tests := []struct {
		name    string
		flag    string
		environ []string
		want    string
		wantErr bool
	}{
		{name: "flag first", flag: "/d/flag", environ: []string{"HARNESS_DATA_DIR=/d/env", "HOME=/h"}, want: "/d/flag"},
		{name: "HARNESS_DATA_DIR", environ: []string{"HARNESS_DATA_DIR=/d/env", "XDG_STATE_HOME=/x", "HOME=/h"}, want: "/d/env"},
		{name: "XDG_STATE_HOME", environ: []string{"XDG_STATE_HOME=/x", "HOME=/h"}, want: "/x/harness"},
		{name: "relative XDG_STATE_HOME is ignored", environ: []string{"XDG_STATE_HOME=x", "HOME=/h"}, want: "/h/.local/state/harness"},
		{name: "empty variables are unset", environ: []string{"HARNESS_DATA_DIR=", "XDG_STATE_HOME=", "HOME=/h"}, want: "/h/.local/state/harness"},
		{name: "no HOME", environ: nil, wantErr: true},
	}
	for _, tc := range tests {
		a := newApp(Options{Environ: tc.environ})
		a.dataDirFlag = tc.flag
		got, err := a.dataDir()
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: dataDir() = %q, %v; want %q (error: %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
	a := newApp(Options{Environ: []string{"HARNESS_DATA_DIR=rel"}})
	got, err := a.dataDir()
	if err != nil || !filepath.IsAbs(got) || filepath.Base(got) != "rel" {
		t.Errorf("relative data dir: dataDir() = %q, %v; want it made absolute", got, err)
	}
}

func TestEnvLookup(t *testing.T) {
	e := env{"A=1", "B=", "A=2", "NOEQUALS"}
	type kv struct {
		V  string
		OK bool
	}
	got := map[string]kv{}
	for _, name := range []string{"A", "B", "C", "NOEQUALS"} {
		v, ok := e.Lookup(name)
		got[name] = kv{v, ok}
	}
	want := map[string]kv{"A": {"2", true}, "B": {"", true}, "C": {"", false}, "NOEQUALS": {"", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
}

func TestColors(t *testing.T) {
	// A buffer is never a terminal, so only the switches that turn colour off can be tested
	// here; paint itself is checked directly.
	for _, environ := range [][]string{nil, {"NO_COLOR=1"}, {"TERM=dumb"}} {
		if p := newApp(Options{Environ: environ}).colors(nil); p.on {
			t.Errorf("colors with %q: on, want off", environ)
		}
	}
	if diff := cmp.Diff(red+"x"+reset, palette{on: true}.paint(red, "x")); diff != "" {
		t.Errorf("paint (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("x", palette{}.paint(red, "x")); diff != "" {
		t.Errorf("paint off (-want +got):\n%s", diff)
	}
}
