//go:build integration

package docker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/target"
)

// startServer starts a testserver container on tg and returns its handle.
func startServer(t *testing.T, ctx context.Context, e *env, tg target.Target, image string) target.Handle {
	t.Helper()
	s := &specs{e: e}
	return start(t, ctx, tg, s.spec(t, image))
}

func TestExec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	h := startServer(t, ctx, e, tg, e.serverImage(t))

	for _, tc := range []struct {
		name   string
		argv   []string
		codes  []int  // the exit codes that pass
		output string // a part of the output
	}{
		{"success", []string{"/testserver", "-version"}, []int{0}, "testserver dev\n"},
		{"failure", []string{"/testserver", "-no-such-flag"}, []int{1}, "flag provided but not defined: -no-such-flag"},
		// 126 on Docker 20.10: the code of a command that cannot be run varies by engine.
		{"no such program", []string{"/no-such-program"}, []int{126, 127}, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tg.Exec(ctx, h, tc.argv)
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if !slices.Contains(tc.codes, res.ExitCode) {
				t.Errorf("exit code %d, want one of %v; output: %s", res.ExitCode, tc.codes, res.Output)
			}
			if !strings.Contains(string(res.Output), tc.output) {
				t.Errorf("output %q lacks %q", res.Output, tc.output)
			}
		})
	}
}

// TestExecInARow runs 50 commands one after the other: none may hang on its output stream.
func TestExecInARow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	h := startServer(t, ctx, e, tg, e.serverImage(t))
	began := time.Now()
	for i := range 50 {
		res, err := tg.Exec(ctx, h, []string{"/testserver", "-version"})
		if err != nil {
			t.Fatalf("Exec #%d: %v", i, err)
		}
		if diff := cmp.Diff(target.ExecResult{Output: []byte("testserver dev\n")}, res); diff != "" {
			t.Fatalf("Exec #%d (-want +got):\n%s", i, diff)
		}
	}
	t.Logf("50 execs in %v", time.Since(began))
}

// TestExecHonoursContext runs a command that never ends: Exec returns when its context does.
func TestExecHonoursContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	h := startServer(t, ctx, e, tg, e.serverImage(t))
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := tg.Exec(short, h, []string{"/testserver", "-listen", "127.0.0.1:9999"})
	if diff := cmp.Diff(context.DeadlineExceeded, err, equateErrors); diff != "" {
		t.Errorf("Exec past its context (-want +got):\n%s", diff)
	}
	// The engine still answers the next one.
	if res, err := tg.Exec(ctx, h, []string{"/testserver", "-version"}); err != nil || res.ExitCode != 0 {
		t.Errorf("Exec after a cancelled one: %+v, %v", res, err)
	}
}

func TestExecNotRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	s := &specs{e: e}
	spec := s.spec(t, e.serverImage(t))
	spec.Argv = []string{"-version"}
	h := start(t, ctx, tg, spec)
	if _, err := tg.Wait(ctx, h); err != nil {
		t.Fatal(err)
	}
	_, err := tg.Exec(ctx, h, []string{"/testserver", "-version"})
	if diff := cmp.Diff(target.ErrNotFound, err, equateErrors); diff != "" {
		t.Errorf("Exec in an exited container (-want +got):\n%s", diff)
	}
	if _, err := tg.Exec(ctx, h, nil); err == nil || errors.Is(err, target.ErrNotFound) {
		t.Errorf("Exec of no command: %v, want an error of its own", err)
	}
}
