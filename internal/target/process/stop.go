package process

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/target"
)

// maxPause is the longest pause between two looks at a process group that is emptying.
const maxPause = 50 * time.Millisecond

// Stop implements target.Target with the stop sequence drawn in the package doc: the stop
// signal to the whole process group, up to grace for the group to empty, then SIGKILL to the
// group; it returns once no process of the group runs. Stopping an instance that has
// exited succeeds, and so does stopping a handle whose process has exited unseen (nothing of
// it can be found any more); a handle whose PID was reused is ErrNotFound and nothing is
// signalled.
func (t *Target) Stop(ctx context.Context, h target.Handle, grace time.Duration) error {
	inst, err := t.instance(h)
	if errors.Is(err, errGone) {
		return nil
	}
	if err == nil {
		err = t.stop(ctx, inst, grace)
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", h, err)
	}
	return nil
}

func (t *Target) stop(ctx context.Context, inst *instance, grace time.Duration) error {
	inst.stopping.Store(true)
	if err := t.signal(inst, inst.stopSignal); err != nil {
		return err
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	empty, err := t.awaitEmpty(ctx, inst, deadline.C)
	if err != nil {
		return err
	}
	if !empty {
		if err := t.signal(inst, unix.SIGKILL); err != nil {
			return err
		}
		if _, err := t.awaitEmpty(ctx, inst, nil); err != nil {
			return err
		}
	}
	// An own child's Wait is released once its output is in the log: so is Stop.
	select {
	case <-inst.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.quit:
		return errClosed
	}
}

// awaitEmpty waits until no process of the group of inst runs (true), or deadline fires
// (false; nil never fires). The leader's exit comes from its watcher; the rest of the group
// is polled, with pauses growing from 1 ms to maxPause: no pidfd covers a group.
func (t *Target) awaitEmpty(ctx context.Context, inst *instance, deadline <-chan time.Time) (bool, error) {
	select {
	case <-inst.exited:
	case <-deadline:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.quit:
		return false, errClosed
	}
	for pause := time.Millisecond; ; pause = min(2*pause, maxPause) {
		if !t.groupRuns(inst) {
			return true, nil
		}
		timer := time.NewTimer(pause)
		select {
		case <-timer.C:
		case <-deadline:
			timer.Stop()
			return false, nil
		case <-ctx.Done():
			timer.Stop()
			return false, ctx.Err()
		}
	}
}

// groupRuns reports whether a process of the group of inst runs, its leader having exited.
func (t *Target) groupRuns(inst *instance) bool {
	if inst.groupGone.Load() {
		return false
	}
	alive, err := groupAlive(inst.pid, true)
	if err != nil {
		t.log.Warn("process: probe the process group", "handle", inst.handle, "err", err)
		return true
	}
	if !alive {
		inst.groupGone.Store(true)
	}
	return alive
}

// signal sends sig to the process group of inst. It never signals a number that may name
// another group: nothing once the group was seen empty after the leader's exit, and for an
// adopted leader not seen exiting, only after its start time matched.
//
// While the leader runs, its group's number is its PID, which the start time pins; once it
// exited, the group's remaining members keep the number from being reused, and settle
// marked the group gone right at the leader's exit if there were none.
func (t *Target) signal(inst *instance, sig syscall.Signal) error {
	// exited first: settle runs before the exit is published, so groupGone is then final.
	_, exited := inst.exitStatus()
	if inst.groupGone.Load() {
		return nil
	}
	if !exited && !inst.own {
		if err := verify(inst.pid, inst.startTicks); errors.Is(err, errGone) || errors.Is(err, errReused) {
			// It has just exited; its watcher will see it and settle the group.
			return nil
		} else if err != nil {
			return err
		}
	}
	err := unix.Kill(-inst.pid, sig)
	switch {
	case errors.Is(err, unix.ESRCH):
		if !exited {
			// The leader left its group (setsid): it still gets the signal.
			return inst.pidfdSignal(sig)
		}
		return nil
	case err != nil:
		return fmt.Errorf("signal process group %d: %w", inst.pid, err)
	}
	return nil
}

// Signal implements target.Signaler: it sends the signal named ("SIGHUP", "HUP", a number)
// to the instance's process group, with the same guard against reused PIDs as Stop. When
// nothing of the instance runs, it is ErrNotFound.
func (t *Target) Signal(_ context.Context, h target.Handle, name string) error {
	sig, err := parseSignal(name)
	if err != nil {
		return fmt.Errorf("signal %s: %w", h, err)
	}
	inst, err := t.instance(h)
	if err != nil {
		return fmt.Errorf("signal %s: %w", h, err)
	}
	if _, exited := inst.exitStatus(); exited && !t.groupRuns(inst) {
		return fmt.Errorf("signal %s: instance has exited: %w", h, target.ErrNotFound)
	}
	if err := t.signal(inst, sig); err != nil {
		return fmt.Errorf("signal %s: %w", h, err)
	}
	return nil
}
