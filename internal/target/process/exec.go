package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/target"
)

const (
	// execOutputLimit bounds the output Exec keeps.
	execOutputLimit = 64 << 10
	// execWaitDelay bounds how long Exec waits for its output pipes after the command
	// ended: a descendant that left the process group must not hold a health check.
	execWaitDelay = time.Second
)

// Exec implements target.Execer: it runs argv on this host, as a health check of kind
// command does, without a shell, with the instance's environment, working directory and
// user — from its Spec for an instance this Target started, from /proc for an adopted one
// (its initial environment, its current directory, its owner). The command runs in a process
// group of its own, which is killed when ctx ends. Output (stdout and stderr interleaved) is
// kept up to 64 KiB. A non-zero exit is no error; a command killed by a signal has
// ExitCode -1. A handle with no running process is ErrNotFound.
func (t *Target) Exec(ctx context.Context, h target.Handle, argv []string) (target.ExecResult, error) {
	res, err := t.exec(ctx, h, argv)
	if err != nil {
		return res, fmt.Errorf("exec in %s: %w", h, err)
	}
	return res, nil
}

func (t *Target) exec(ctx context.Context, h target.Handle, argv []string) (target.ExecResult, error) {
	if len(argv) == 0 {
		return target.ExecResult{}, errors.New("no command")
	}
	env, dir, cred, err := t.execContext(h)
	if err != nil {
		return target.ExecResult{}, err
	}
	path, err := resolveArgv0(argv[0], dir, env)
	if err != nil {
		return target.ExecResult{}, err
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Args, cmd.Env, cmd.Dir = argv, env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	out := &capped{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error {
		// The group's number is the leader's PID (Setpgid with Pgid 0); the leader is not
		// reaped before Cancel returns.
		return unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	}
	cmd.WaitDelay = execWaitDelay
	err = cmd.Run()
	res := target.ExecResult{ExitCode: -1, Output: out.b.Bytes()}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case err == nil, errors.As(err, &exitErr), errors.Is(err, exec.ErrWaitDelay):
		return res, nil
	}
	return res, err
}

// execContext returns the environment, directory and credential of the instance of h.
func (t *Target) execContext(h target.Handle) (env []string, dir string, cred *syscall.Credential, err error) {
	pid, ticks, err := t.parseHandle(h)
	if err != nil {
		return nil, "", nil, err
	}
	if inst := t.known(h); inst != nil && inst.own {
		return inst.env, inst.dir, inst.cred, nil
	}
	if err := verify(pid, ticks); err != nil {
		return nil, "", nil, err
	}
	proc := "/proc/" + strconv.Itoa(pid)
	raw, err := os.ReadFile(proc + "/environ")
	if err != nil {
		return nil, "", nil, fmt.Errorf("read environment: %w", err)
	}
	env = []string{}
	for kv := range bytes.SplitSeq(raw, []byte{0}) {
		if len(kv) > 0 {
			env = append(env, string(kv))
		}
	}
	if dir, err = os.Readlink(proc + "/cwd"); err != nil {
		return nil, "", nil, fmt.Errorf("read working directory: %w", err)
	}
	fi, err := os.Stat(proc)
	if err != nil {
		return nil, "", nil, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid, Groups: []uint32{}}
		if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
			if _, _, groups, err := parseIDs(u); err == nil {
				cred.Groups = groups
			}
		}
	}
	// All of the above must have come from the instance, not from a successor of its PID.
	if err := verify(pid, ticks); err != nil {
		return nil, "", nil, err
	}
	return env, dir, cred, nil
}

// capped keeps the first execOutputLimit bytes written to it and discards the rest. os/exec
// calls Write from one goroutine at a time when Stdout and Stderr are the same writer.
type capped struct{ b bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := execOutputLimit - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
