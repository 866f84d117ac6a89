package process

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/target"
)

// TargetName is the Handle.Target of the instances of this target.
const TargetName = "process"

// Options configures a Target. The zero value is usable.
type Options struct {
	// Node names this host in handles; default "local".
	Node string
	// LogOptions sets the rotation of every instance's log.
	LogOptions logfile.Options
	// Logger receives what no caller can be returned: failures of the goroutines that
	// drain output and reap children. Default: discard.
	Logger *slog.Logger
	// StateDir holds the journals in which Targets record, per instance they start, its
	// stop signal and log path, so that a Target that adopts the instance later stops it
	// with the right signal and finds its logs. A daemon sets it to a directory of its data
	// dir. Empty: nothing is recorded; an adopted instance is then stopped with SIGTERM and
	// has no Logs.
	StateDir string
}

// Target runs service instances as processes of this host. Create it with New; every method
// is safe for concurrent use. Close releases it and leaves the instances running.
type Target struct {
	opts     Options
	log      *slog.Logger
	bootTime func() (time.Time, error)
	journal  *journal      // nil without StateDir
	quit     chan struct{} // closed by Close

	mu        sync.Mutex
	instances map[string]*instance   // by handle ID: started here, or adopted by Wait, Stop, Signal
	watched   map[*instance]struct{} // instances whose exit is not handled yet, for Close
	poll      *poller                // made at the first watch, see watch
	closed    bool
	wg        sync.WaitGroup // every goroutine of the Target
}

var (
	_ target.Target   = (*Target)(nil)
	_ target.Execer   = (*Target)(nil)
	_ target.Signaler = (*Target)(nil)
)

// New returns a Target with opts.
func New(opts Options) *Target {
	if opts.Node == "" {
		opts.Node = "local"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Target{
		opts:      opts,
		log:       log,
		bootTime:  sync.OnceValues(readBootTime),
		quit:      make(chan struct{}),
		instances: make(map[string]*instance),
		watched:   make(map[*instance]struct{}),
	}
	if opts.StateDir != "" {
		t.journal = newJournal(opts.StateDir, log)
	}
	return t
}

// instance is what a Target knows of one instance: one it started (own), or one it adopted
// from a Handle.
type instance struct {
	handle     target.Handle
	pid        int
	startTicks uint64 // start time in clock ticks after boot: with pid, the identity
	startedAt  time.Time
	own        bool
	stopSignal syscall.Signal
	logPath    string

	// Of an own child only.
	path    string   // the program
	argv    []string // its arguments, argv[0] first
	env     []string
	dir     string
	cred    *syscall.Credential
	log     *logfile.Writer // nil when the output is discarded
	streams []*stream       // stdout and stderr
	drains  atomic.Int32    // streams not ended yet
	drained chan struct{}   // closed when the last stream ended
	// stopping is set by Stop: the exit it causes is not noted in the log.
	stopping atomic.Bool

	// pidfd is watched by the poller (token pidTok) for the exit of the leader; whoever
	// claims the end (claimed) closes it: the reaper, or Close. -1 once closed.
	fdMu    sync.Mutex
	pidfd   int
	pidTok  uint64
	claimed atomic.Bool

	// exited is closed once the leader has exited and exit is set.
	exited chan struct{}
	exit   target.Exit
	// done is closed once Wait reports: for an own child after its output is drained
	// too (or drainDelay passed); for an adopted process it is exited.
	done chan struct{}
	// groupGone is set once the process group is seen empty after the leader's exit.
	// From then on its number is never signalled again: it may belong to a new group.
	groupGone atomic.Bool
}

// exitStatus returns how the leader exited, once it has.
func (inst *instance) exitStatus() (target.Exit, bool) {
	select {
	case <-inst.exited:
		return inst.exit, true
	default:
		return target.Exit{}, false
	}
}

var (
	// errGone: the process of the handle has exited, and this Target did not see it.
	errGone = fmt.Errorf("process has exited: %w", target.ErrNotFound)
	// errReused: the PID of the handle belongs to another process now.
	errReused = fmt.Errorf("its PID belongs to another process now: %w", target.ErrNotFound)
	// errClosed: the Target was closed.
	errClosed = errors.New("process target closed")
)

// formatID renders a handle ID, "PID:STARTTIME".
func formatID(pid int, ticks uint64) string {
	return strconv.Itoa(pid) + ":" + strconv.FormatUint(ticks, 10)
}

// parseHandle checks that h is a handle of this target and node and returns its identity.
func (t *Target) parseHandle(h target.Handle) (pid int, ticks uint64, err error) {
	if h.Target != TargetName {
		return 0, 0, fmt.Errorf("handle of target %q: %w", h.Target, target.ErrNotFound)
	}
	if h.Node != t.opts.Node {
		return 0, 0, fmt.Errorf("handle of node %q, this is %q: %w", h.Node, t.opts.Node, target.ErrNotFound)
	}
	p, s, ok := strings.Cut(h.ID, ":")
	pid, perr := strconv.Atoi(p)
	ticks, serr := strconv.ParseUint(s, 10, 64)
	if !ok || perr != nil || serr != nil || pid <= 0 {
		return 0, 0, fmt.Errorf("malformed handle id %q: %w", h.ID, target.ErrNotFound)
	}
	return pid, ticks, nil
}

// verify checks that process pid runs and started at ticks: errGone when it has exited (a
// zombie has), errReused when the PID names another process.
func verify(pid int, ticks uint64) error {
	st, err := readStat(pid)
	switch {
	case errors.Is(err, errNoProcess):
		return errGone
	case err != nil:
		return err
	case st.StartTime != ticks:
		return errReused
	case st.zombie():
		return errGone
	}
	return nil
}

// known returns the instance of h if this Target knows it.
func (t *Target) known(h target.Handle) *instance {
	t.mu.Lock()
	defer t.mu.Unlock()
	if inst := t.instances[h.ID]; inst != nil && inst.handle == h {
		return inst
	}
	return nil
}

// instance returns the instance of h: a known one, or one adopted now, with a watcher for
// its exit. Errors wrap target.ErrNotFound (errGone, errReused) when h names no running
// process of ours.
func (t *Target) instance(h target.Handle) (*instance, error) {
	pid, ticks, err := t.parseHandle(h)
	if err != nil {
		return nil, err
	}
	if inst := t.known(h); inst != nil {
		return inst, nil
	}
	inst, err := t.adopt(h, pid, ticks)
	if err != nil {
		// A concurrent call may have adopted the instance since known, and seen it end.
		if known := t.known(h); known != nil {
			return known, nil
		}
	}
	return inst, err
}

// adopt starts watching the process of h, which this Target did not start.
func (t *Target) adopt(h target.Handle, pid int, ticks uint64) (*instance, error) {
	if err := verify(pid, ticks); err != nil {
		return nil, err
	}
	pidfd, err := openPidfd(pid)
	if errors.Is(err, syscall.ESRCH) {
		return nil, errGone
	}
	if err != nil {
		return nil, err
	}
	// The pidfd refers to whichever process had the PID when it was opened: make sure
	// that it is still the instance.
	if err := verify(pid, ticks); err != nil {
		unix.Close(pidfd)
		return nil, err
	}
	boot, err := t.bootTime()
	if err != nil {
		unix.Close(pidfd)
		return nil, fmt.Errorf("read boot time: %w", err)
	}
	inst := &instance{
		handle:     h,
		pid:        pid,
		startTicks: ticks,
		startedAt:  startedAt(boot, ticks),
		stopSignal: syscall.SIGTERM,
		pidfd:      pidfd,
		exited:     make(chan struct{}),
	}
	inst.done = inst.exited
	if r, ok := t.record(h.ID); ok {
		inst.logPath = r.LogPath
		if sig, err := parseSignal(r.StopSignal); err == nil {
			inst.stopSignal = sig
		}
		t.reclaim(inst, r.Kept)
	}
	if len(inst.streams) > 0 {
		inst.drained = make(chan struct{})
	}
	abandon := func() {
		unix.Close(pidfd)
		inst.closeStreams()
		inst.closeLog(t)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if known := t.instances[h.ID]; known != nil {
		abandon()
		return known, nil
	}
	if t.closed {
		abandon()
		return nil, errClosed
	}
	if err := t.watch(inst); err != nil {
		abandon()
		return nil, err
	}
	t.instances[h.ID] = inst
	t.watched[inst] = struct{}{}
	return inst, nil
}

// unwatch records that the goroutines of inst have ended.
func (t *Target) unwatch(inst *instance) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.watched, inst)
}

// Close stops watching: it ends every goroutine of the Target and waits for them. The
// instances keep running, for another Target to adopt. Their output pipes keep a reader (the
// service itself holds one, see keep.go): a service that writes fills its pipe and then
// waits, until a Target that adopts it drains the pipe again. An own child that exits
// afterwards is not reaped by this Target. After Close, Start fails, and Wait and Stop of
// an instance whose end was not seen yet fail at once.
func (t *Target) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.quit)
	if t.poll != nil {
		t.poll.stop()
	}
	for inst := range t.watched {
		t.endStreams(inst) // a reaper that runs waits for them
		if inst.claim() {  // no reaper runs, and none will
			inst.closePidfd(t.poll)
			inst.closeLog(t)
			delete(t.watched, inst)
		}
	}
	t.mu.Unlock()
	t.wg.Wait()
	if t.poll != nil {
		t.poll.close()
	}
	if t.journal != nil {
		return t.journal.close()
	}
	return nil
}

// record returns the journal record of the instance id, if any.
func (t *Target) record(id string) (record, bool) {
	if t.journal == nil {
		return record{}, false
	}
	return t.journal.lookup(id)
}

// isClosed reports whether Close was called.
func (t *Target) isClosed() bool {
	select {
	case <-t.quit:
		return true
	default:
		return false
	}
}
