package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
)

// How a command starts a daemon on demand and waits for it.
const (
	// spawnWait bounds the wait for a started daemon to answer.
	spawnWait = 10 * time.Second
	// exitGrace is how long a started daemon that exited is given to be replaced by another
	// answering on the socket: two commands that start a daemon at once start two, and the
	// one that loses the data dir's lock exits at once while the other gets ready.
	exitGrace = 500 * time.Millisecond
	// pollEvery is how often the socket is asked.
	pollEvery = 10 * time.Millisecond
	// logTail is how many lines of daemon.log a failure shows.
	logTail = 20
	// daemonLog is the file in the data dir that a daemon started in the background writes
	// its output to.
	daemonLog = "daemon.log"
)

// daemonClient returns a client of the data dir's daemon, started first if none answers.
func (a *app) daemonClient(ctx context.Context) (*client.Client, error) {
	c, _, _, err := a.ensureDaemon(ctx)
	return c, err
}

// ensureDaemon returns a client of the data dir's daemon and its description. When no daemon
// answers it starts one in the background (started is true). Whatever keeps a daemon from
// answering is an error that wraps client.ErrUnreachable and says why.
func (a *app) ensureDaemon(ctx context.Context) (c *client.Client, d api.Daemon, started bool, err error) {
	c, dir, err := a.client()
	if err != nil {
		return nil, api.Daemon{}, false, err
	}
	d, err = c.Daemon(ctx)
	if err == nil {
		return c, d, false, nil
	}
	if !errors.Is(err, client.ErrUnreachable) {
		return nil, api.Daemon{}, false, err
	}
	d, err = a.spawnDaemon(ctx, c, dir)
	if err != nil {
		return nil, api.Daemon{}, false, err
	}
	if a.verbose {
		fmt.Fprintf(a.stderr, "harness: started a daemon (pid %d) on %s\n", d.PID, dir)
	}
	return c, d, true, nil
}

// spawnDaemon runs `harness daemon run --data-dir DIR` detached (spawnDetached) and waits
// until a daemon answers on the socket. When it exits first, or does not answer within
// spawnWait, the error shows what it wrote.
func (a *app) spawnDaemon(ctx context.Context, c *client.Client, dir string) (api.Daemon, error) {
	fail := func(err error) error { return fmt.Errorf("%w on %s: %w", client.ErrUnreachable, dir, err) }
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return api.Daemon{}, fail(fmt.Errorf("start one: %w", err))
	}
	exe, err := a.executable()
	if err != nil {
		return api.Daemon{}, fail(fmt.Errorf("start one: find the harness executable: %w", err))
	}
	var d api.Daemon
	err = spawnDetached(ctx, exe, []string{"daemon", "run", "--data-dir", dir}, a.env, filepath.Join(dir, daemonLog),
		func(ctx context.Context) (bool, error) {
			d, err = c.Daemon(ctx)
			if errors.Is(err, client.ErrUnreachable) {
				return false, nil
			}
			return err == nil, err
		})
	if err != nil && ctx.Err() != nil { // the caller's timeout, not an unreachable daemon
		return api.Daemon{}, fmt.Errorf("start a daemon on %s: %w", dir, err)
	}
	if err != nil {
		return api.Daemon{}, fail(err)
	}
	return d, nil
}

// spawnDetached starts exe with args detached from this process (its own session, stdin
// /dev/null, stdout and stderr appended to logPath, working directory /) and polls answers
// until it reports the child ready. The child outlives this process. When it exits first (and
// nothing answers within exitGrace: two daemons or agents started at once, one of which loses
// the lock), or nothing answers within spawnWait, the error shows what it wrote.
func spawnDetached(ctx context.Context, exe string, args, env []string, logPath string, answers func(context.Context) (bool, error)) error {
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start one: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	offset, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("start one: %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile // stdin nil: /dev/null
	cmd.Env = env
	cmd.Dir = "/" // keep no directory busy
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start one: %w", err)
	}
	pid := cmd.Process.Pid
	// Nothing waits for the child with cmd.Wait: reaped polls for its exit instead, so no
	// goroutine is left behind for a child that outlives this command.
	defer cmd.Process.Release()

	deadline := time.Now().Add(spawnWait)
	exited := ""
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, err := answers(ctx)
		if ok || err != nil {
			return err
		}
		if exited == "" {
			if how, ok := reaped(pid); ok {
				exited = how
				if grace := time.Now().Add(exitGrace); grace.Before(deadline) {
					deadline = grace
				}
			}
		}
		if time.Now().After(deadline) {
			if exited != "" {
				return fmt.Errorf("started one (pid %d), which %s%s", pid, exited, readTail(logPath, offset))
			}
			return fmt.Errorf("started one (pid %d), which does not answer after %s%s", pid, spawnWait, readTail(logPath, offset))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for pid %d: %w", pid, ctx.Err())
		case <-tick.C:
		}
	}
}

// reaped reports whether the child pid has exited, reaping it, and how it ended.
func reaped(pid int) (string, bool) {
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	if err != nil || got != pid {
		return "", false
	}
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited with status %d", ws.ExitStatus()), true
	case ws.Signaled():
		return fmt.Sprintf("died of signal %d (%v)", int(ws.Signal()), ws.Signal()), true
	}
	return "ended", true
}

// readTail returns, for an error message, the last logTail lines written to path after offset.
func readTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("; read its output: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, offset, 1<<20))
	if err != nil {
		return fmt.Sprintf("; read its output: %v", err)
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return fmt.Sprintf("; it wrote nothing to %s", path)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > logTail {
		lines = lines[len(lines)-logTail:]
	}
	return fmt.Sprintf("; the end of %s:\n    %s", path, strings.Join(lines, "\n    "))
}

// waitGone waits until the daemon pid no longer answers on the socket and has exited, so that
// a daemon started next finds the data dir free; at most within.
func waitGone(ctx context.Context, c *client.Client, pid int, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		_, err := c.Daemon(ctx)
		if errors.Is(err, client.ErrUnreachable) && !alive(pid) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the daemon (pid %d) still runs after %s: %w", pid, within, ctx.Err())
		case <-tick.C:
		}
	}
}

// alive reports whether process pid exists. A child of this process (a daemon it started and
// that exited) is reaped first, so that it is not seen as a zombie.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if _, ok := reaped(pid); ok {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
