//go:build integration

package docker_test

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

// logLines returns the stored lines of h as "STREAM TEXT", without time stamps.
func logLines(t *testing.T, tg target.Target, h target.Handle) []string {
	t.Helper()
	rc, err := tg.Logs(testContext(t), h, target.LogOptions{})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	var lines []string
	for sc := bufio.NewScanner(rc); sc.Scan(); {
		_, rest, _ := strings.Cut(sc.Text(), " ")
		lines = append(lines, rest)
	}
	return lines
}

// A second Target value adopts the running container of a spec with the same config hash:
// the same container, and its output copied on from where the first Target left it, neither
// lost nor doubled: when the first Target had stored all of it, and when it went away at
// once, before it may have stored any.
func TestAdoptByLabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := &specs{e: e, image: e.helperImage(t)}
	for _, tc := range []struct {
		name   string
		stored bool
	}{{"all stored", true}, {"at once", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			spec := s.helper(t, targettest.Behaviour{Kind: targettest.PrintAndRun, Line: "hello"})
			starter := e.newTarget(t)
			first, err := starter.Start(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			if tc.stored {
				waitLine(t, ctx, starter, first, targettest.Ready)
			}
			if err := starter.Close(); err != nil {
				t.Fatal(err)
			}
			tg := e.newTarget(t)
			h := start(t, ctx, tg, spec)
			if diff := cmp.Diff(first, h); diff != "" {
				t.Fatalf("Start by a second Target (-want +got):\n%s", diff)
			}
			// Printed, through the second Target (which stores what the first never did),
			// before the stop: a container stopped before it prints has nothing to lose.
			waitLine(t, ctx, tg, h, targettest.Ready)
			if err := tg.Stop(ctx, h, time10s); err != nil {
				t.Fatal(err)
			}
			want := []string{"stdout hello", "stdout " + targettest.Ready}
			if diff := cmp.Diff(want, logLines(t, tg, h)); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
		})
	}
}

// A container of another configuration, or one that has stopped, is replaced.
func TestReplaceByLabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	s := &specs{e: e, image: e.helperImage(t)}
	spec := s.helper(t, targettest.Behaviour{Kind: targettest.RunUntilTerm})
	old := start(t, ctx, tg, spec)

	spec.ConfigHash = "hash-2"
	renewed := start(t, ctx, e.newTarget(t), spec)
	if renewed == old {
		t.Fatalf("Start with another config hash returned the old container %s", old.ID)
	}
	if _, err := tg.Inspect(ctx, old); !isNotFound(err) {
		t.Errorf("Inspect of the replaced container: %v, want ErrNotFound", err)
	}
	if err := tg.Stop(ctx, renewed, 0); err != nil {
		t.Fatal(err)
	}
	again := start(t, ctx, tg, spec)
	if again == renewed {
		t.Fatalf("Start of a stopped container's spec returned the stopped container %s", again.ID)
	}
	list, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "harness.stack="+e.stack)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list.Items {
		ids = append(ids, c.ID)
	}
	if diff := cmp.Diff([]string{again.ID}, slices.Sorted(slices.Values(ids))); diff != "" {
		t.Errorf("containers of the stack (-want +got):\n%s", diff)
	}
}
