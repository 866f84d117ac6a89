package process

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/target"
)

// drainDelay bounds how long a reaped child's Wait waits for the rest of its output. Output
// still in the pipes when the child exits is read within milliseconds; only a descendant
// that keeps the pipes open (a grandchild) holds them longer, and must not hold Wait.
const drainDelay = 2 * time.Second

// openPidfd opens a pidfd for pid, close-on-exec as pidfd_open makes every pidfd, for the
// Target's poller to watch.
func openPidfd(pid int) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	return fd, nil
}

// pidfdSignal sends sig to the leader of inst alone; a leader whose exit was seen (its pidfd
// is closed) is no error, nor one that has just exited.
func (inst *instance) pidfdSignal(sig syscall.Signal) error {
	inst.fdMu.Lock()
	defer inst.fdMu.Unlock()
	if inst.pidfd < 0 {
		return nil
	}
	if err := unix.PidfdSendSignal(inst.pidfd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return os.NewSyscallError("pidfd_send_signal", err)
	}
	return nil
}

// closePidfd stops watching the leader of inst and closes its pidfd, once.
func (inst *instance) closePidfd(p *poller) {
	inst.fdMu.Lock()
	defer inst.fdMu.Unlock()
	if inst.pidfd < 0 {
		return
	}
	p.forget(inst.pidfd, inst.pidTok)
	unix.Close(inst.pidfd)
	inst.pidfd = -1
}

// claim takes the end of inst's watch: the reaper when the leader exits, or Close. Only the
// first one to claim it goes on.
func (inst *instance) claim() bool { return inst.claimed.CompareAndSwap(false, true) }

// reap runs once the pidfd of an own child turned readable: the child has exited. It reaps
// the child with wait4, publishes the exit, waits (a bounded time) for the output, notes in
// the log an exit that Stop did not cause, and releases Wait; then it waits for the output
// without bound (a grandchild may hold the pipes) and closes the log.
func (t *Target) reap(inst *instance) {
	if !inst.claim() {
		return // Close came first: the child is left unreaped, for init when this process ends
	}
	defer t.unwatch(inst)
	defer inst.closeLog(t)
	inst.closePidfd(t.poll)
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

// adoptedExit runs once the pidfd of an adopted process turned readable: it has exited. A
// process that is not our child tells nobody but its parent how it ended, so its exit is
// Code -1. Its output, when it was taken back (reclaim), is drained to the end before the
// log is closed.
func (t *Target) adoptedExit(inst *instance) {
	if !inst.claim() {
		return
	}
	defer t.unwatch(inst)
	inst.closePidfd(t.poll)
	t.settle(inst)
	inst.exit = target.Exit{Code: -1, At: time.Now()}
	close(inst.exited)
	if inst.drained != nil {
		<-inst.drained
		inst.closeLog(t)
	}
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

// stream is an output pipe of an instance that the Target drains: its read end,
// non-blocking and watched by the poller, and what was read of it so far.
type stream struct {
	name   string
	mu     sync.Mutex // held while it is drained, and when it ends
	fd     int        // -1 once it ended
	tok    uint64
	d      *logfile.Drainer
	warned bool
}

// drainReady drains a stream whose pipe turned readable, until the pipe is empty (then it is
// watched again) or closed: when every process holding its write end (the child, and any
// descendant that inherited it) has exited.
func (t *Target) drainReady(inst *instance, st *stream) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.fd < 0 {
		return // ended by Close
	}
	rerr, serr := st.d.Drain(fdReader(st.fd))
	if serr != nil && !st.warned && !t.isClosed() {
		st.warned = true // it goes on reading, and dropping: a service must never block on its output
		t.log.Warn("process: output lost", "handle", inst.handle, "stream", st.name, "err", serr)
	}
	if errors.Is(rerr, unix.EAGAIN) {
		rerr = t.poll.rearm(st.fd, st.tok)
		if rerr == nil {
			return
		}
	}
	if rerr != nil {
		t.log.Warn("process: read output", "handle", inst.handle, "stream", st.name, "err", rerr)
	}
	t.endStream(inst, st)
}

// endStream stops draining st, which has ended or is abandoned (Close); once every stream
// of inst ended, inst.drained is closed. The caller holds st.mu.
func (t *Target) endStream(inst *instance, st *stream) {
	if st.fd < 0 {
		return
	}
	if st.tok != 0 {
		t.poll.forget(st.fd, st.tok)
	}
	unix.Close(st.fd)
	st.fd = -1
	if inst.drains.Add(-1) == 0 {
		close(inst.drained)
	}
}

// endStreams ends every stream of inst.
func (t *Target) endStreams(inst *instance) {
	for _, st := range inst.streams {
		st.mu.Lock()
		t.endStream(inst, st)
		st.mu.Unlock()
	}
}

// watch has the poller watch the output pipes and the exit of inst; when it fails, nothing
// of inst is watched, and its pipes are closed. The caller holds t.mu.
func (t *Target) watch(inst *instance) error {
	if t.poll == nil {
		p, err := newPoller()
		if err != nil {
			return err
		}
		t.poll = p
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if err := p.run(t.handle); err != nil {
				t.log.Error("process: exits and output are no longer watched", "err", err)
			}
		}()
	}
	inst.drains.Store(int32(len(inst.streams)))
	// Each token is stored under the lock its function takes first: the function may run
	// before watch returns.
	for _, st := range inst.streams {
		st.mu.Lock()
		tok, err := t.poll.watch(st.fd, func() { t.drainReady(inst, st) })
		st.tok = tok
		st.mu.Unlock()
		if err != nil {
			t.endStreams(inst)
			return err
		}
	}
	exit := t.adoptedExit
	if inst.own {
		exit = t.reap
	}
	inst.fdMu.Lock()
	tok, err := t.poll.watch(inst.pidfd, func() { exit(inst) })
	inst.pidTok = tok
	inst.fdMu.Unlock()
	if err != nil {
		t.endStreams(inst)
		return err
	}
	return nil
}

// handle runs fn, a function of the poller, on a goroutine of the Target.
func (t *Target) handle(fn func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn()
	}()
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
