package process

import (
	"errors"
	"fmt"
	"os"

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
// stdin, stdout and stderr (exec.Cmd.ExtraFiles).
const keepFirstFD = 3

// keepable opens, for the child, a second read end of the pipe r: its own open file
// description (through /proc), blocking as a child expects, so that handing it over does not
// change the non-blocking read end this process drains.
func keepable(r *os.File) (*os.File, uint64, error) {
	rc, err := r.SyscallConn()
	if err != nil {
		return nil, 0, err
	}
	var (
		fd   int
		oerr error
	)
	if err := rc.Control(func(p uintptr) {
		fd, oerr = unix.Open(fmt.Sprintf("/proc/self/fd/%d", p), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}); err != nil {
		return nil, 0, err
	}
	if oerr != nil {
		return nil, 0, fmt.Errorf("reopen output pipe: %w", oerr)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("reopen output pipe: %w", err)
	}
	return os.NewFile(uintptr(fd), "|keep"), st.Ino, nil
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
