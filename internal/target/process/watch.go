package process

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/target"
)

// drainDelay bounds how long a reaped child's Wait waits for the rest of its output. Output
// still in the pipes when the child exits is read within milliseconds; only a descendant
// that keeps the pipes open (a grandchild) holds them longer, and must not hold Wait.
const drainDelay = 2 * time.Second

// openPidfd opens a pidfd for pid in non-blocking mode, so that the runtime poller watches it:
// waiting for an exit parks a goroutine, not a thread.
func openPidfd(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	return os.NewFile(uintptr(fd), "pidfd "+strconv.Itoa(pid)), nil
}

// awaitExit blocks until the process of pidfd has exited (the pidfd turns readable), or
// pidfd is closed (an error).
func awaitExit(pidfd *os.File) error {
	rc, err := pidfd.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				perr = os.NewSyscallError("poll", err)
				return true
			}
			return n > 0 // false: park until the poller reports the pidfd readable
		}
	})
	if err != nil {
		return err
	}
	return perr
}

// pidfdSignal sends sig to the process of pidfd alone; a process that has exited, or a
// closed pidfd, is no error.
func pidfdSignal(pidfd *os.File, sig syscall.Signal) error {
	rc, err := pidfd.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	}); err != nil {
		return nil // closed: the watcher saw the exit
	}
	if serr != nil && !errors.Is(serr, unix.ESRCH) {
		return os.NewSyscallError("pidfd_send_signal", serr)
	}
	return nil
}

// reap owns an own child from Start on: it waits for the exit, reaps the child with
// cmd.Wait, publishes the exit, waits (a bounded time) for the output, notes in the log an
// exit that Stop did not cause, and releases Wait; then it waits for the drains without bound and closes the log.
func (t *Target) reap(inst *instance) {
	defer t.wg.Done()
	defer t.unwatch(inst)
	defer inst.closeLog(t)
	err := awaitExit(inst.pidfd)
	inst.pidfd.Close()
	if err != nil {
		// Close: leave the child unreaped; when this process ends, init inherits it.
		<-inst.drained
		return
	}
	e := target.Exit{Code: -1}
	if ws, err := wait4(inst.pid); err == nil {
		e = exitOf(ws)
	} else {
		t.log.Warn("process: reap failed; exit status unknown", "handle", inst.handle, "err", err)
	}
	e.At = time.Now()
	t.settle(inst)
	inst.exit = e
	close(inst.exited)

	timer := time.NewTimer(drainDelay)
	select {
	case <-inst.drained:
	case <-timer.C:
	}
	timer.Stop()
	if inst.log != nil && !inst.stopping.Load() {
		if err := inst.log.Note("%s", exitNote(e)); err != nil {
			t.log.Warn("process: log the exit", "handle", inst.handle, "err", err)
		}
	}
	close(inst.done)
	<-inst.drained
}

// closeLog closes the log of an own child once every drain returned.
func (inst *instance) closeLog(t *Target) {
	if inst.log == nil {
		return
	}
	if err := inst.log.Close(); err != nil {
		t.log.Warn("process: close log", "handle", inst.handle, "err", err)
	}
}

// watchAdopted waits for the exit of an adopted process. A process that is not our child
// tells nobody but its parent how it ended, so its exit is Code -1.
func (t *Target) watchAdopted(inst *instance) {
	defer t.wg.Done()
	defer t.unwatch(inst)
	if inst.drained != nil { // its output is drained again (reclaim): close the log after
		defer func() {
			<-inst.drained
			inst.closeLog(t)
		}()
	}
	err := awaitExit(inst.pidfd)
	inst.pidfd.Close()
	if err != nil {
		return // Close
	}
	t.settle(inst)
	inst.exit = target.Exit{Code: -1, At: time.Now()}
	close(inst.exited)
}

// settle looks at the process group right after its leader exited: when nothing of it runs,
// the group's number is never signalled again. Done at once, this leaves no time for the
// number to be reused in between (that takes a full cycle of PIDs).
func (t *Target) settle(inst *instance) {
	alive, err := groupAlive(inst.pid, true)
	if err != nil {
		t.log.Warn("process: probe the process group", "handle", inst.handle, "err", err)
		return
	}
	if !alive {
		inst.groupGone.Store(true)
	}
}

// drain copies one output stream of an own child into its log until the pipe closes: when
// every process holding its write end (the child, and any descendant that inherited it) has
// exited, or Close closes the read end.
func (t *Target) drain(inst *instance, stream string, r *os.File) {
	defer t.wg.Done()
	// Drain's buffer is made once there is something to read: a quiet service costs no
	// buffer (a thousand services, two streams each, would hold 16 MB).
	awaitReadable(r)
	if err := inst.log.Drain(stream, r); err != nil && !t.isClosed() {
		t.log.Warn("process: output lost", "handle", inst.handle, "stream", stream, "err", err)
		// Keep the pipe drained: a service must never block on its output.
		_, _ = io.Copy(io.Discard, r)
	}
	r.Close()
	if inst.drains.Add(-1) == 0 {
		close(inst.drained)
	}
}

// exitOf reads a wait status.
func exitOf(sys any) target.Exit {
	ws, ok := sys.(syscall.WaitStatus)
	switch {
	case !ok:
		return target.Exit{Code: -1}
	case ws.Signaled():
		return target.Exit{Code: -1, Signal: signalName(ws.Signal())}
	default:
		return target.Exit{Code: ws.ExitStatus()}
	}
}

// exitNote is the log note of an exit.
func exitNote(e target.Exit) string {
	if e.Signal != "" {
		return "killed by " + e.Signal
	}
	return fmt.Sprintf("exited with status %d", e.Code)
}

// awaitReadable parks (in the runtime poller, no thread) until r has data to read, has
// reached its end, or is closed.
func awaitReadable(r *os.File) {
	rc, err := r.SyscallConn()
	if err != nil {
		return
	}
	// The poller may already have consumed the edge of data that came before: look first,
	// without reading, and park only when there is nothing.
	_ = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err != unix.EINTR && (err != nil || n > 0)
	})
}
