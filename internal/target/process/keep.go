package process

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/internal/logfile"
)

// A service's output pipes must outlive the supervisor that drains them: a pipe whose last
// reader is gone breaks its writer (EPIPE, SIGPIPE), so a daemon that stops or dies would take
// every service that prints something down with it. So the service itself holds a read end of
// each of its output pipes, at descriptors 3 (stdout) and 4 (stderr), and never reads them.
// While no supervisor drains, a pipe fills (64 KiB) and then the service waits; a successor
// takes the read ends back from the service with pidfd_getfd(2) and drains again. The journal
// records, per instance, each kept descriptor and the inode of its pipe, so that a descriptor
// the service closed and reused is never taken for its pipe.

// keptFD is a read end the service holds: its descriptor in the service, the stream, and the
// pipe's inode.
type keptFD struct {
	FD     int    `json:"fd"`
	Stream string `json:"stream"`
	Ino    uint64 `json:"ino"`
}

// keepFirstFD is the descriptor of the first kept read end in a service: the first after
// stdin, stdout and stderr.
const keepFirstFD = 3

// keptEnd is a read end that the child keeps: its descriptor here, and its pipe's inode.
type keptEnd struct {
	fd  int
	ino uint64
}

// outputPipe makes the pipe of one output stream: the read end, non-blocking in the runtime
// poller, for this process to drain (and, the same descriptor, for the child to keep: it
// never reads it, so its mode does not matter), and the write end, blocking as a program
// expects its output to be, for the child only. Both are close-on-exec here.
func outputPipe(stream string) (r *os.File, w int, keep keptEnd, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, 0, keptEnd{}, fmt.Errorf("output pipe: %w", err)
	}
	var st unix.Stat_t
	err = unix.Fstat(p[0], &st)
	if err == nil {
		err = unix.SetNonblock(p[0], true)
	}
	if err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, 0, keptEnd{}, fmt.Errorf("output pipe: %w", err)
	}
	return os.NewFile(uintptr(p[0]), stream), p[1], keptEnd{fd: p[0], ino: st.Ino}, nil
}

// wait4 reaps the child pid, which has exited, and returns how it ended.
func wait4(pid int) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			return ws, err
		}
	}
}

// reclaim takes the kept read ends of an adopted instance back from its process, and opens
// its log, for drains to start (see drainAll). A read end the process closed, or whose
// descriptor now holds something else, is left alone: that stream has no reader until the
// process ends.
func (t *Target) reclaim(inst *instance, kept []keptFD) {
	if len(kept) == 0 || inst.logPath == "" {
		return
	}
	rc, err := inst.pidfd.SyscallConn()
	if err != nil {
		return
	}
	var pipes []*os.File
	for _, k := range kept {
		var fd int
		var gerr error
		if err := rc.Control(func(p uintptr) { fd, gerr = unix.PidfdGetfd(int(p), k.FD, 0) }); err != nil || gerr != nil {
			if !errors.Is(gerr, unix.EBADF) {
				t.log.Warn("process: take back an output pipe", "handle", inst.handle, "fd", k.FD, "err", errors.Join(err, gerr))
			}
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Ino != k.Ino || unix.SetNonblock(fd, true) != nil {
			unix.Close(fd)
			continue
		}
		pipes = append(pipes, os.NewFile(uintptr(fd), k.Stream))
	}
	if len(pipes) == 0 {
		return
	}
	log, err := logfile.Open(inst.logPath, t.opts.LogOptions)
	if err != nil {
		t.log.Warn("process: open the log of an adopted instance", "handle", inst.handle, "err", err)
		for _, p := range pipes {
			p.Close()
		}
		return
	}
	inst.log, inst.pipes = log, pipes
}

// drainAll starts a drain per pipe of inst, and closes its log once they all returned. The
// caller holds t.mu, and has counted nothing in t.wg for them.
func (t *Target) drainAll(inst *instance) {
	inst.drains.Store(int32(len(inst.pipes)))
	t.wg.Add(len(inst.pipes))
	for _, p := range inst.pipes {
		go t.drain(inst, p.Name(), p)
	}
}
