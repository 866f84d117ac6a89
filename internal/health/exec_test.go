package health_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/health"
)

func TestLocalExec(t *testing.T) {
	type result struct {
		Code   int
		Output string
		Err    string
	}
	tests := []struct {
		argv []string
		want result
	}{
		{[]string{"true"}, result{}},
		{[]string{"false"}, result{Code: 1}},
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 3"}, result{Code: 3, Output: "out\nerr\n"}},
		{[]string{"sh", "-c", "head -c 100000 /dev/zero"}, result{Output: strings.Repeat("\x00", 64<<10)}},
		{[]string{"/nonexistent/check"}, result{Code: -1, Err: "fork/exec /nonexistent/check: no such file or directory"}},
		{nil, result{Code: -1, Err: "no command"}},
	}
	for _, tt := range tests {
		code, out, err := health.LocalExec{}.Exec(t.Context(), tt.argv)
		got := result{Code: code, Output: string(out), Err: errText(err, "", "")}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Exec(%q) (-want +got):\n%s", tt.argv, diff)
		}
	}
}

func TestLocalExecDirEnv(t *testing.T) {
	dir := t.TempDir()
	_, out, err := health.LocalExec{Dir: dir, Env: []string{"GREETING=hi"}}.Exec(t.Context(), []string{"sh", "-c", `echo "$GREETING $(pwd)"`})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("hi "+dir+"\n", string(out)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestExec(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"true"}, ""},
		{[]string{"false"}, "exit status 1"},
		{[]string{"sh", "-c", "echo; echo '  oops  '; echo more; exit 3"}, "exit status 3: oops"},
		{[]string{"/nonexistent/check"}, "run /nonexistent/check: fork/exec /nonexistent/check: no such file or directory"},
		{nil, "exec: no command"},
	}
	for _, tt := range tests {
		got := errText(health.Exec(health.LocalExec{}, tt.argv).Check(t.Context()), "", "")
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Check(%q) (-want +got):\n%s", tt.argv, diff)
		}
	}
}

// A hanging command is killed at the probe's timeout, with the children it started.
func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := health.Exec(health.LocalExec{}, []string{"sh", "-c", `sleep 10 & echo $! > "$1"; wait`, "sh", pidFile})
	p := health.NewProbe(c, health.Params{Timeout: 300 * time.Millisecond})
	r := p.CheckNow(t.Context())

	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		t.Fatal(err)
	}
	got := struct{ Err, Child string }{errText(r.Err, "", ""), processState(t, pid)}
	want := struct{ Err, Child string }{"check timed out after 300ms", "gone"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// processState waits up to 5s for pid to die and reports "gone" when it has (a zombie waiting
// for init to reap it counts as gone), "running" otherwise.
func processState(t *testing.T, pid int) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, os.ErrNotExist) {
			return "gone"
		}
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the parenthesised command name.
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return "gone"
		}
	}
	syscall.Kill(pid, syscall.SIGKILL) // do not leave it behind
	return "running"
}

// fakeExecer records the argv it is asked to run and answers with a fixed result.
type fakeExecer struct {
	argv [][]string
	code int
	out  string
	err  error
}

func (f *fakeExecer) Exec(_ context.Context, argv []string) (int, []byte, error) {
	f.argv = append(f.argv, argv)
	return f.code, []byte(f.out), f.err
}

func TestExecThroughExecer(t *testing.T) {
	f := &fakeExecer{err: errors.New("container is not running")}
	argv := []string{"pg_isready", "-U", "postgres"}
	c := health.Exec(f, argv)
	argv[0] = "changed" // Exec keeps its own copy
	got := errText(c.Check(t.Context()), "", "")
	if diff := cmp.Diff("run pg_isready: container is not running", got); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"pg_isready", "-U", "postgres"}}, f.argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
}
