package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

func TestEvents(t *testing.T) {
	b := &httpapitest.Backend{Rev: 9}
	b.WatchFunc = func(ctx context.Context, sub api.Subscribe, emit func(uint64, api.ServiceEvent) error) error {
		for _, st := range []string{"starting", "running"} {
			if err := emit(sub.Since+1, api.ServiceEvent{Stack: sub.Stacks[0], Service: "api", State: st}); err != nil {
				return err
			}
		}
		return &api.Error{Code: api.CodeConflict, Message: "fell behind; subscribe again"}
	}
	dir := t.TempDir()
	httpapitest.Serve(t, filepath.Join(dir, api.SocketName), b)
	c := client.New(dir)
	var got []string
	var from uint64
	err := c.Events(t.Context(), api.Subscribe{Stacks: []string{"shop"}}, func(rev uint64) { from = rev }, func(rev uint64, ev api.ServiceEvent) error {
		got = append(got, ev.Stack+"/"+ev.Service+" "+ev.State)
		return nil
	})
	if !errors.Is(err, api.ErrConflict) {
		t.Errorf("end of the stream: %v, want the daemon's conflict error", err)
	}
	if diff := cmp.Diff([]string{"shop/api starting", "shop/api running"}, got); diff != "" || from != 9 {
		t.Errorf("events from %d (-want +got):\n%s", from, diff)
	}

	// fn's error ends it, as it is; so does ctx, with nil.
	stop := errors.New("enough")
	if err := c.Events(t.Context(), api.Subscribe{Stacks: []string{"shop"}}, nil, func(uint64, api.ServiceEvent) error { return stop }); err != stop {
		t.Errorf("fn's error: got %v", err)
	}
	b.WatchFunc = nil // nothing comes
	ctx, cancel := context.WithCancel(t.Context())
	if err := c.Events(ctx, api.Subscribe{}, func(uint64) { cancel() }, nil); err != nil {
		t.Errorf("cancelled: %v, want nil", err)
	}
	if _, err := client.New(t.TempDir()).Daemon(t.Context()); !errors.Is(err, client.ErrUnreachable) {
		t.Fatal(err)
	}
	if err := client.New(t.TempDir()).Events(t.Context(), api.Subscribe{}, nil, nil); !errors.Is(err, client.ErrUnreachable) {
		t.Errorf("no daemon: %v, want ErrUnreachable", err)
	}
}
