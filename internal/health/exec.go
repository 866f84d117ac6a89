package health

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Execer runs a command where the service runs: on this host, inside its container, on its
// remote host. It is owned here so that the checkers depend on nothing but what they call; the
// orchestrator adapts a target.Execer and the instance's Handle to it.
type Execer interface {
	// Exec runs argv and returns its exit code and its output (stdout and stderr,
	// interleaved, possibly truncated). A non-zero exit is not an error: err reports only a
	// command that could not be run or was stopped because ctx ended.
	Exec(ctx context.Context, argv []string) (exitCode int, output []byte, err error)
}

// Exec returns a Checker that runs argv through e and is healthy when it exits with status 0.
// Otherwise the error is "exit status N: " and the first line of the output.
func Exec(e Execer, argv []string) Checker {
	argv = append([]string(nil), argv...)
	return CheckerFunc(func(ctx context.Context) error {
		if len(argv) == 0 {
			return errors.New("exec: no command")
		}
		code, out, err := e.Exec(ctx, argv)
		if err != nil {
			return fmt.Errorf("run %s: %w", argv[0], err)
		}
		if code == 0 {
			return nil
		}
		if line := firstLine(out); line != "" {
			return fmt.Errorf("exit status %d: %s", code, line)
		}
		return fmt.Errorf("exit status %d", code)
	})
}

// LocalExec is an Execer that runs commands on this host with os/exec, without a shell. The
// zero value runs in the current directory with the current environment.
//
// Each command runs in a process group of its own, and the whole group is killed when ctx
// ends, so a check script's children die with it. Output is kept up to 64 KiB.
type LocalExec struct {
	// Dir is the working directory; empty means the current one.
	Dir string
	// Env is the whole environment (NAME=value); nil means the current one.
	Env []string
}

// localExecWaitDelay bounds how long Exec waits for the output pipes to close after the
// command exits or is killed: a descendant that left the process group and keeps them open
// must not hold the check.
const localExecWaitDelay = time.Second

// Exec implements Execer.
func (l LocalExec) Exec(ctx context.Context, argv []string) (int, []byte, error) {
	if len(argv) == 0 {
		return -1, nil, errors.New("no command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = l.Dir
	cmd.Env = l.Env
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's ID is the leader's PID (Setpgid with Pgid 0).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = localExecWaitDelay
	err := cmd.Run()
	if ctx.Err() != nil && cmd.ProcessState != nil && !cmd.ProcessState.Success() {
		return -1, out.bytes(), ctx.Err()
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), out.bytes(), nil
	}
	if err != nil {
		return -1, out.bytes(), err
	}
	return 0, out.bytes(), nil
}

// capped is an io.Writer that keeps the first maxRead bytes and discards the rest, without
// failing, so that a chatty command is not killed by a broken pipe. os/exec writes to it from
// two goroutines (stdout, stderr), hence the lock.
type capped struct {
	mu  sync.Mutex
	buf []byte
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxRead - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf
}
