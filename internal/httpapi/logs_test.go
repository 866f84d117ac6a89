package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

const ndjson = "application/x-ndjson"

// lines emits each of texts as a line of service api.
func lines(texts ...string) func(context.Context, api.LogsRequest, func(api.LogLine) error) error {
	return func(_ context.Context, _ api.LogsRequest, emit func(api.LogLine) error) error {
		for i, text := range texts {
			if err := emit(api.LogLine{Service: "api", Time: started.Add(time.Duration(i) * time.Second), Stream: "stdout", Text: text}); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestLogs(t *testing.T) {
	line0 := `{"service":"api","time":"2026-11-27T10:00:00Z","stream":"stdout","text":"one"}` + "\n"
	line1 := `{"service":"api","time":"2026-11-27T10:00:01Z","stream":"stdout","text":"two"}` + "\n"
	tests := []struct {
		name string
		logs func(context.Context, api.LogsRequest, func(api.LogLine) error) error
		want reply
	}{
		{name: "lines", logs: lines("one", "two"), want: reply{200, ndjson, line0 + line1}},
		{name: "no line", logs: lines(), want: reply{200, ndjson, ""}},
		{
			name: "error before the first line is an error response",
			logs: func(context.Context, api.LogsRequest, func(api.LogLine) error) error {
				return &api.Error{Code: api.CodeNotFound, Message: `no service "x"`}
			},
			want: reply{404, jsonType, `{"code":"not_found","message":"no service \"x\""}` + "\n"},
		},
		{
			name: "error after the first line ends the stream",
			logs: func(ctx context.Context, req api.LogsRequest, emit func(api.LogLine) error) error {
				if err := lines("one")(ctx, req, emit); err != nil {
					return err
				}
				return errors.New("read api.log: input/output error")
			},
			want: reply{200, ndjson, line0 + `{"error":{"code":"internal","message":"read api.log: input/output error"}}` + "\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &httpapitest.Backend{LogsFunc: tc.logs}
			got := do(t, serve(t, b), "POST", api.PathLogs, `{"config": "/s.yaml", "services": ["api"], "tail": 2, "since": "2026-11-27T09:00:00Z"}`)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			want := []httpapitest.Call{{Method: "Logs", Request: api.LogsRequest{
				Stack: api.Stack{Config: "/s.yaml"}, Services: []string{"api"}, Tail: 2, Since: started.Add(-time.Hour),
			}}}
			if diff := cmp.Diff(want, b.Calls()); diff != "" {
				t.Errorf("backend calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLogsFollow checks that each line reaches the client as soon as it is emitted, and that
// the Backend's Logs ends when the client goes away.
func TestLogsFollow(t *testing.T) {
	next := make(chan string, 1)
	ended := make(chan error, 1)
	b := &httpapitest.Backend{LogsFunc: func(ctx context.Context, req api.LogsRequest, emit func(api.LogLine) error) error {
		for {
			select {
			case text := <-next:
				if err := emit(api.LogLine{Service: "api", Time: started, Stream: "stdout", Text: text}); err != nil {
					ended <- err
					return err
				}
			case <-ctx.Done():
				ended <- ctx.Err()
				return nil
			}
		}
	}}
	c := serve(t, b)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://harness"+api.PathLogs, strings.NewReader(`{"follow": true}`))
	if err != nil {
		t.Fatal(err)
	}
	next <- "one" // buffered: the status goes with the first line, so Do waits for it
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if diff := cmp.Diff(ndjson, resp.Header.Get("Content-Type")); diff != "" {
		t.Errorf("content type (-want +got):\n%s", diff)
	}
	r := bufio.NewReader(resp.Body)
	for _, text := range []string{"one", "two", "three"} {
		if text != "one" {
			next <- text
		}
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		want := `{"service":"api","time":"2026-11-27T10:00:00Z","stream":"stdout","text":"` + text + `"}` + "\n"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("line (-want +got):\n%s", diff)
		}
	}

	cancel()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Logs ended with %v, want the request's context canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Logs still runs 10s after the client went away")
	}
}
