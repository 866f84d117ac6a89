package process_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

func TestExec(t *testing.T) {
	ctx, stateDir := testContext(t), t.TempDir()
	tg := newTarget(t, stateDir)
	spec := helperSpec(t, targettest.Behaviour{Kind: targettest.RunUntilTerm})
	spec.Dir = t.TempDir()
	spec.Env = append(spec.Env, "PATH=/usr/bin:/bin", "GREETING=hello")
	h := start(t, ctx, tg, spec)
	waitReady(t, ctx, tg, h)

	script := []string{"sh", "-c", `echo "$GREETING"; pwd; exit 3`}
	want := target.ExecResult{ExitCode: 3, Output: []byte("hello\n" + spec.Dir + "\n")}
	// The starter knows the spec; a fresh Target reads the instance's /proc entries.
	for name, tg := range map[string]target.Execer{"starter": tg, "fresh": newTarget(t, stateDir)} {
		got, err := tg.Exec(ctx, h, script)
		if err != nil {
			t.Fatalf("%s: Exec: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Exec (-want +got):\n%s", name, diff)
		}
	}

	got, err := tg.Exec(ctx, h, []string{"head", "-c", "100000", "/dev/zero"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(64<<10, len(got.Output)); diff != "" {
		t.Errorf("Exec output kept (-want +got):\n%s", diff)
	}

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	// The check's own child, sleep, is in the check's group: it dies with it.
	got, err = tg.Exec(short, h, []string{"sh", "-c", "sleep 60; true"})
	if diff := cmp.Diff(context.DeadlineExceeded, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("Exec past its context (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(-1, got.ExitCode); diff != "" {
		t.Errorf("Exec past its context: ExitCode (-want +got):\n%s", diff)
	}

	if err := tg.Stop(ctx, h, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := tg.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	_, err = tg.Exec(ctx, h, script)
	if diff := cmp.Diff(target.ErrNotFound, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("Exec after Remove (-want +got):\n%s", diff)
	}
}
