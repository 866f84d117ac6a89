package process

import (
	"context"
	"fmt"

	"github.com/graph-network-harness/harness/target"
)

// Wait implements target.Target. For a child this Target started, the exit is the real
// status from the kernel, reported once the output is in the log too (or drainDelay
// passed: a grandchild may hold the pipes). For an adopted process, which is not our child,
// the status is unknown: the exit is Code -1 with no Signal.
func (t *Target) Wait(ctx context.Context, h target.Handle) (target.Exit, error) {
	inst, err := t.instance(h)
	if err != nil {
		return target.Exit{}, fmt.Errorf("wait %s: %w", h, err)
	}
	select {
	case <-inst.done:
		return inst.exit, nil
	case <-ctx.Done():
		return target.Exit{}, fmt.Errorf("wait %s: %w", h, ctx.Err())
	case <-t.quit:
		return target.Exit{}, fmt.Errorf("wait %s: %w", h, errClosed)
	}
}

// Inspect implements target.Target. An instance this Target knows (started, or adopted by
// Wait, Stop or Signal) reports its exit until Remove. Any other handle is looked up in
// /proc: it runs when its PID runs with its start time and is no zombie; otherwise it is
// ErrNotFound (a process that exited unseen and a reused PID alike).
func (t *Target) Inspect(_ context.Context, h target.Handle) (target.Status, error) {
	pid, ticks, err := t.parseHandle(h)
	if err != nil {
		return target.Status{}, fmt.Errorf("inspect %s: %w", h, err)
	}
	if inst := t.known(h); inst != nil {
		st := target.Status{PID: inst.pid, StartedAt: inst.startedAt}
		if e, ok := inst.exitStatus(); ok {
			st.Exit = &e
		} else {
			st.Running = true
		}
		return st, nil
	}
	if err := verify(pid, ticks); err != nil {
		return target.Status{}, fmt.Errorf("inspect %s: %w", h, err)
	}
	boot, err := t.bootTime()
	if err != nil {
		return target.Status{}, fmt.Errorf("inspect %s: read boot time: %w", h, err)
	}
	return target.Status{Running: true, PID: pid, StartedAt: startedAt(boot, ticks)}, nil
}

// Remove implements target.Target: it forgets the instance and records its removal in the
// journal (see Options.StateDir). An
// instance that still runs (its leader, or a process left in its group) is an error: stop
// it first. Removing an unknown handle, or twice, succeeds.
func (t *Target) Remove(_ context.Context, h target.Handle) error {
	pid, ticks, err := t.parseHandle(h)
	if err != nil {
		return fmt.Errorf("remove %s: %w", h, err)
	}
	if inst := t.known(h); inst != nil {
		if _, exited := inst.exitStatus(); !exited || t.groupRuns(inst) {
			return fmt.Errorf("remove %s: instance is running: stop it first", h)
		}
		t.mu.Lock()
		if t.instances[h.ID] == inst {
			delete(t.instances, h.ID)
		}
		t.mu.Unlock()
	} else if verify(pid, ticks) == nil {
		return fmt.Errorf("remove %s: instance is running: stop it first", h)
	}
	if t.journal != nil {
		if err := t.journal.remove(h.ID); err != nil {
			return fmt.Errorf("remove %s: %w", h, err)
		}
	}
	return nil
}
