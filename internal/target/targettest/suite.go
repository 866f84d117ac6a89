package targettest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graph-network-harness/harness/target"
)

// Harness tells Run how to make and drive the Target under test.
type Harness struct {
	// New returns a fresh Target value, and registers its cleanup with t. Every value New
	// returns sees the same instances, as the Targets of a daemon and of its restarted
	// successor do: the suite adopts the handles of one value with another.
	New func(t *testing.T) target.Target
	// Spec returns the spec of a service that behaves as b, with its output going to a log
	// of its own.
	Spec func(t *testing.T, b Behaviour) target.Spec
	// Reused returns a handle that names the place of h (its node, its PID) but another
	// instance, as a stored handle does once its PID has been reused. Nil skips the test of
	// stale handles.
	Reused func(h target.Handle) target.Handle
	// Alive reports whether the process whose PID a Grandchild wrote still runs. Nil means a
	// process of this host, which runs while it exists and is not a zombie.
	Alive func(pid int) bool
}

// hangTimeout bounds every wait of the suite. It only turns a hang into a failure: no test
// asserts that anything is fast.
const hangTimeout = 2 * time.Minute

// Run runs the conformance suite against the Target that h makes. Every subtest runs in
// parallel with the others and cleans up what it started (Stop with no grace, then Remove).
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"ExitCode", testExitCode},
		{"KilledBySignal", testKilledBySignal},
		{"StopHonoured", testStopHonoured},
		{"StopIgnoredIsKilledAfterGrace", testStopIgnored},
		{"StopEndsGrandchild", testStopEndsGrandchild},
		{"OutputDoesNotBlock", testOutputDoesNotBlock},
		{"Logs", testLogs},
		{"Adopt", testAdopt},
		{"ReusedPID", testReusedPID},
		{"StopExited", testStopExited},
		{"Remove", testRemove},
		{"WaitHonoursContext", testWaitHonoursContext},
		{"InvalidSpec", testInvalidSpec},
		{"Signal", testSignal},
		{"ConcurrentStart", testConcurrentStart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h)
		})
	}
}

// Comparison options: an exit's time is whenever it was noticed; errors match with errors.Is.
var (
	ignoreExitTime = cmpopts.IgnoreFields(target.Exit{}, "At")
	equateErrors   = cmpopts.EquateErrors()
)

// exited is the part of a Status that the suite compares.
type exited struct {
	Running bool
	Exit    *target.Exit
}

func exitedOf(st target.Status) exited { return exited{Running: st.Running, Exit: st.Exit} }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), hangTimeout)
	t.Cleanup(cancel)
	return ctx
}

// start starts spec on tg and registers a cleanup that stops and removes the instance.
func start(t *testing.T, ctx context.Context, tg target.Target, spec target.Spec) target.Handle {
	t.Helper()
	hd, err := tg.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { cleanup(t, tg, hd) })
	return hd
}

func cleanup(t *testing.T, tg target.Target, hd target.Handle) {
	// t.Context is already done when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	if err := tg.Stop(ctx, hd, 0); err != nil && !errors.Is(err, target.ErrNotFound) {
		t.Errorf("cleanup: Stop %s: %v", hd, err)
	}
	if err := tg.Remove(ctx, hd); err != nil && !errors.Is(err, target.ErrNotFound) {
		t.Errorf("cleanup: Remove %s: %v", hd, err)
	}
}

// parseLogLine splits a line of Logs, "TIME STREAM TEXT".
func parseLogLine(s string) (stream, text string, ok bool) {
	_, rest, ok := strings.Cut(s, " ")
	if !ok {
		return "", "", false
	}
	stream, text, _ = strings.Cut(rest, " ")
	return stream, text, true
}

// logScanner scans the lines of Logs; stored lines are at most 64 KiB of text plus a prefix.
func logScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	return sc
}

// waitLine follows the logs of hd until the service printed text on stdout.
func waitLine(t *testing.T, ctx context.Context, tg target.Target, hd target.Handle, text string) {
	t.Helper()
	rc, err := tg.Logs(ctx, hd, target.LogOptions{Follow: true})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	sc := logScanner(rc)
	for sc.Scan() {
		if stream, txt, ok := parseLogLine(sc.Text()); ok && stream == "stdout" && txt == text {
			return
		}
	}
	t.Fatalf("the logs of %s ended without the line %q (scan: %v, context: %v)", hd, text, sc.Err(), ctx.Err())
}

// startRunning starts a service that behaves as b and waits until it printed Ready.
func startRunning(t *testing.T, ctx context.Context, h Harness, tg target.Target, b Behaviour) target.Handle {
	t.Helper()
	hd := start(t, ctx, tg, h.Spec(t, b))
	waitLine(t, ctx, tg, hd, Ready)
	return hd
}

func wait(t *testing.T, ctx context.Context, tg target.Target, hd target.Handle) target.Exit {
	t.Helper()
	e, err := tg.Wait(ctx, hd)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return e
}

func inspect(t *testing.T, ctx context.Context, tg target.Target, hd target.Handle) target.Status {
	t.Helper()
	st, err := tg.Inspect(ctx, hd)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return st
}

func testExitCode(t *testing.T, h Harness) {
	for _, code := range []int{0, 3} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			ctx, tg := testContext(t), h.New(t)
			hd := start(t, ctx, tg, h.Spec(t, Behaviour{Kind: ExitCode, Code: code}))
			want := target.Exit{Code: code}
			if diff := cmp.Diff(want, wait(t, ctx, tg, hd), ignoreExitTime); diff != "" {
				t.Errorf("Wait (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(exited{Exit: &want}, exitedOf(inspect(t, ctx, tg, hd)), ignoreExitTime); diff != "" {
				t.Errorf("Inspect (-want +got):\n%s", diff)
			}
		})
	}
}

func testKilledBySignal(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	hd := start(t, ctx, tg, h.Spec(t, Behaviour{Kind: KillSelf}))
	want := target.Exit{Code: -1, Signal: "SIGKILL"}
	if diff := cmp.Diff(want, wait(t, ctx, tg, hd), ignoreExitTime); diff != "" {
		t.Errorf("Wait (-want +got):\n%s", diff)
	}
}

func testStopHonoured(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	hd := startRunning(t, ctx, h, tg, Behaviour{Kind: RunUntilTerm})
	const grace = time.Minute
	began := time.Now()
	if err := tg.Stop(ctx, hd, grace); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(began); took >= grace {
		t.Errorf("Stop took %v, the whole grace: the stop signal was not honoured", took)
	}
	want := target.Exit{Code: 0}
	if diff := cmp.Diff(want, wait(t, ctx, tg, hd), ignoreExitTime); diff != "" {
		t.Errorf("Wait (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(false, inspect(t, ctx, tg, hd).Running); diff != "" {
		t.Errorf("Inspect: Running (-want +got):\n%s", diff)
	}
}

func testStopIgnored(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	hd := startRunning(t, ctx, h, tg, Behaviour{Kind: IgnoreTerm})
	const grace = time.Second
	began := time.Now()
	if err := tg.Stop(ctx, hd, grace); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(began); took < grace {
		t.Errorf("Stop returned after %v, before the grace of %v ended", took, grace)
	}
	if diff := cmp.Diff(false, inspect(t, ctx, tg, hd).Running); diff != "" {
		t.Errorf("Inspect after Stop: Running (-want +got):\n%s", diff)
	}
	want := target.Exit{Code: -1, Signal: "SIGKILL"}
	if diff := cmp.Diff(want, wait(t, ctx, tg, hd), ignoreExitTime); diff != "" {
		t.Errorf("Wait (-want +got):\n%s", diff)
	}
}

func testStopEndsGrandchild(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	hd := startRunning(t, ctx, h, tg, Behaviour{Kind: Grandchild, PIDFile: pidFile})
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("read the grandchild's PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("read the grandchild's PID: %v", err)
	}
	alive := h.Alive
	if alive == nil {
		alive = processAlive
	}
	if diff := cmp.Diff(true, alive(pid)); diff != "" {
		t.Fatalf("grandchild %d alive before Stop (-want +got):\n%s", pid, diff)
	}
	if err := tg.Stop(ctx, hd, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if diff := cmp.Diff(false, alive(pid)); diff != "" {
		t.Errorf("grandchild %d alive after Stop (-want +got):\n%s", pid, diff)
	}
	wait(t, ctx, tg, hd)
}

// processAlive reports whether process pid of this host exists and is not a zombie. A zombie
// is dead: only its parent's wait, which may never come (an init that does not reap), removes
// it.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	fields := strings.Fields(string(stat[i+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func testOutputDoesNotBlock(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	const mb = 20
	hd := start(t, ctx, tg, h.Spec(t, Behaviour{Kind: WriteOutput, MB: mb}))
	// A service blocked on its output would not exit before the context ends.
	if diff := cmp.Diff(target.Exit{Code: 0}, wait(t, ctx, tg, hd), ignoreExitTime); diff != "" {
		t.Errorf("Wait (-want +got):\n%s", diff)
	}
	rc, err := tg.Logs(ctx, hd, target.LogOptions{})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	n := 0
	for sc := logScanner(rc); sc.Scan(); {
		stream, text, ok := parseLogLine(sc.Text())
		if !ok || stream != "stdout" {
			continue
		}
		if want := OutputLine(n); text != want {
			t.Fatalf("stdout line %d of the logs is %.20q…, want %.20q…", n, text, want)
		}
		n++
	}
	if diff := cmp.Diff(mb<<10, n); diff != "" {
		t.Errorf("stdout lines in the logs (-want +got):\n%s", diff)
	}
}

func testLogs(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	const line = "hello from the conformance suite"
	hd := start(t, ctx, tg, h.Spec(t, Behaviour{Kind: PrintAndRun, Line: line}))
	waitLine(t, ctx, tg, hd, line)
	waitLine(t, ctx, tg, hd, Ready)
}

func testAdopt(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	hd := startRunning(t, ctx, h, tg, Behaviour{Kind: RunUntilTerm})
	pid := inspect(t, ctx, tg, hd).PID

	fresh := h.New(t)
	st := inspect(t, ctx, fresh, hd)
	if diff := cmp.Diff(exited{Running: true}, exitedOf(st)); diff != "" {
		t.Errorf("Inspect by a fresh Target (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(pid, st.PID); diff != "" {
		t.Errorf("Inspect by a fresh Target: PID (-want +got):\n%s", diff)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := fresh.Wait(ctx, hd)
		waited <- err
	}()
	if err := fresh.Stop(ctx, hd, hangTimeout/2); err != nil {
		t.Fatalf("Stop by a fresh Target: %v", err)
	}
	if err := <-waited; err != nil {
		t.Errorf("Wait by a fresh Target: %v", err)
	}
	if err := fresh.Remove(ctx, hd); err != nil {
		t.Errorf("Remove by a fresh Target: %v", err)
	}
	_, err := fresh.Inspect(ctx, hd)
	if diff := cmp.Diff(target.ErrNotFound, err, equateErrors); diff != "" {
		t.Errorf("Inspect after Remove (-want +got):\n%s", diff)
	}
}

func testReusedPID(t *testing.T, h Harness) {
	if h.Reused == nil {
		t.Skip("the harness cannot forge a handle whose PID was reused")
	}
	ctx, tg := testContext(t), h.New(t)
	hd := startRunning(t, ctx, h, tg, Behaviour{Kind: RunUntilTerm})
	stale := h.Reused(hd)
	if stale == hd {
		t.Fatalf("Reused(%s) returned the same handle", hd)
	}
	for _, view := range []struct {
		name string
		tg   target.Target
	}{{"starter", tg}, {"fresh", h.New(t)}} {
		_, err := view.tg.Inspect(ctx, stale)
		if diff := cmp.Diff(target.ErrNotFound, err, equateErrors); diff != "" {
			t.Errorf("%s: Inspect(stale) (-want +got):\n%s", view.name, diff)
		}
		_, err = view.tg.Wait(ctx, stale)
		if diff := cmp.Diff(target.ErrNotFound, err, equateErrors); diff != "" {
			t.Errorf("%s: Wait(stale) (-want +got):\n%s", view.name, diff)
		}
		err = view.tg.Stop(ctx, stale, 0)
		if diff := cmp.Diff(target.ErrNotFound, err, equateErrors); diff != "" {
			t.Errorf("%s: Stop(stale) (-want +got):\n%s", view.name, diff)
		}
		if s, ok := view.tg.(target.Signaler); ok {
			err = s.Signal(ctx, stale, "SIGKILL")
			if diff := cmp.Diff(target.ErrNotFound, err, equateErrors); diff != "" {
				t.Errorf("%s: Signal(stale) (-want +got):\n%s", view.name, diff)
			}
		}
	}
	// Nothing of the above may have touched the instance that really has the PID.
	if diff := cmp.Diff(exited{Running: true}, exitedOf(inspect(t, ctx, tg, hd))); diff != "" {
		t.Errorf("Inspect of the real instance (-want +got):\n%s", diff)
	}
}

func testStopExited(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	hd := start(t, ctx, tg, h.Spec(t, Behaviour{Kind: ExitCode}))
	wait(t, ctx, tg, hd)
	for i := range 2 {
		if err := tg.Stop(ctx, hd, time.Second); err != nil {
			t.Errorf("Stop #%d of an exited instance: %v", i+1, err)
		}
	}
}

func testRemove(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	hd := start(t, ctx, tg, h.Spec(t, Behaviour{Kind: ExitCode}))
	wait(t, ctx, tg, hd)
	if err := tg.Remove(ctx, hd); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	_, err := tg.Inspect(ctx, hd)
	if diff := cmp.Diff(target.ErrNotFound, err, equateErrors); diff != "" {
		t.Errorf("Inspect after Remove (-want +got):\n%s", diff)
	}
	_, err = tg.Wait(ctx, hd)
	if diff := cmp.Diff(target.ErrNotFound, err, equateErrors); diff != "" {
		t.Errorf("Wait after Remove (-want +got):\n%s", diff)
	}
	if err := tg.Remove(ctx, hd); err != nil && !errors.Is(err, target.ErrNotFound) {
		t.Errorf("second Remove: %v, want nil or ErrNotFound", err)
	}
}

func testWaitHonoursContext(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	hd := start(t, ctx, tg, h.Spec(t, Behaviour{Kind: RunUntilTerm}))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := tg.Wait(short, hd)
	if diff := cmp.Diff(context.DeadlineExceeded, err, equateErrors); diff != "" {
		t.Errorf("Wait past its context (-want +got):\n%s", diff)
	}
}

func testInvalidSpec(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	spec := h.Spec(t, Behaviour{Kind: ExitCode})
	spec.Argv = nil
	hd, err := tg.Start(ctx, spec)
	if err == nil {
		t.Cleanup(func() { cleanup(t, tg, hd) })
	}
	if diff := cmp.Diff(target.ErrInvalidSpec, err, equateErrors); diff != "" {
		t.Errorf("Start with no argv (-want +got):\n%s", diff)
	}
}

func testSignal(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	s, ok := tg.(target.Signaler)
	if !ok {
		t.Skip("the target is no target.Signaler")
	}
	hd := startRunning(t, ctx, h, tg, Behaviour{Kind: RunUntilTerm})
	if err := s.Signal(ctx, hd, "NO-SUCH-SIGNAL"); err == nil {
		t.Errorf("Signal NO-SUCH-SIGNAL: no error")
	}
	if err := s.Signal(ctx, hd, "TERM"); err != nil {
		t.Fatalf("Signal TERM: %v", err)
	}
	if diff := cmp.Diff(target.Exit{Code: 0}, wait(t, ctx, tg, hd), ignoreExitTime); diff != "" {
		t.Errorf("Wait after SIGTERM (-want +got):\n%s", diff)
	}
}

func testConcurrentStart(t *testing.T, h Harness) {
	ctx, tg := testContext(t), h.New(t)
	const n = 20
	specs := make([]target.Spec, n)
	for i := range specs {
		specs[i] = h.Spec(t, Behaviour{Kind: RunUntilTerm})
	}
	handles := make([]target.Handle, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { handles[i], errs[i] = tg.Start(ctx, specs[i]) })
	}
	wg.Wait()
	seen := make(map[target.Handle]bool)
	for i, hd := range handles {
		if errs[i] != nil {
			t.Errorf("Start #%d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { cleanup(t, tg, hd) })
		if seen[hd] {
			t.Errorf("Start #%d returned %s twice", i, hd)
		}
		seen[hd] = true
		if diff := cmp.Diff(true, inspect(t, ctx, tg, hd).Running); diff != "" {
			t.Errorf("Inspect #%d: Running (-want +got):\n%s", i, diff)
		}
	}
	if t.Failed() {
		return
	}
	for i, hd := range handles {
		wg.Go(func() {
			if err := tg.Stop(ctx, hd, hangTimeout/2); err != nil {
				t.Errorf("Stop #%d: %v", i, err)
				return
			}
			if _, err := tg.Wait(ctx, hd); err != nil {
				t.Errorf("Wait #%d: %v", i, err)
			}
		})
	}
	wg.Wait()
}
