package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

// logLine is line i of service api.
func logLine(i int, text string) api.LogLine {
	return api.LogLine{Service: "api", Time: started.Add(time.Duration(i) * time.Second), Stream: "stdout", Text: text}
}

// emitting emits lines, then returns err.
func emitting(err error, lines ...api.LogLine) func(context.Context, api.LogsRequest, func(api.LogLine) error) error {
	return func(_ context.Context, _ api.LogsRequest, emit func(api.LogLine) error) error {
		for _, l := range lines {
			if err := emit(l); err != nil {
				return err
			}
		}
		return err
	}
}

func TestLogs(t *testing.T) {
	tests := []struct {
		name      string
		logs      func(context.Context, api.LogsRequest, func(api.LogLine) error) error
		wantLines []api.LogLine
		wantErr   string
		wantIs    error
	}{
		{
			name:      "lines in order",
			logs:      emitting(nil, logLine(0, "one"), logLine(1, "two")),
			wantLines: []api.LogLine{logLine(0, "one"), logLine(1, "two")},
			wantErr:   "<nil>",
		},
		{
			name:    "no line",
			logs:    emitting(nil),
			wantErr: "<nil>",
		},
		{
			name:    "refused",
			logs:    emitting(&api.Error{Code: api.CodeNotFound, Message: `no service "x"`}),
			wantErr: `logs: no service "x"`,
			wantIs:  api.ErrNotFound,
		},
		{
			name:      "failed after the first line",
			logs:      emitting(&api.Error{Code: api.CodeUnavailable, Message: "the daemon is stopping"}, logLine(0, "one")),
			wantLines: []api.LogLine{logLine(0, "one")},
			wantErr:   "logs: the daemon is stopping",
			wantIs:    api.ErrUnavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, &httpapitest.Backend{LogsFunc: tc.logs})
			var got []api.LogLine
			err := c.Logs(t.Context(), api.LogsRequest{Stack: stack}, func(l api.LogLine) error {
				got = append(got, l)
				return nil
			})
			if diff := cmp.Diff(tc.wantLines, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantErr, errString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("%v: want %v", err, tc.wantIs)
			}
		})
	}
}

func TestLogsCallbackError(t *testing.T) {
	c := serve(t, &httpapitest.Backend{LogsFunc: emitting(nil, logLine(0, "one"), logLine(1, "two"))})
	stop := errors.New("enough")
	n := 0
	err := c.Logs(t.Context(), api.LogsRequest{}, func(api.LogLine) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Logs = %v after %d lines; want fn's own error after 1", err, n)
	}
}

// TestLogsFollow checks that a follower gets lines as they come and that ending ctx ends the
// stream on both sides, with a nil error.
func TestLogsFollow(t *testing.T) {
	ended := make(chan error, 1)
	c := serve(t, &httpapitest.Backend{LogsFunc: func(ctx context.Context, req api.LogsRequest, emit func(api.LogLine) error) error {
		if !req.Follow {
			return errors.New("not following")
		}
		if err := emit(logLine(0, "one")); err != nil {
			return err
		}
		<-ctx.Done()
		ended <- ctx.Err()
		return nil
	}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []api.LogLine
	err := c.Logs(ctx, api.LogsRequest{Follow: true}, func(l api.LogLine) error {
		got = append(got, l)
		cancel() // the user's Ctrl-C, once the first line is there
		return nil
	})
	if err != nil {
		t.Errorf("Logs after ctx ended: %v, want nil", err)
	}
	if diff := cmp.Diff([]api.LogLine{logLine(0, "one")}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the daemon's Logs ended with %v, want its context canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon's Logs still runs 10s after the client went away")
	}
}
