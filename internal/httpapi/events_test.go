package httpapi_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/httpapi/httpapitest"
)

// dialEvents opens the event stream of the daemon on sock.
func dialEvents(t *testing.T, sock string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(t.Context(), "ws://harness"+api.PathEvents, &websocket.DialOptions{HTTPClient: socketClient(sock)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// next reads the next message as JSON text.
func next(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

func write(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

var at = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestEvents(t *testing.T) {
	b := &httpapitest.Backend{Rev: 41}
	b.WatchFunc = func(ctx context.Context, sub api.Subscribe, emit func(uint64, api.ServiceEvent) error) error {
		for i, state := range []string{"starting", "running"} {
			if err := emit(sub.Since+uint64(i)+1, api.ServiceEvent{Stack: "shop", Service: "api", State: state, Health: "none", At: at}); err != nil {
				return err
			}
		}
		if sub.Stacks[0] == "slow" {
			return &api.Error{Code: api.CodeConflict, Message: "watcher fell behind; subscribe again"}
		}
		<-ctx.Done()
		return nil
	}
	sock := filepath.Join(t.TempDir(), api.SocketName)
	httpapitest.Serve(t, sock, b)
	c := dialEvents(t, sock)

	// Not JSON: an error with a null id, and the connection stays usable.
	write(t, c, "not json")
	var m api.Message
	if err := json.Unmarshal([]byte(next(t, c)), &m); err != nil || m.Type != "response" || string(m.ID) != "null" || m.Error == nil || m.Error.Code != api.CodeBadRequest {
		t.Errorf("answer to not json: %+v (%v), want a response with a null id and a bad_request error", m, err)
	}
	write(t, c, `{"type":"request","id":7,"action":"subscribe","params":{"stacks":["shop"]}}`)
	got := []string{next(t, c), next(t, c), next(t, c)}
	want := []string{
		`{"type":"response","id":7,"data":{"revision":41}}`,
		`{"type":"event","event":"service","revision":42,"data":{"stack":"shop","service":"api","state":"starting","health":"none","restarts":0,"at":"2026-11-27T10:00:00Z"}}`,
		`{"type":"event","event":"service","revision":43,"data":{"stack":"shop","service":"api","state":"running","health":"none","restarts":0,"at":"2026-11-27T10:00:00Z"}}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subscribe (-want +got):\n%s", diff)
	}

	// Resume from a revision; a subscription that cannot go on ends with its id and the error.
	write(t, c, `{"type":"request","id":"again","action":"subscribe","params":{"since":3,"stacks":["slow"]}}`)
	got = []string{next(t, c), next(t, c), next(t, c), next(t, c)}
	want = []string{
		`{"type":"response","id":"again","data":{"revision":41}}`,
		`{"type":"event","event":"service","revision":4,"data":{"stack":"shop","service":"api","state":"starting","health":"none","restarts":0,"at":"2026-11-27T10:00:00Z"}}`,
		`{"type":"event","event":"service","revision":5,"data":{"stack":"shop","service":"api","state":"running","health":"none","restarts":0,"at":"2026-11-27T10:00:00Z"}}`,
		`{"type":"response","id":"again","error":{"code":"conflict","message":"watcher fell behind; subscribe again"}}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resume (-want +got):\n%s", diff)
	}
	write(t, c, `{"type":"request","id":1,"action":"dance"}`)
	if err := json.Unmarshal([]byte(next(t, c)), &m); err != nil || m.Error == nil || m.Error.Code != api.CodeBadRequest || string(m.ID) != "1" {
		t.Errorf("unknown action: %+v (%v), want a bad_request error with id 1", m, err)
	}
}
