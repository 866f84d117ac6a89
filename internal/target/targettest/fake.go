package targettest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/target"
)

// FakeTarget is the Handle.Target of the instances of a Fake.
const FakeTarget = "fake"

// Script is what the fake instances of one service do. The zero value starts, runs until it
// is stopped, honours the stop signal and then exits with status 0.
type Script struct {
	// StartErr makes Start fail with it (wrapped); nothing runs.
	StartErr error
	// Exits makes the instance end by itself, ExitAfter after Start, as Exit says.
	Exits     bool
	ExitAfter time.Duration
	Exit      target.Exit
	// IgnoreStop makes the instance ignore the stop signal: only the kill after the grace
	// ends it.
	IgnoreStop bool
	// StopExit is how the instance ends when it honours the stop signal; the zero value is
	// status 0.
	StopExit target.Exit
	// Output is what the instance prints on stdout when it starts, a line each.
	Output []string
	// PIDFile, when set, gives the instance a simulated grandchild that ignores the stop
	// signal and dies only when the instance is killed. Start writes the grandchild's
	// simulated PID to this file; Fake.Alive reports whether it still runs.
	PIDFile string
	// Exec answers Exec; nil answers status 0 with no output.
	Exec func(argv []string) (target.ExecResult, error)
}

// ScriptFor returns the Script that simulates b.
func ScriptFor(b Behaviour) Script {
	ready := []string{Ready}
	switch b.Kind {
	case ExitCode:
		return Script{Exits: true, Exit: target.Exit{Code: b.Code}}
	case KillSelf:
		return Script{Exits: true, Exit: target.Exit{Code: -1, Signal: "SIGKILL"}}
	case IgnoreTerm:
		return Script{IgnoreStop: true, Output: ready}
	case Grandchild:
		return Script{Output: ready, PIDFile: b.PIDFile}
	case WriteOutput:
		out := make([]string, b.MB<<10)
		for i := range out {
			out[i] = OutputLine(i)
		}
		return Script{Output: out, Exits: true}
	case PrintAndRun:
		return Script{Output: []string{b.Line, Ready}}
	}
	return Script{Output: ready}
}

// Call is a call a Fake received that changes something: Start, Stop, Remove, Signal, Exec.
type Call struct {
	Method  string
	Service string
	// Handle is the handle the call was made with, or the one Start returned; zero when
	// Start failed.
	Handle target.Handle
	// Signal is the signal of a Signal call.
	Signal string
}

// Fake is a scriptable target.Target for the unit tests of its users (the orchestrator, the
// node runtime). Its instances are simulated: nothing runs, time is the real (or the
// synctest) clock. Each service follows the Script set for it. A Fake passes the conformance
// suite, with Behaviours simulated by ScriptFor.
//
// Handles are "fake/local/PID:1"; a handle whose ID the Fake never returned is ErrNotFound.
// All Fakes made by Restarted from one NewFake share one simulated host.
type Fake struct {
	host *fakeHost
}

var (
	_ target.Target   = (*Fake)(nil)
	_ target.Execer   = (*Fake)(nil)
	_ target.Signaler = (*Fake)(nil)
)

// fakeHost is the simulated host that Fakes share.
type fakeHost struct {
	mu        sync.Mutex
	scripts   map[string]Script
	instances map[string]*fakeInstance // by handle ID
	alive     map[int]bool             // simulated grandchildren by PID
	lastPID   int
	calls     []Call
}

type fakeInstance struct {
	handle     target.Handle
	spec       target.Spec
	script     Script
	pid        int
	grandchild int // PID of the simulated grandchild, 0 when none
	startedAt  time.Time
	lines      []fakeLine
	exit       *target.Exit
	done       chan struct{} // closed once exit is set
	timer      *time.Timer
}

type fakeLine struct {
	at           time.Time
	stream, text string
}

// NewFake returns a Fake with no instances, whose services all follow the zero Script until
// SetScript says otherwise.
func NewFake() *Fake {
	return &Fake{host: &fakeHost{
		scripts:   make(map[string]Script),
		instances: make(map[string]*fakeInstance),
		alive:     make(map[int]bool),
		lastPID:   1000,
	}}
}

// Restarted returns a new Fake on the same simulated host, as the Target of a restarted daemon
// sees the instances of its predecessor.
func (f *Fake) Restarted() *Fake { return &Fake{host: f.host} }

// SetScript makes the instances of service started from now on follow s.
func (f *Fake) SetScript(service string, s Script) {
	f.host.mu.Lock()
	defer f.host.mu.Unlock()
	f.host.scripts[service] = s
}

// Calls returns the calls received so far, oldest first.
func (f *Fake) Calls() []Call {
	f.host.mu.Lock()
	defer f.host.mu.Unlock()
	return append([]Call(nil), f.host.calls...)
}

// Alive reports whether the simulated grandchild pid still runs.
func (f *Fake) Alive(pid int) bool {
	f.host.mu.Lock()
	defer f.host.mu.Unlock()
	return f.host.alive[pid]
}

// Exit ends the running instance h now, as e says, as if it had exited by itself.
func (f *Fake) Exit(h target.Handle, e target.Exit) error {
	f.host.mu.Lock()
	defer f.host.mu.Unlock()
	inst, err := f.host.lookup(h)
	if err != nil {
		return fmt.Errorf("exit %s: %w", h, err)
	}
	f.host.end(inst, e)
	return nil
}

// Start implements target.Target.
func (f *Fake) Start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	if err := ctx.Err(); err != nil {
		return target.Handle{}, fmt.Errorf("start %s: %w", spec.Service, err)
	}
	host := f.host
	host.mu.Lock()
	defer host.mu.Unlock()
	call := Call{Method: "Start", Service: spec.Service}
	defer func() { host.calls = append(host.calls, call) }()
	if len(spec.Argv) == 0 {
		return target.Handle{}, fmt.Errorf("start %s: no argv: %w", spec.Service, target.ErrInvalidSpec)
	}
	s := host.scripts[spec.Service]
	if s.StartErr != nil {
		return target.Handle{}, fmt.Errorf("start %s: %w", spec.Service, s.StartErr)
	}
	host.lastPID++
	inst := &fakeInstance{
		spec:      spec,
		script:    s,
		pid:       host.lastPID,
		startedAt: time.Now(),
		done:      make(chan struct{}),
	}
	inst.handle = target.Handle{Target: FakeTarget, Node: "local", ID: strconv.Itoa(inst.pid) + ":1"}
	for _, text := range s.Output {
		inst.lines = append(inst.lines, fakeLine{at: time.Now(), stream: "stdout", text: text})
	}
	if s.PIDFile != "" {
		host.lastPID++
		inst.grandchild = host.lastPID
		if err := writeFileAtomic(s.PIDFile, strconv.Itoa(inst.grandchild)); err != nil {
			return target.Handle{}, fmt.Errorf("start %s: grandchild: %w", spec.Service, err)
		}
		host.alive[inst.grandchild] = true
	}
	if s.Exits {
		inst.timer = time.AfterFunc(s.ExitAfter, func() {
			host.mu.Lock()
			defer host.mu.Unlock()
			host.end(inst, s.Exit)
		})
	}
	host.instances[inst.handle.ID] = inst
	call.Handle = inst.handle
	return inst.handle, nil
}

func writeFileAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lookup returns the instance of h; the caller holds mu.
func (host *fakeHost) lookup(h target.Handle) (*fakeInstance, error) {
	inst, ok := host.instances[h.ID]
	if !ok || inst.handle != h {
		return nil, target.ErrNotFound
	}
	return inst, nil
}

// end makes inst exit as e says, unless it has exited; its grandchild lives on. The caller
// holds mu.
func (host *fakeHost) end(inst *fakeInstance, e target.Exit) {
	if inst.exit != nil {
		return
	}
	if inst.timer != nil {
		inst.timer.Stop()
	}
	e.At = time.Now()
	inst.exit = &e
	close(inst.done)
}

// kill ends inst and its grandchild with SIGKILL. The caller holds mu.
func (host *fakeHost) kill(inst *fakeInstance) {
	host.end(inst, target.Exit{Code: -1, Signal: "SIGKILL"})
	if inst.grandchild != 0 {
		host.alive[inst.grandchild] = false
	}
}

// running reports whether anything of inst runs. The caller holds mu.
func (host *fakeHost) running(inst *fakeInstance) bool {
	return inst.exit == nil || host.alive[inst.grandchild]
}

// Stop implements target.Target.
func (f *Fake) Stop(ctx context.Context, h target.Handle, grace time.Duration) error {
	host := f.host
	host.mu.Lock()
	host.calls = append(host.calls, Call{Method: "Stop", Service: host.service(h), Handle: h})
	inst, err := host.lookup(h)
	if err != nil {
		host.mu.Unlock()
		return fmt.Errorf("stop %s: %w", h, err)
	}
	if !inst.script.IgnoreStop {
		host.end(inst, inst.script.StopExit)
	}
	remains := host.running(inst)
	var exited <-chan struct{}
	if !host.alive[inst.grandchild] {
		// The instance may still exit by itself during the grace.
		exited = inst.done
	}
	host.mu.Unlock()
	if !remains {
		return nil
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-exited:
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", h, ctx.Err())
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	host.kill(inst)
	return nil
}

// service names the service of h for Calls; the caller holds mu.
func (host *fakeHost) service(h target.Handle) string {
	if inst, ok := host.instances[h.ID]; ok {
		return inst.spec.Service
	}
	return ""
}

// Wait implements target.Target.
func (f *Fake) Wait(ctx context.Context, h target.Handle) (target.Exit, error) {
	f.host.mu.Lock()
	inst, err := f.host.lookup(h)
	f.host.mu.Unlock()
	if err != nil {
		return target.Exit{}, fmt.Errorf("wait %s: %w", h, err)
	}
	select {
	case <-inst.done:
	case <-ctx.Done():
		return target.Exit{}, fmt.Errorf("wait %s: %w", h, ctx.Err())
	}
	f.host.mu.Lock()
	defer f.host.mu.Unlock()
	return *inst.exit, nil
}

// Inspect implements target.Target.
func (f *Fake) Inspect(_ context.Context, h target.Handle) (target.Status, error) {
	f.host.mu.Lock()
	defer f.host.mu.Unlock()
	inst, err := f.host.lookup(h)
	if err != nil {
		return target.Status{}, fmt.Errorf("inspect %s: %w", h, err)
	}
	st := target.Status{Running: inst.exit == nil, PID: inst.pid, StartedAt: inst.startedAt}
	if inst.exit != nil {
		e := *inst.exit
		st.Exit = &e
	}
	return st, nil
}

// Remove implements target.Target: it forgets an exited instance; a handle it does not know
// is already removed.
func (f *Fake) Remove(_ context.Context, h target.Handle) error {
	host := f.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.calls = append(host.calls, Call{Method: "Remove", Service: host.service(h), Handle: h})
	inst, err := host.lookup(h)
	if err != nil {
		return nil
	}
	if inst.exit == nil {
		return fmt.Errorf("remove %s: instance is running: stop it first", h)
	}
	delete(host.instances, h.ID)
	return nil
}

// logTimeLayout is the time stamp of a line of Logs, as internal/logfile stores it.
const logTimeLayout = "2006-01-02T15:04:05.000000000Z"

// Logs implements target.Target: lines "TIME STREAM TEXT", as the process target renders
// them. The simulated output is all written at Start, so following ends only with ctx or
// Close.
func (f *Fake) Logs(ctx context.Context, h target.Handle, opts target.LogOptions) (io.ReadCloser, error) {
	f.host.mu.Lock()
	inst, err := f.host.lookup(h)
	var lines []fakeLine
	if err == nil {
		lines = inst.lines
	}
	f.host.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", h, err)
	}
	if !opts.Since.IsZero() {
		i := 0
		for i < len(lines) && lines[i].at.Before(opts.Since) {
			i++
		}
		lines = lines[i:]
	}
	if opts.Tail > 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l.at.UTC().Format(logTimeLayout))
		b.WriteByte(' ')
		b.WriteString(l.stream)
		b.WriteByte(' ')
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	r := &followReader{r: bytes.NewReader(b.Bytes()), closed: make(chan struct{})}
	if opts.Follow {
		r.ctx = ctx
	}
	return r, nil
}

// followReader reads a buffer and then, when it follows (ctx is set), blocks until ctx ends
// or it is closed. It needs no goroutine.
type followReader struct {
	r         *bytes.Reader
	ctx       context.Context
	closed    chan struct{}
	closeOnce sync.Once
}

func (r *followReader) Read(p []byte) (int, error) {
	if r.r.Len() > 0 {
		return r.r.Read(p)
	}
	if r.ctx != nil {
		select {
		case <-r.ctx.Done():
		case <-r.closed:
		}
	}
	return 0, io.EOF
}

func (r *followReader) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}

// Signal implements target.Signaler. The stop signal ends the instance as a Stop would
// (unless the script ignores it), SIGKILL kills it, other signals change nothing.
func (f *Fake) Signal(_ context.Context, h target.Handle, signal string) error {
	host := f.host
	host.mu.Lock()
	defer host.mu.Unlock()
	name := strings.ToUpper(signal)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	host.calls = append(host.calls, Call{Method: "Signal", Service: host.service(h), Handle: h, Signal: name})
	if unix.SignalNum(name) == 0 {
		return fmt.Errorf("signal %s: unknown signal %q", h, signal)
	}
	inst, err := host.lookup(h)
	if err != nil {
		return fmt.Errorf("signal %s: %w", h, err)
	}
	if !host.running(inst) {
		return fmt.Errorf("signal %s: instance has exited: %w", h, target.ErrNotFound)
	}
	stop := inst.spec.StopSignal
	if stop == "" {
		stop = "SIGTERM"
	}
	switch {
	case name == "SIGKILL":
		host.kill(inst)
	case name == stop && !inst.script.IgnoreStop:
		host.end(inst, inst.script.StopExit)
	}
	return nil
}

// Exec implements target.Execer with the script's Exec.
func (f *Fake) Exec(_ context.Context, h target.Handle, argv []string) (target.ExecResult, error) {
	host := f.host
	host.mu.Lock()
	host.calls = append(host.calls, Call{Method: "Exec", Service: host.service(h), Handle: h})
	inst, err := host.lookup(h)
	host.mu.Unlock()
	if err != nil {
		return target.ExecResult{}, fmt.Errorf("exec %s: %w", h, err)
	}
	if len(argv) == 0 {
		return target.ExecResult{}, fmt.Errorf("exec %s: no command", h)
	}
	if inst.script.Exec == nil {
		return target.ExecResult{}, nil
	}
	res, err := inst.script.Exec(argv)
	if err != nil {
		return res, fmt.Errorf("exec %s: %w", h, err)
	}
	return res, nil
}
