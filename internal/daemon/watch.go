package daemon

import (
	"context"
	"errors"
	"slices"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/registry"
)

// Revision implements httpapi.Backend.
func (d *daemon) Revision() uint64 { return d.reg.Revision() }

// Watch implements httpapi.Backend over the registry's event log.
func (d *daemon) Watch(ctx context.Context, sub api.Subscribe, emit func(uint64, api.ServiceEvent) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := d.reg.Watch(ctx, sub.Since)
	if err != nil {
		return watchError(err)
	}
	for ev := range w.Events() {
		rec := ev.Record
		if len(sub.Stacks) > 0 && !slices.Contains(sub.Stacks, rec.Key.Stack) ||
			len(sub.Services) > 0 && !slices.Contains(sub.Services, rec.Key.Service) {
			continue
		}
		if err := emit(ev.Revision, serviceEvent(ev)); err != nil {
			cancel()
			for range w.Events() { // let the watcher end
			}
			return err
		}
	}
	return watchError(w.Err())
}

// watchError tells a subscriber it must subscribe again (CodeConflict) when it fell behind or
// asked for what is no longer kept.
func watchError(err error) error {
	if errors.Is(err, registry.ErrSlow) || errors.Is(err, registry.ErrCompacted) || errors.Is(err, registry.ErrFutureRevision) {
		return &api.Error{Code: api.CodeConflict, Message: err.Error() + "; subscribe again"}
	}
	return err
}

func serviceEvent(ev registry.Event) api.ServiceEvent {
	rec := ev.Record
	out := api.ServiceEvent{
		Stack: rec.Key.Stack, Service: rec.Key.Service, State: string(rec.State), Health: string(rec.Health),
		Restarts: rec.Restarts, Message: rec.Message, At: ev.At, Removed: ev.Type == registry.EventDelete,
	}
	if rec.State.Active() {
		out.PID = pidOf(rec.Handle)
	}
	if out.State == "" {
		out.State = string(lifecycle.Stopped)
	}
	return out
}
