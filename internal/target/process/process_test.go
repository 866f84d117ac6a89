package process_test

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/graph-network-harness/harness/internal/target/process"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestHelperProcess is the service of the tests when the environment asks for a Behaviour;
// otherwise it does nothing.
func TestHelperProcess(*testing.T) { targettest.HelperMain() }

// helperArgv runs the test binary as the service.
func helperArgv() []string { return []string{os.Args[0], "-test.run=^TestHelperProcess$"} }

// newTarget returns a Target on stateDir that is closed when t ends.
func newTarget(t *testing.T, stateDir string) *process.Target {
	tg := process.New(process.Options{StateDir: stateDir})
	t.Cleanup(func() {
		if err := tg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tg
}

// helperSpec is the spec of a test-binary service that acts b.
func helperSpec(t *testing.T, b targettest.Behaviour) target.Spec {
	return target.Spec{
		Stack:      "test",
		Service:    "svc",
		Argv:       helperArgv(),
		Env:        b.Env(),
		LogPath:    filepath.Join(t.TempDir(), "svc.log"),
		StopSignal: "SIGTERM",
	}
}

func TestConformance(t *testing.T) {
	stateDir := t.TempDir()
	targettest.Run(t, targettest.Harness{
		New:  func(t *testing.T) target.Target { return newTarget(t, stateDir) },
		Spec: helperSpec,
		Reused: func(h target.Handle) target.Handle {
			pid, ticks, _ := strings.Cut(h.ID, ":")
			n, _ := strconv.ParseUint(ticks, 10, 64)
			h.ID = pid + ":" + strconv.FormatUint(n+1, 10)
			return h
		},
	})
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start starts spec and stops and removes the instance when t ends.
func start(t *testing.T, ctx context.Context, tg *process.Target, spec target.Spec) target.Handle {
	t.Helper()
	h, err := tg.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tg.Stop(ctx, h, 0); err != nil {
			t.Errorf("cleanup: Stop: %v", err)
		}
		if err := tg.Remove(ctx, h); err != nil {
			t.Errorf("cleanup: Remove: %v", err)
		}
	})
	return h
}

// logLines returns the stored lines of h as "STREAM TEXT", without time stamps.
func logLines(t *testing.T, ctx context.Context, tg target.Target, h target.Handle) []string {
	t.Helper()
	rc, err := tg.Logs(ctx, h, target.LogOptions{})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		_, rest, _ := strings.Cut(sc.Text(), " ")
		lines = append(lines, rest)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return lines
}

// waitReady follows the logs of h until the helper printed targettest.Ready.
func waitReady(t *testing.T, ctx context.Context, tg target.Target, h target.Handle) {
	t.Helper()
	rc, err := tg.Logs(ctx, h, target.LogOptions{Follow: true})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	for sc := bufio.NewScanner(rc); sc.Scan(); {
		if strings.HasSuffix(sc.Text(), " stdout "+targettest.Ready) {
			return
		}
	}
	t.Fatalf("the helper never printed %q", targettest.Ready)
}

var ignoreExitTime = cmpopts.IgnoreFields(target.Exit{}, "At")

func TestEnvDirAndNotes(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, "")
	env := []string{"PATH=/usr/bin:/bin", "GREETING=hello world"}
	h := start(t, ctx, tg, target.Spec{Argv: []string{"env"}, Env: env, LogPath: filepath.Join(t.TempDir(), "env.log")})
	if _, err := tg.Wait(ctx, h); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"stdout PATH=/usr/bin:/bin",
		"stdout GREETING=hello world",
		"harness exited with status 0",
	}
	if diff := cmp.Diff(want, logLines(t, ctx, tg, h)); diff != "" {
		t.Errorf("log of env (-want +got):\n%s", diff)
	}

	dir := t.TempDir()
	h = start(t, ctx, tg, target.Spec{Argv: []string{"/bin/sh", "-c", "pwd; echo oops >&2; exit 3"}, Dir: dir,
		LogPath: filepath.Join(t.TempDir(), "pwd.log")})
	e, err := tg.Wait(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(target.Exit{Code: 3}, e, ignoreExitTime); diff != "" {
		t.Errorf("Wait (-want +got):\n%s", diff)
	}
	got := logLines(t, ctx, tg, h)
	// stdout and stderr are drained apart: their order is not kept.
	slices.Sort(got[:2])
	want = []string{"stderr oops", "stdout " + dir, "harness exited with status 3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log of sh (-want +got):\n%s", diff)
	}
}

func TestStartUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this host")
	}
	groups, err := nobody.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	ctx, tg := testContext(t), newTarget(t, "")
	h := start(t, ctx, tg, target.Spec{Argv: []string{"/bin/sh", "-c", "id -u; id -g; id -G"}, User: "nobody",
		Env: []string{"PATH=/usr/bin:/bin"}, LogPath: filepath.Join(t.TempDir(), "svc.log")})
	if _, err := tg.Wait(ctx, h); err != nil {
		t.Fatal(err)
	}
	got := logLines(t, ctx, tg, h)
	want := []string{"stdout " + nobody.Uid, "stdout " + nobody.Gid, "stdout " + strings.Join(groups, " "), "harness exited with status 0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestStartFailsLeavingNothing(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, "")
	log := filepath.Join(t.TempDir(), "svc.log")
	for _, spec := range []target.Spec{
		{Argv: []string{"no-such-program-anywhere"}, Env: []string{"PATH=/usr/bin:/bin"}},
		{Argv: []string{"./missing"}, Dir: t.TempDir()},
		{Argv: []string{"/usr/bin/true"}, StopSignal: "SIGNOPE"},
		{Argv: []string{"/usr/bin/true"}, User: "no-such-user-anywhere"},
		{Argv: []string{"/usr/bin/true"}, Dir: filepath.Join(t.TempDir(), "missing"), LogPath: log},
	} {
		_, err := tg.Start(ctx, spec)
		if diff := cmp.Diff(target.ErrInvalidSpec, err, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("Start %q (-want +got):\n%s", spec.Argv, diff)
		}
	}
}

func TestAdoptedStopUsesStoredSignal(t *testing.T) {
	ctx, stateDir := testContext(t), t.TempDir()
	tg := newTarget(t, stateDir)
	spec := helperSpec(t, targettest.Behaviour{Kind: targettest.RunUntilTerm})
	spec.StopSignal = "INT" // the helper does not handle SIGINT: it dies of it
	h := start(t, ctx, tg, spec)
	waitReady(t, ctx, tg, h)

	if err := newTarget(t, stateDir).Stop(ctx, h, time.Minute); err != nil {
		t.Fatalf("Stop by a fresh Target: %v", err)
	}
	e, err := tg.Wait(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(target.Exit{Code: -1, Signal: "SIGINT"}, e, ignoreExitTime); diff != "" {
		t.Errorf("Wait by the starter (-want +got):\n%s", diff)
	}
}

func TestAdoptedWaitReportsUnknownStatus(t *testing.T) {
	ctx, stateDir := testContext(t), t.TempDir()
	tg := newTarget(t, stateDir)
	h := start(t, ctx, tg, helperSpec(t, targettest.Behaviour{Kind: targettest.RunUntilTerm}))
	waitReady(t, ctx, tg, h)
	fresh := newTarget(t, stateDir)
	// Adopted before it ends (Signal adopts, as Wait does): a Wait that began only after the
	// exit would rightly find nothing.
	if err := fresh.Signal(ctx, h, "SIGCONT"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan target.Exit, 1)
	go func() {
		e, err := fresh.Wait(ctx, h)
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		waited <- e
	}()
	// The fresh Target finds the log through the state file.
	waitReady(t, ctx, fresh, h)
	if err := tg.Stop(ctx, h, time.Minute); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(target.Exit{Code: -1}, <-waited, ignoreExitTime); diff != "" {
		t.Errorf("Wait of an adopted process (-want +got):\n%s", diff)
	}
}

func TestCloseLeavesInstancesRunning(t *testing.T) {
	ctx, stateDir := testContext(t), t.TempDir()
	tg := process.New(process.Options{StateDir: stateDir})
	h, err := tg.Start(ctx, helperSpec(t, targettest.Behaviour{Kind: targettest.IgnoreTerm}))
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, ctx, tg, h)
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Start(ctx, helperSpec(t, targettest.Behaviour{Kind: targettest.ExitCode})); err == nil {
		t.Errorf("Start after Close: no error")
	}
	successor := newTarget(t, stateDir)
	st, err := successor.Inspect(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(true, st.Running); diff != "" {
		t.Errorf("Inspect by the successor: Running (-want +got):\n%s", diff)
	}
	if err := successor.Stop(ctx, h, 0); err != nil {
		t.Fatal(err)
	}
	if err := successor.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
}

func TestSubscribe(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, "")
	h := start(t, ctx, tg, helperSpec(t, targettest.Behaviour{Kind: targettest.RunUntilTerm}))
	lines, err := tg.Subscribe(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, ctx, tg, h)
	// A signal that Stop did not send: the exit is noted.
	if err := tg.Signal(ctx, h, "TERM"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for l := range lines {
		got = append(got, l)
	}
	// Ready may have come before Subscribe; the exit note comes after.
	if len(got) == 0 {
		t.Fatal("no line")
	}
	if diff := cmp.Diff("exited with status 0", got[len(got)-1]); diff != "" {
		t.Errorf("last line (-want +got):\n%s", diff)
	}
}

func TestHandleOfAnotherNodeOrTarget(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, "")
	for _, h := range []target.Handle{
		{Target: "docker", Node: "local", ID: "1:1"},
		{Target: "process", Node: "elsewhere", ID: "1:1"},
		{Target: "process", Node: "local", ID: "garbage"},
		{Target: "process", Node: "local", ID: "-1:5"},
	} {
		_, err := tg.Inspect(ctx, h)
		if diff := cmp.Diff(target.ErrNotFound, err, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("Inspect %s (-want +got):\n%s", h, diff)
		}
	}
}

// TestStopEndsWhatAnExitedLeaderLeft starts a service that daemonizes: it leaves a child in
// its process group and exits. Until Stop, the instance is not over: Remove refuses.
func TestStopEndsWhatAnExitedLeaderLeft(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, "")
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := start(t, ctx, tg, target.Spec{
		Argv:    []string{"/bin/sh", "-c", `sleep 300 >/dev/null 2>&1 & echo $! >"$1"`, "sh", pidFile},
		LogPath: filepath.Join(t.TempDir(), "svc.log"),
	})
	e, err := tg.Wait(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(target.Exit{Code: 0}, e, ignoreExitTime); diff != "" {
		t.Errorf("Wait (-want +got):\n%s", diff)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Remove(ctx, h); err == nil {
		t.Errorf("Remove while the leader's child runs: no error")
	}
	if diff := cmp.Diff(true, running(pid)); diff != "" {
		t.Fatalf("the leader's child runs before Stop (-want +got):\n%s", diff)
	}
	if err := tg.Stop(ctx, h, time.Minute); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(false, running(pid)); diff != "" {
		t.Errorf("the leader's child runs after Stop (-want +got):\n%s", diff)
	}
}

// running reports whether process pid exists and is no zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return fields[0] != "Z" && fields[0] != "X"
}

func TestRemoveRefusesARunningInstance(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, t.TempDir())
	h := start(t, ctx, tg, helperSpec(t, targettest.Behaviour{Kind: targettest.RunUntilTerm}))
	if err := tg.Remove(ctx, h); err == nil {
		t.Errorf("Remove of a running instance: no error")
	}
	if err := process.New(process.Options{}).Remove(ctx, h); err == nil {
		t.Errorf("Remove of a running instance by a fresh Target: no error")
	}
}

// A service that prints nothing gets no log file, and the exit Stop causes is not noted:
// starting and stopping a thousand quiet services creates no file.
func TestQuietServiceHasNoLogFile(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, "")
	path := filepath.Join(t.TempDir(), "logs", "quiet.log")
	h := start(t, ctx, tg, target.Spec{Argv: []string{"sleep", "60"}, LogPath: path})
	if err := tg.Stop(ctx, h, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("log file of a quiet service: stat = %v, want it absent", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		t.Errorf("the log directory was not made at Start: %v", err)
	}
}

// TestQuietServicesCostNoGoroutine: what watches the exits and the output of running
// instances is one goroutine, whatever their number (a thousand services must not hold
// thousands of parked goroutines and their stacks); a service that prints is drained all the
// same, and its exit seen.
func TestQuietServicesCostNoGoroutine(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, "")
	dir := t.TempDir()
	spec := func(i int, argv ...string) target.Spec {
		return target.Spec{Argv: argv, LogPath: filepath.Join(dir, strconv.Itoa(i)+".log")}
	}
	start(t, ctx, tg, spec(0, "sleep", "60")) // the first start makes the poller
	before := runtime.NumGoroutine()
	var handles []target.Handle
	for i := 1; i <= 50; i++ {
		handles = append(handles, start(t, ctx, tg, spec(i, "sleep", "60")))
	}
	if extra := runtime.NumGoroutine() - before; extra > 0 {
		t.Errorf("50 more quiet instances: %d more goroutines, want none", extra)
	}
	h := start(t, ctx, tg, spec(99, "sh", "-c", "echo one; echo two >&2"))
	if exit, err := tg.Wait(ctx, h); err != nil || exit.Code != 0 {
		t.Fatalf("Wait = %+v, %v", exit, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "99.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" stdout one\n", " stderr two\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log lacks %q:\n%s", want, data)
		}
	}
	for _, h := range handles {
		if err := tg.Stop(ctx, h, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
}

// A service that prints keeps running when its supervisor goes away (its output pipe keeps a
// reader: the service itself), and a successor that adopts it drains its output again, from
// where the pipe was left.
func TestOutputOutlivesSupervisor(t *testing.T) {
	ctx, stateDir := testContext(t), t.TempDir()
	path := filepath.Join(t.TempDir(), "chatty.log")
	first := process.New(process.Options{StateDir: stateDir})
	h, err := first.Start(ctx, target.Spec{
		Argv:    []string{"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.02; done"},
		Env:     []string{"PATH=/usr/bin:/bin"},
		LogPath: path,
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := func() int {
		b, _ := os.ReadFile(path)
		return strings.Count(string(b), "stdout line ")
	}
	waitFor(t, func() bool { return lines() >= 3 })
	if err := first.Close(); err != nil { // the supervisor goes away
		t.Fatal(err)
	}
	before := lines()
	time.Sleep(300 * time.Millisecond) // the service goes on printing, into the pipe

	successor := newTarget(t, stateDir)
	wctx, cancel := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() { _, err := successor.Wait(wctx, h); waited <- err }() // adopts it
	waitFor(t, func() bool { return lines() >= before+20 })
	st, err := successor.Inspect(ctx, h)
	if err != nil || !st.Running {
		t.Fatalf("the service after its supervisor went away: running %v, err %v", st.Running, err)
	}
	// Nothing was lost in between: the numbers run on without a gap.
	b, _ := os.ReadFile(path)
	var nums []int
	for _, l := range strings.Split(string(b), "\n") {
		if _, text, ok := strings.Cut(l, " stdout line "); ok {
			n, _ := strconv.Atoi(text)
			nums = append(nums, n)
		}
	}
	for i, n := range nums {
		if n != i+1 {
			t.Fatalf("line %d of the log is number %d: output was lost or repeated", i+1, n)
		}
	}
	cancel()
	<-waited
	if err := successor.Stop(ctx, h, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
	}
}

// Wait and Stop of one handle by a fresh Target at the same time: whichever adopts the
// instance, the other uses it. (Wait found the process gone when Stop adopted and ended it
// between Wait's lookup and its own adoption.)
func TestConcurrentAdoption(t *testing.T) {
	ctx, tg := testContext(t), newTarget(t, "")
	fresh := newTarget(t, "")
	for i := range 30 {
		h := start(t, ctx, tg, target.Spec{Argv: []string{"sleep", "60"}})
		waited := make(chan error, 1)
		go func() {
			_, err := fresh.Wait(ctx, h)
			waited <- err
		}()
		if err := fresh.Stop(ctx, h, time.Minute); err != nil {
			t.Fatalf("instance %d: Stop: %v", i, err)
		}
		if err := <-waited; err != nil {
			t.Errorf("instance %d: Wait: %v", i, err)
		}
	}
}
