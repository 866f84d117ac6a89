package process

import (
	"errors"
	"fmt"
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

// outputPipe makes the pipe of one output stream: the read end, non-blocking, for this
// process to drain (and, the same descriptor, for the child to keep: it never reads it, so
// its mode does not matter), and the write end, blocking as a program expects its output to
// be, for the child only. Both are close-on-exec here.
func outputPipe() (r, w int, keep keptEnd, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return -1, -1, keptEnd{}, fmt.Errorf("output pipe: %w", err)
	}
	var st unix.Stat_t
	err = unix.Fstat(p[0], &st)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(p[1]), unix.F_SETFL, 0) // the write end blocks
	}
	if err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return -1, -1, keptEnd{}, fmt.Errorf("output pipe: %w", err)
	}
	return p[0], p[1], keptEnd{fd: p[0], ino: st.Ino}, nil
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
// its log, for the poller to drain them (see watch). A read end the process closed, or whose
// descriptor now holds something else, is left alone: that stream has no reader until the
// process ends.
func (t *Target) reclaim(inst *instance, kept []keptFD) {
	if len(kept) == 0 || inst.logPath == "" {
		return
	}
	var streams []*stream
	for _, k := range kept {
		fd, err := unix.PidfdGetfd(inst.pidfd, k.FD, 0)
		if err != nil {
			if !errors.Is(err, unix.EBADF) {
				t.log.Warn("process: take back an output pipe", "handle", inst.handle, "fd", k.FD, "err", err)
			}
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Ino != k.Ino || unix.SetNonblock(fd, true) != nil {
			unix.Close(fd)
			continue
		}
		streams = append(streams, &stream{name: k.Stream, fd: fd})
	}
	if len(streams) == 0 {
		return
	}
	inst.streams = streams
	log, err := logfile.Open(inst.logPath, t.opts.LogOptions)
	for i := 0; err == nil && i < len(streams); i++ {
		streams[i].d, err = log.Drainer(streams[i].name)
	}
	if err != nil {
		t.log.Warn("process: drain the output of an adopted instance", "handle", inst.handle, "err", err)
		inst.closeStreams()
		inst.streams = nil
		if log != nil {
			log.Close()
		}
		return
	}
	inst.log = log
}

// closeStreams closes the read ends of inst's streams, which were never watched.
func (inst *instance) closeStreams() {
	for _, st := range inst.streams {
		if st.fd >= 0 {
			unix.Close(st.fd)
			st.fd = -1
		}
	}
}
